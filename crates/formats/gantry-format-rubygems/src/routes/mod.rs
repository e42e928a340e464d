//! The RubyGems protocol at `/{owner}/{repo}/rubygems/`: `gem push` and `gem yank` (the
//! API key is a Gantry token), the compact index (`/versions`, `/info/NAME`, `/names`), the
//! legacy indexes (`specs.4.8.gz`, `latest_specs.4.8.gz`, `prerelease_specs.4.8.gz`,
//! `quick/Marshal.4.8/NAME-VERSION.gemspec.rz`) and `/gems/NAME-VERSION.gem`.
//!
//! Errors are plain text: `gem` prints the body of a refused push or yank, and Bundler the
//! body of a failed fetch, so both show Gantry's own message.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppResult};
use gantry_protocol::extract::{op, Repo};

mod answer;
mod api;
mod files;
mod index;
pub(crate) mod snapshot;

pub(crate) const FORMAT: &str = "rubygems";

pub(crate) fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(answer::TEXT))],
        body,
    )
        .into_response()
}

/// The `{file}` of `/gems/{file}` and `/quick/Marshal.4.8/{file}`.
#[derive(Deserialize)]
pub(crate) struct FilePath {
    file: String,
}

/// The `(name, version, platform)` readings of a `NAME-VERSION[-PLATFORM]`: names may hold
/// `-`, versions may not, so every `-` followed by a digit may start the version.
pub(crate) fn readings(stem: &str) -> Vec<(&str, &str, &str)> {
    stem.match_indices('-')
        .filter(|(i, _)| stem[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|(i, _)| {
            let name = &stem[..i];
            let rest = &stem[i + 1..];
            let (version, platform) = rest.split_once('-').unwrap_or((rest, ""));
            let ok = crate::pure::names::check_name(name).is_ok()
                && crate::pure::names::is_version(version)
                && (platform.is_empty() || crate::pure::names::check_platform(platform).is_ok());
            ok.then_some((name, version, platform))
        })
        .take(8)
        .collect()
}

/// `GET /{owner}/{repo}/rubygems/quick/Marshal.4.8/{file}`.
pub(crate) async fn quick_spec(
    State(app): State<Arc<App>>,
    ApiPath(FilePath { file }): ApiPath<FilePath>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    files::quick_spec(&app, repo.into_row(), &file).await
}

/// `GET`/`HEAD /{owner}/{repo}/rubygems/gems/{file}`.
pub(crate) async fn gem_file(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(FilePath { file }): ApiPath<FilePath>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    files::gem(&app, &caller, &method, &headers, repo.into_row(), &file).await
}

/// RubyGems: `gem push`/`yank`, the compact index, the legacy indexes and downloads.
pub struct Plugin;

impl crate::plugin::FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(crate::pure::RubyGems)
    }

    fn routes(&self) -> crate::plugin::RouteSet {
        const ROOT: &str = "/{owner}/{repo}/rubygems";
        crate::plugin::RouteSet::new()
            .post_upload(&format!("{ROOT}/api/v1/gems"), api::push)
            .delete(&format!("{ROOT}/api/v1/gems/yank"), api::yank)
            .get(&format!("{ROOT}/versions"), index::versions)
            .get(&format!("{ROOT}/info/{{name}}"), index::info)
            .get(&format!("{ROOT}/names"), index::names)
            .get(&format!("{ROOT}/specs.4.8.gz"), index::specs)
            .get(&format!("{ROOT}/latest_specs.4.8.gz"), index::latest_specs)
            .get(
                &format!("{ROOT}/prerelease_specs.4.8.gz"),
                index::prerelease_specs,
            )
            .get(&format!("{ROOT}/quick/Marshal.4.8/{{file}}"), quick_spec)
            .file(&format!("{ROOT}/gems/{{file}}"), gem_file)
    }

    /// `gem` prints the body of a refusal, Bundler the body of a failed fetch.
    fn client_shape(&self) -> Option<gantry_protocol::client_error::ClientShape> {
        Some(gantry_protocol::client_error::ClientShape::PlainText)
    }

    fn has_upstreams(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::readings;

    #[test]
    fn file_stems_are_read_every_way_they_can_be() {
        assert_eq!(readings("rack-3.0.8"), [("rack", "3.0.8", "")]);
        assert_eq!(
            readings("net-http-0.4.1-x86_64-linux"),
            [("net-http", "0.4.1", "x86_64-linux")]
        );
        assert_eq!(readings("a-1-2.0"), [("a", "1", "2.0"), ("a-1", "2.0", "")]);
        assert!(readings("../x-1.0").is_empty());
        assert!(readings("noversion").is_empty());
    }
}
