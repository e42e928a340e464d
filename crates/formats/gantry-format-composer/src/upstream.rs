//! Composer upstreams: other Composer v2 repositories (another Gantry, or any server with a
//! `metadata-url` of `/p2/%package%.json`), configured with the URL that serves
//! `packages.json`. Metadata files are kept with the upstream's TTL and served stale while it
//! is down; dists are streamed through, and in `cache` mode stored as packages on the way
//! (checked like any upload, against the `shasum` the metadata promised).

use std::sync::Arc;

use axum::http::Method;
use axum::response::Response;
use gantry_db::{RepoRow, UpstreamRow};
use gantry_formats::Declared;
use serde_json::{Map, Value};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::pure::dist_name;

/// Largest metadata file read from an upstream.
const MAX_DOCUMENT: usize = 32 << 20;
/// Most versions taken from one upstream file.
const MAX_VERSIONS: usize = 20_000;

/// `p2/NAME.json` or `p2/NAME~dev.json` of the upstream.
fn metadata_url(upstream: &UpstreamRow, name: &str, dev: bool) -> String {
    let tail = if dev { "~dev" } else { "" };
    format!(
        "{}/p2/{name}{tail}.json",
        upstream.url.trim_end_matches('/')
    )
}

/// Composer's minified metadata (`"minified": "composer/2.0"`): each version lists only what
/// differs from the one before, `"__unset"` removing a field.
pub(crate) fn expand(versions: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::with_capacity(versions.len());
    let mut previous: Map<String, Value> = Map::new();
    for version in versions {
        let Value::Object(fields) = version else {
            continue;
        };
        for (key, value) in fields {
            if value.as_str() == Some("__unset") {
                previous.remove(&key);
            } else {
                previous.insert(key, value);
            }
        }
        out.push(Value::Object(previous.clone()));
    }
    out
}

/// The versions of `name` in a metadata document, expanded; only well-formed entries (a
/// string `version` and `version_normalized`) are kept.
pub(crate) fn versions_in(body: &str, name: &str) -> Vec<Value> {
    let Ok(doc) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    let minified = doc["minified"].as_str() == Some("composer/2.0");
    let Some(Value::Array(versions)) = doc["packages"].get(name).cloned() else {
        return Vec::new();
    };
    let mut versions: Vec<Value> = versions.into_iter().take(MAX_VERSIONS).collect();
    if minified {
        versions = expand(versions);
    }
    versions
        .into_iter()
        .filter(|v| v["version"].is_string() && v["version_normalized"].is_string())
        .collect()
}

/// The upstream's versions of `name` (the dev ones when `dev`); `None` when it does not know
/// the package.
pub(crate) async fn versions(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    name: &str,
    dev: bool,
) -> Result<Option<Vec<Value>>, String> {
    let url = metadata_url(upstream, name, dev);
    let key = format!("p2{}|{name}", if dev { "~dev" } else { "" });
    let kept = gantry_protocol::upstream::cached_document(app, upstream, &key, || async {
        let fetched = gantry_protocol::upstream::fetch_document(
            app,
            upstream,
            &url,
            "application/json",
            MAX_DOCUMENT,
        )
        .await?;
        match fetched {
            None => Ok("-".to_owned()),
            Some(doc) => String::from_utf8(doc.body)
                .map(|body| format!("+{body}"))
                .map_err(|_| format!("{url} is not UTF-8")),
        }
    })
    .await?;
    Ok(kept.strip_prefix('+').map(|body| versions_in(body, name)))
}

/// Where the upstream serves a version's dist, resolved against the upstream's origin.
fn dist_url(upstream_url: &str, entry: &Value) -> Option<String> {
    let url = entry["dist"]["url"].as_str()?;
    if url.starts_with("http://") || url.starts_with("https://") {
        return Some(url.to_owned());
    }
    let path = url.strip_prefix('/')?;
    let (scheme, rest) = upstream_url.split_once("://")?;
    let host = rest.split('/').next()?;
    Some(format!("{scheme}://{host}/{path}"))
}

/// Streams the upstream's dist of `name` `entry["version"]`; in `cache` mode it becomes a
/// package of `repo` once complete and checked against the metadata's `shasum`.
pub(crate) async fn dist(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    repo: RepoRow,
    upstream: &UpstreamRow,
    name: &str,
    entry: &Value,
) -> AppResult<Response> {
    let version = entry["version"].as_str().unwrap_or_default();
    let url = dist_url(&upstream.url, entry).ok_or_else(|| {
        AppError::BadGateway(format!(
            "upstream {} has no zip dist for {name} {version}",
            upstream.name
        ))
    })?;
    let shasum = entry["dist"]["shasum"]
        .as_str()
        .filter(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    let file = gantry_protocol::upstream::RemoteFile {
        format: "composer",
        url,
        what: format!("{name} {version}"),
        content_type: "application/zip",
        declared: Declared {
            name: Some(name.to_owned()),
            version: Some(version.to_owned()),
            filename: dist_name(name, version),
            ..Declared::default()
        },
        expected: gantry_protocol::upstream::Expected {
            sha1: shasum,
            ..Default::default()
        },
    };
    gantry_protocol::upstream::serve_file(Arc::clone(app), caller, repo, upstream, method, file)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minified_metadata_is_expanded() {
        let body = json!({
            "minified": "composer/2.0",
            "packages": {"acme/x": [
                {"name": "acme/x", "version": "2.0.0", "version_normalized": "2.0.0.0", "require": {"php": ">=8"}},
                {"version": "1.0.0", "version_normalized": "1.0.0.0", "require": "__unset"},
                {"version": 7},
            ]}
        })
        .to_string();
        let versions = versions_in(&body, "acme/x");
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[1]["name"], "acme/x");
        assert!(versions[1].get("require").is_none());
        assert!(versions_in(&body, "acme/y").is_empty());
        assert!(versions_in("not json", "acme/x").is_empty());
    }

    #[test]
    fn relative_dist_urls_resolve_against_the_upstream() {
        let upstream = "http://127.0.0.1:9/up/pkgs/composer";
        let entry = json!({"dist": {"url": "/up/pkgs/composer/dists/a/b/1.zip"}});
        assert_eq!(
            dist_url(upstream, &entry).as_deref(),
            Some("http://127.0.0.1:9/up/pkgs/composer/dists/a/b/1.zip")
        );
        assert_eq!(
            dist_url(upstream, &json!({"dist": {"url": "file:///etc"}})),
            None
        );
    }
}
