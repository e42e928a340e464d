//! The Python package index protocols: the legacy upload API (`twine upload`), the simple
//! repository API as HTML (PEP 503) and JSON (PEP 691) with hashes, `Requires-Python`,
//! PEP 658/714 metadata files and PEP 592 yanking, and file downloads.

mod simple;
mod upload;

pub(crate) use simple::{index, project};
pub(crate) use upload::upload;

use std::fmt::Write as _;
use std::sync::Arc;

use crate::pure::normalize;
use axum::extract::{Multipart, OriginalUri, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_db::RepoRow;
use gantry_formats::Declared;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use crate::ingest::{ingest, Upload};
use crate::render::BaseUrl;
use gantry_protocol::extract::{op, Repo};
use serde::Deserialize;

const FORMAT: &str = "python";
const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
const HTML_TYPE: &str = "application/vnd.pypi.simple.v1+html";
/// Form fields of an upload other than the file, and their total size.
const MAX_FORM_FIELDS: usize = 256;
const MAX_FORM_BYTES: usize = 1024 * 1024;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether the client prefers the PEP 691 JSON form (by `Accept` q-values, or `?format=`).
fn wants_json(headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    let is_json_type = |t: &str| {
        let t = t.trim().to_ascii_lowercase();
        t == JSON_TYPE || t == "application/vnd.pypi.simple.latest+json"
    };
    if let Some(q) = uri.query() {
        for kv in q.split('&') {
            if let Some(v) = kv.strip_prefix("format=") {
                let decoded = v.replace("%2B", "+").replace("%2b", "+");
                if is_json_type(&decoded) {
                    return true;
                }
            }
        }
    }
    let mut best_json = 0.0_f32;
    let mut best_html = 0.0_f32;
    for (media, q) in gantry_protocol::negotiate::accepted(headers) {
        match media {
            m if is_json_type(m) => best_json = best_json.max(q),
            HTML_TYPE | "text/html" | "*/*" => best_html = best_html.max(q),
            _ => {}
        }
    }
    best_json > 0.0 && best_json >= best_html
}

fn page(json: bool, body: impl Into<axum::body::Body>) -> Response {
    let body: axum::body::Body = body.into();
    let content_type = if json {
        JSON_TYPE
    } else {
        "text/html; charset=utf-8"
    };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (VARY, HeaderValue::from_static("Accept")),
        ],
        body,
    )
        .into_response()
}

fn redirect(to: &str) -> AppResult<Response> {
    let location = HeaderValue::from_str(to).map_err(AppError::internal)?;
    Ok((StatusCode::MOVED_PERMANENTLY, [(LOCATION, location)]).into_response())
}

/// The rest of an upstream file's path: the upstream's id and the file's name.
#[derive(Deserialize)]
pub(crate) struct UpstreamFile {
    upstream: i64,
    filename: String,
}

/// `/{owner}/{repo}/python/upstream/{upstream}/{filename}`: a file an upstream offers. A file
/// cached before is served from the repository. Otherwise it is streamed from the upstream
/// to the client; in `cache` mode it is stored on the way and becomes a package of the
/// repository (source `upstream`), so later downloads — and outages — do not need the
/// upstream.
pub(crate) async fn upstream_file(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(UpstreamFile {
        upstream: upstream_id,
        filename,
    }): ApiPath<UpstreamFile>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let not_found = || AppError::NotFound(format!("file {filename} not found in {}", repo.slug()));
    let upstream = app
        .db
        .get_upstream(upstream_id)
        .await?
        .filter(|u| u.repository_id == repo.id && u.format == FORMAT)
        .ok_or_else(not_found)?;
    let parsed = crate::pure::parse_filename(&filename).map_err(|_| not_found())?;
    let project = normalize(&parsed.name);
    let version = crate::pure::normalize_version(&parsed.version).unwrap_or(parsed.version);
    if let Some(local) = app
        .db
        .find_live_package(repo.id, FORMAT, &project, &version, &filename)
        .await?
    {
        let file = local.files.first().cloned().ok_or_else(not_found)?;
        return super::serve_file(&app, &caller, &method, &headers, &local, &file).await;
    }
    let files = crate::upstream::project_files(&app, &upstream, &project)
        .await
        .map_err(|e| AppError::BadGateway(format!("upstream {} failed: {e}", upstream.name)))?;
    let remote = files
        .into_iter()
        .find(|f| f.filename == filename)
        .ok_or_else(not_found)?;
    let file = gantry_protocol::upstream::RemoteFile {
        format: FORMAT,
        url: remote.url,
        what: filename.clone(),
        content_type: "application/octet-stream",
        declared: Declared {
            filename,
            ..Declared::default()
        },
        expected: gantry_protocol::upstream::Expected {
            sha256: remote.sha256,
            ..Default::default()
        },
    };
    gantry_protocol::upstream::serve_file(app, &caller, repo.into_row(), &upstream, &method, file)
        .await
}

/// Python: the legacy upload API, the simple API and file downloads (local and upstream).
pub struct Plugin;

impl crate::plugin::FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(crate::pure::Python)
    }

    fn routes(&self) -> crate::plugin::RouteSet {
        crate::plugin::RouteSet::new()
            .post_upload("/{owner}/{repo}/python/", upload)
            .post_upload("/{owner}/{repo}/python", upload)
            .get("/{owner}/{repo}/python/simple/", index)
            .get("/{owner}/{repo}/python/simple", index)
            .get("/{owner}/{repo}/python/simple/{project}/", project)
            .get("/{owner}/{repo}/python/simple/{project}", project)
            .slug_files(FORMAT)
            .file(
                "/{owner}/{repo}/python/upstream/{upstream}/{filename}",
                upstream_file,
            )
    }

    /// twine prints the HTTP reason phrase of a refusal.
    fn client_shape(&self) -> Option<crate::client_error::ClientShape> {
        Some(crate::client_error::ClientShape::ReasonPhrase)
    }

    fn has_upstreams(&self) -> bool {
        true
    }
}
