//! Tarballs of upstream registries, streamed and (in `cache` mode) stored as packages.

use std::sync::Arc;

use crate::pure::{normalize_version, tarball_filename, validate_name};
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use gantry_formats::Declared;

use super::publish::sha512_hex;
use super::{live_version, FORMAT};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use gantry_protocol::extract::{op, Repo};
use serde::Deserialize;

/// The rest of an upstream tarball's path: the upstream's id, the package and the version.
#[derive(Deserialize)]
pub(crate) struct UpstreamTarball {
    upstream: i64,
    package: String,
    version: String,
}

/// `GET /{owner}/{repo}/npm/-/upstream/{upstream}/{package}/{version}`: a tarball an upstream
/// offers. A version cached (or published) here before is served from the repository;
/// otherwise the tarball streams from the upstream, and in `cache` mode is stored on the way
/// as a package of the repository (source `upstream`).
pub(crate) async fn upstream_tarball(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(UpstreamTarball {
        upstream: upstream_id,
        package,
        version,
    }): ApiPath<UpstreamTarball>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let missing =
        || AppError::NotFound(format!("{package}@{version} not found in {}", repo.slug()));
    validate_name(&package).map_err(|_| missing())?;
    let version = normalize_version(&version).map_err(|_| missing())?;
    // Local versions win, and a lockfile keeps this URL after the tarball was cached.
    if let Some(local) = live_version(&app, &repo, &package, &version).await? {
        let file = local.files.first().cloned().ok_or_else(missing)?;
        return super::super::serve_file(&app, &caller, &method, &headers, &local, &file).await;
    }
    let upstream = app
        .db
        .get_upstream(upstream_id)
        .await?
        .filter(|u| u.repository_id == repo.id && u.format == FORMAT)
        .ok_or_else(missing)?;
    let (remote, _) = crate::upstream::packument(&app, &upstream, &package)
        .await
        .map_err(|e| AppError::BadGateway(format!("upstream {} failed: {e}", upstream.name)))?;
    let doc = remote.versions.get(&version).ok_or_else(missing)?;
    let url = doc["dist"]["tarball"]
        .as_str()
        .ok_or_else(missing)?
        .to_owned();
    let expected = gantry_protocol::upstream::Expected {
        sha256: None,
        sha512: doc["dist"]["integrity"].as_str().and_then(sha512_hex),
        sha1: doc["dist"]["shasum"].as_str().map(str::to_ascii_lowercase),
    };
    let file = gantry_protocol::upstream::RemoteFile {
        format: FORMAT,
        url,
        what: format!("{package}@{version}"),
        content_type: "application/octet-stream",
        declared: Declared {
            name: Some(package.clone()),
            version: Some(version.clone()),
            filename: tarball_filename(&package, &version),
            ..Declared::default()
        },
        expected,
    };
    gantry_protocol::upstream::serve_file(app, &caller, repo.into_row(), &upstream, &method, file)
        .await
}
