//! `GET /{owner}/{repo}/deb/pool/{component}/{prefix}/{name}/{filename}`: a stored `.deb`,
//! served by the toolkit (quarantine, ranges, entitlement budgets).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use gantry_protocol::app::App;
use gantry_protocol::auth::Caller;
use gantry_protocol::error::{ApiPath, AppError, AppResult};
use gantry_protocol::extract::{op, Repo};
use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct PoolPath {
    name: String,
    filename: String,
}

pub(crate) async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(PoolPath { name, filename }): ApiPath<PoolPath>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let not_found = || {
        AppError::NotFound(format!(
            "{} not found in {}",
            gantry_formats::archive::quote(&filename),
            repo.slug()
        ))
    };
    let rows = super::packages(&app, repo.id).await?;
    let row = rows
        .iter()
        .find(|r| r.name == name && r.filename == filename)
        .ok_or_else(not_found)?;
    let package = gantry_protocol::repo::find_live_package(
        &app,
        repo.id,
        "deb",
        &row.name,
        &row.version,
        &row.qualifier,
    )
    .await?
    .ok_or_else(not_found)?;
    let file = package.files.first().ok_or_else(not_found)?;
    gantry_protocol::serve::serve_file(&app, &caller, &method, &headers, &package, file).await
}
