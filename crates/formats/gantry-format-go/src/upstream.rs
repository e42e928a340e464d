//! Go upstreams: other module proxies (another Gantry, or any `GOPROXY` server). Lists,
//! `.info`, `.mod` and `@latest` answers are kept with the upstream's TTL and served stale
//! while it is down; zips are streamed through, and in `cache` mode stored as packages on the
//! way (checked like any upload before they become one).

use std::sync::Arc;

use axum::http::Method;
use axum::response::Response;
use gantry_db::{RepoRow, UpstreamRow};
use gantry_formats::Declared;
use gantry_protocol::upstream::TextDocuments;

use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::pure::{escape, zip_name, Version};

/// Lists, `.info`, `.mod` and `@latest` answers, kept with the upstream's TTL (a `go.mod`
/// may be 16 MiB; lists stay far below).
const DOCUMENTS: TextDocuments = TextDocuments {
    accept: "*/*",
    max: 16 << 20,
};
/// Most versions taken from one upstream list.
const MAX_VERSIONS: usize = 100_000;

fn module_url(upstream: &UpstreamRow, module: &str, tail: &str) -> String {
    gantry_protocol::upstream::url_under(upstream, &format!("{}/{tail}", escape(module)))
}

/// The versions the upstream lists for `module`; `None` when it does not know the module.
pub(crate) async fn list(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    module: &str,
) -> Result<Option<Vec<Version>>, String> {
    let url = module_url(upstream, module, "@v/list");
    let Some(body) = DOCUMENTS
        .get(app, upstream, &format!("list|{module}"), &url)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(
        body.lines()
            .filter_map(|line| Version::parse(line.trim()).ok())
            .take(MAX_VERSIONS)
            .collect(),
    ))
}

/// An `.info` answer reduced to what Gantry vouches for: a version in canonical form (the
/// one asked for, when one was) and its time.
fn checked_info(body: &str, wanted: Option<&Version>) -> Option<String> {
    let info: serde_json::Value = serde_json::from_str(body).ok()?;
    let version = Version::parse(info["Version"].as_str()?).ok()?;
    if wanted.is_some_and(|w| w.as_str() != version.as_str()) {
        return None;
    }
    let time = info["Time"].as_str().unwrap_or("0001-01-01T00:00:00Z");
    Some(crate::routes::info_json(version.as_str(), time))
}

/// The upstream's `@latest` for `module`.
pub(crate) async fn latest(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    module: &str,
) -> Result<Option<String>, String> {
    let url = module_url(upstream, module, "@latest");
    let body = DOCUMENTS
        .get(app, upstream, &format!("latest|{module}"), &url)
        .await?;
    Ok(body.and_then(|b| checked_info(&b, None)))
}

/// The upstream's `.info` of `module`@`version`.
pub(crate) async fn info(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    module: &str,
    version: &Version,
) -> Result<Option<String>, String> {
    let body = version_document(app, upstream, module, version, "info").await?;
    Ok(body.and_then(|b| checked_info(&b, Some(version))))
}

/// The upstream's `go.mod` of `module`@`version`.
pub(crate) async fn go_mod(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    module: &str,
    version: &Version,
) -> Result<Option<String>, String> {
    version_document(app, upstream, module, version, "mod").await
}

/// `@v/VERSION.{extension}` of the upstream, kept like every document.
async fn version_document(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    module: &str,
    version: &Version,
    extension: &str,
) -> Result<Option<String>, String> {
    let file = format!("@v/{}.{extension}", escape(version.as_str()));
    let url = module_url(upstream, module, &file);
    let key = format!("{extension}|{module}@{}", version.as_str());
    DOCUMENTS.get(app, upstream, &key, &url).await
}

/// Streams the upstream's zip of `module`@`version`; in `cache` mode it becomes a package
/// of `repo` once complete and checked.
pub(crate) async fn zip(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    repo: RepoRow,
    upstream: &UpstreamRow,
    module: &str,
    version: &Version,
) -> AppResult<Response> {
    let file = gantry_protocol::upstream::RemoteFile {
        format: "go",
        url: module_url(
            upstream,
            module,
            &format!("@v/{}.zip", escape(version.as_str())),
        ),
        what: format!("{module}@{}", version.as_str()),
        content_type: "application/zip",
        declared: Declared {
            name: Some(module.to_owned()),
            version: Some(version.as_str().to_owned()),
            filename: zip_name(version.as_str()),
            ..Declared::default()
        },
        expected: gantry_protocol::upstream::Expected::default(),
    };
    gantry_protocol::upstream::serve_file(Arc::clone(app), caller, repo, upstream, method, file)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_answers_are_reduced_and_checked() {
        let v = Version::parse("v1.0.0").ok();
        assert_eq!(
            checked_info(
                r#"{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z","Origin":{"x":1}}"#,
                v.as_ref()
            ),
            Some(r#"{"Time":"2024-01-01T00:00:00Z","Version":"v1.0.0"}"#.to_owned())
        );
        assert_eq!(checked_info(r#"{"Version":"v1.0.1"}"#, v.as_ref()), None);
        assert_eq!(checked_info(r#"{"Version":"1.0"}"#, None), None);
        assert_eq!(checked_info("not json", None), None);
    }
}
