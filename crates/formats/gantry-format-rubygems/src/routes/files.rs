//! `/gems/NAME-VERSION[-PLATFORM].gem` (stored files served by the toolkit: ETag, Range,
//! quarantine, entitlement budgets; else an upstream's, streamed and in cache mode kept) and
//! `quick/Marshal.4.8/….gemspec.rz` (written from the stored specification).

use std::io::Write as _;
use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_db::{PackageRow, RepoRow};

use super::{readings, FORMAT};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::pure::{marshal, qualifier, stored_spec};

fn not_found(repo: &RepoRow, file: &str) -> AppError {
    AppError::NotFound(format!(
        "{} not found in {}",
        crate::archive::quote(file),
        repo.slug()
    ))
}

/// The live package a file stem names, trying each reading of it.
async fn package_of(
    app: &Arc<App>,
    repo: &RepoRow,
    stem: &str,
) -> AppResult<Option<Arc<PackageRow>>> {
    for (name, version, platform) in readings(stem) {
        let found = gantry_protocol::repo::find_live_package(
            app,
            repo.id,
            FORMAT,
            name,
            version,
            qualifier(if platform.is_empty() {
                "ruby"
            } else {
                platform
            }),
        )
        .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

pub(crate) async fn gem(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    headers: &HeaderMap,
    repo: RepoRow,
    file: &str,
) -> AppResult<Response> {
    let Some(stem) = file.strip_suffix(".gem") else {
        return Err(not_found(&repo, file));
    };
    if let Some(package) = package_of(app, &repo, stem).await? {
        let stored = package
            .files
            .first()
            .cloned()
            .ok_or_else(|| not_found(&repo, file))?;
        return gantry_protocol::serve::serve_file(app, caller, method, headers, &package, &stored)
            .await;
    }
    crate::upstream::gem(app, caller, method, repo, stem).await
}

pub(crate) async fn quick_spec(app: &Arc<App>, repo: RepoRow, file: &str) -> AppResult<Response> {
    let Some(stem) = file.strip_suffix(".gemspec.rz") else {
        return Err(not_found(&repo, file));
    };
    let package = package_of(app, &repo, stem)
        .await?
        .ok_or_else(|| not_found(&repo, file))?;
    gantry_protocol::serve::check_downloadable(&package)?;
    let metadata: serde_json::Value = serde_json::from_str(&package.metadata).unwrap_or_default();
    let spec = stored_spec(&metadata).ok_or_else(|| not_found(&repo, file))?;
    let marshalled = marshal::gemspec(&spec)
        .ok_or_else(|| AppError::internal("gemspec past the Marshal bound"))?;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&marshalled).map_err(AppError::internal)?;
    let body = z.finish().map_err(AppError::internal)?;
    Ok((
        StatusCode::OK,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(super::answer::BINARY),
        )],
        body,
    )
        .into_response())
}
