//! Raw downloads: `/{owner}/{repo}/raw/{name}/{version}/{filename}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use gantry_protocol::extract::{op, Repo};
use serde::Deserialize;

/// A raw file's `{name}`, `{version}` and `{filename}`: free text, matched exactly.
#[derive(Deserialize)]
pub(crate) struct RawFile {
    name: String,
    version: String,
    filename: String,
}

pub(crate) async fn download(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(RawFile {
        name,
        version,
        filename,
    }): ApiPath<RawFile>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let not_found = || {
        AppError::NotFound(format!(
            "raw file {name}/{version}/{filename} not found in {}",
            repo.slug()
        ))
    };
    let package =
        gantry_protocol::repo::find_live_package(&app, repo.id, "raw", &name, &version, &filename)
            .await?
            .ok_or_else(not_found)?;
    let file = package
        .files
        .iter()
        .find(|f| f.filename == filename)
        .ok_or_else(not_found)?;
    super::serve_file(&app, &caller, &method, &headers, &package, file).await
}

/// Raw files: one download route; uploads go through the REST API.
pub struct Plugin;

impl crate::plugin::FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(crate::pure::Raw)
    }

    fn routes(&self) -> crate::plugin::RouteSet {
        crate::plugin::RouteSet::new()
            .file("/{owner}/{repo}/raw/{name}/{version}/{filename}", download)
    }
}
