//! Tarballs of upstream registries, streamed and (in `cache` mode) stored as packages.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use gantry_formats::npm::{normalize_version, tarball_filename, validate_name};
use gantry_formats::Declared;

use super::publish::sha512_hex;
use super::{live_version, FORMAT};
use crate::access::Op;
use crate::api::load_repo;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};

/// `GET /{owner}/{repo}/npm/-/upstream/{upstream}/{package}/{version}`: a tarball an upstream
/// offers. A version cached (or published) here before is served from the repository;
/// otherwise the tarball streams from the upstream, and in `cache` mode is stored on the way
/// as a package of the repository (source `upstream`).
pub(crate) async fn upstream_tarball(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath((owner, repo, upstream_id, package, version)): ApiPath<(
        String,
        String,
        i64,
        String,
        String,
    )>,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
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
    if let Some(token) = caller
        .token()
        .filter(|t| t.kind == crate::auth::ENTITLEMENT)
    {
        if method != Method::HEAD && !app.db.consume_download(token.id).await? {
            return Err(caller.deny(
                AppError::Forbidden(format!(
                    "this entitlement token has used its {} downloads",
                    token.max_downloads.unwrap_or(0)
                )),
                Some(&repo.namespace),
            ));
        }
    }
    let (remote, _) = crate::upstream::npm::packument(&app, &upstream, &package)
        .await
        .map_err(|e| AppError::BadGateway(format!("upstream {} failed: {e}", upstream.name)))?;
    let doc = remote.versions.get(&version).ok_or_else(missing)?;
    let url = doc["dist"]["tarball"]
        .as_str()
        .ok_or_else(missing)?
        .to_owned();
    let expected = crate::upstream::Expected {
        sha256: None,
        sha512: doc["dist"]["integrity"].as_str().and_then(sha512_hex),
        sha1: doc["dist"]["shasum"].as_str().map(str::to_ascii_lowercase),
    };
    app.webhook_deny
        .check(&url)
        .await
        .map_err(|e| AppError::BadGateway(format!("upstream tarball url: {e}")))?;
    let response = crate::upstream::python::request(&app, &upstream, &url)
        .send()
        .await
        .map_err(|e| {
            app.metrics.upstream_failure(&upstream.name);
            AppError::BadGateway(format!("upstream {} failed: {e}", upstream.name))
        })?;
    if !response.status().is_success() {
        app.metrics.upstream_failure(&upstream.name);
        return Err(AppError::BadGateway(format!(
            "upstream {} answered HTTP {} for {package}@{version}",
            upstream.name,
            response.status()
        )));
    }
    let mut out = HeaderMap::new();
    out.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(length) = response.content_length() {
        out.insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    if method == Method::HEAD {
        return Ok((StatusCode::OK, out).into_response());
    }
    let upstream_bytes = response.bytes_stream();
    if upstream.mode != "cache" {
        let metrics_app = Arc::clone(&app);
        let body = upstream_bytes.map(move |chunk| {
            if let Ok(b) = &chunk {
                metrics_app.metrics.add_sent(b.len() as u64);
            }
            chunk
        });
        return Ok((StatusCode::OK, out, Body::from_stream(body)).into_response());
    }
    let body = crate::upstream::tee_into_cache(
        app,
        repo,
        FORMAT,
        upstream.name.clone(),
        Declared {
            name: Some(package.clone()),
            version: Some(version.clone()),
            filename: tarball_filename(&package, &version),
            ..Declared::default()
        },
        expected,
        upstream_bytes,
    );
    Ok((StatusCode::OK, out, Body::from_stream(body)).into_response())
}
