//! The cargo registry protocols: the sparse index (`config.json` and one file per crate at
//! cargo's prefix paths, with ETag/Last-Modified and 304s) and the web API (`cargo publish`,
//! `cargo yank [--undo]`, `cargo owner --list`, `cargo search`, downloads). Web API errors
//! carry cargo's `{"errors": [{"detail": …}]}` beside the Contract's envelope, so cargo prints
//! the real reason.

use std::collections::HashSet;
use std::sync::Arc;

use crate::pure::{index_path, normalize, parse_version, valid_crate_name};
use crate::queries::CrateVersionRow;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    LAST_MODIFIED,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use gantry_db::RepoRow;
use gantry_formats::Declared;
use serde::Deserialize;
use sha2::Digest;

use crate::access::Op;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, ApiQuery, AppError, AppResult};
use crate::ingest::{ingest_blob, Origin, Upload};
use crate::render::BaseUrl;
use gantry_protocol::extract::{op, Repo, RepoPath};

mod api;
mod index;
mod publish;

pub(crate) use api::{owners, search, unyank, yank};
pub(crate) use index::{build_less, config, index_file2, index_file3};
pub(crate) use publish::{check_spelling, publish};

const FORMAT: &str = "cargo";
/// Largest publish metadata document.
const MAX_PUBLISH_JSON: u32 = 1024 * 1024;
/// Most results of one search.
const MAX_SEARCH: u32 = 100;
/// Rows a search reads at most.
const SEARCH_ROWS: i64 = 10_000;

/// A web API error: the Contract's envelope plus cargo's `errors` list.
fn cargo_error(err: AppError) -> Response {
    let message = if err.code() == "internal" {
        "internal server error".to_owned()
    } else {
        crate::error::bounded_message(err.to_string())
    };
    let body = serde_json::json!({
        "error": { "code": err.code(), "message": message },
        "errors": [ { "detail": message } ],
    })
    .to_string();
    let (mut parts, _) = err.into_response().into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn web(result: AppResult<Response>) -> Response {
    result.unwrap_or_else(cargo_error)
}

fn ok_json(value: &serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        value.to_string(),
    )
        .into_response()
}

/// `GET …/crates/{name}/{version}/download`: a `.crate`, local or through an upstream.
pub(crate) async fn download(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(CrateVersion { name, version }): ApiPath<CrateVersion>,
    repo: Repo<op::Read>,
) -> Response {
    web(download_inner(
        &app,
        &caller,
        &method,
        &headers,
        repo.into_row(),
        &name,
        &version,
    )
    .await)
}

/// The `{name}` and `{version}` of a crate's routes.
#[derive(Deserialize)]
pub(crate) struct CrateVersion {
    name: String,
    version: String,
}

#[allow(clippy::too_many_arguments)]
async fn download_inner(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    headers: &HeaderMap,
    repo: RepoRow,
    name: &str,
    version: &str,
) -> AppResult<Response> {
    let normalized = normalize(name);
    let live =
        gantry_protocol::repo::find_live_package(app, repo.id, FORMAT, &normalized, version, "");
    if let Some(package) = live.await? {
        let file = package
            .files
            .first()
            .cloned()
            .ok_or_else(|| AppError::NotFound(format!("crate {name}@{version} has no file")))?;
        return super::serve_file(app, caller, method, headers, &package, &file).await;
    }
    crate::upstream::download(app, caller, method, repo, name, version).await
}

/// Cargo: the sparse index and the registry web API.
pub struct Plugin;

impl crate::plugin::FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(crate::pure::Cargo)
    }

    fn routes(&self) -> crate::plugin::RouteSet {
        const API: &str = "/{owner}/{repo}/cargo/api/v1/crates";
        crate::plugin::RouteSet::new()
            .get("/{owner}/{repo}/cargo/index/config.json", config)
            .get("/{owner}/{repo}/cargo/index/{a}/{name}", index_file2)
            .get("/{owner}/{repo}/cargo/index/{a}/{b}/{name}", index_file3)
            .put_upload(&format!("{API}/new"), publish)
            .get(API, search)
            .get(&format!("{API}/{{name}}/owners"), owners)
            .delete(&format!("{API}/{{name}}/{{version}}/yank"), yank)
            .put(&format!("{API}/{{name}}/{{version}}/unyank"), unyank)
            .file(&format!("{API}/{{name}}/{{version}}/download"), download)
    }

    /// cargo prints `errors[].detail`.
    fn client_shape(&self) -> Option<crate::client_error::ClientShape> {
        Some(crate::client_error::ClientShape::Cargo)
    }

    fn has_upstreams(&self) -> bool {
        true
    }

    /// One spelling per crate name in a repository, as cargo's own registry keeps it.
    fn before_insert<'a>(
        &'a self,
        app: &'a App,
        repo: &'a RepoRow,
        identity: &'a gantry_formats::Identity,
    ) -> futures::future::BoxFuture<'a, AppResult<()>> {
        Box::pin(check_spelling(app, repo, &identity.name))
    }
}
