//! Upstream Maven repositories: what a repository does not hold is asked of its Maven
//! upstreams in priority order, through the toolkit's client (outbound rules, pinned
//! address, credentials only to the upstream's origin). Metadata documents and checksum
//! sidecars are kept for the upstream's `index_ttl_seconds` and served stale while it is
//! down. Files are streamed through in `proxy` mode; in `cache` mode they are stored in the
//! blob store on first download (release and timestamped SNAPSHOT files never change) and
//! served from there afterwards, also while the upstream is down.

use std::sync::Arc;

use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use gantry_db::{RepoRow, UpstreamRow};
use gantry_formats::Declared;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::pure::path::{RepoPath, Target};
use crate::pure::ID;
use crate::queries::MavenQueries;

/// Largest metadata document or sidecar read from an upstream.
const MAX_DOCUMENT: usize = 4 * 1024 * 1024;

/// The upstream's answer for `raw` (a path below `/maven/`), or 404.
pub(crate) async fn fetch(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    repo: &RepoRow,
    raw: &str,
    parsed: &RepoPath,
) -> AppResult<Response> {
    let upstreams = gantry_protocol::caches::upstreams(app, repo.id, ID).await?;
    let not_found = || crate::routes::not_found(repo, raw);
    if upstreams.is_empty() {
        return Err(not_found());
    }
    let local_name = match &parsed.target {
        Target::File(f) => Some(f.coordinates.name()),
        Target::VersionMetadata { coordinates, .. } => Some(coordinates.name()),
        Target::Metadata { dirs } => Target::artifact_level(dirs).map(|c| c.name()),
    };
    let held_locally = match &local_name {
        Some(name) if upstreams.iter().any(|u| u.local_names_only != 0) => {
            !app.db.maven_versions(repo.id, name).await?.is_empty()
        }
        _ => false,
    };
    let is_document = parsed.checksum.is_some() || !matches!(parsed.target, Target::File(_));
    for upstream in upstreams.iter() {
        if upstream.local_names_only != 0 && held_locally {
            continue;
        }
        let url = format!("{}/{raw}", upstream.url.trim_end_matches('/'));
        let found = if is_document {
            document(app, upstream, raw, &url)
                .await?
                .map(|body| text(method, body))
        } else if upstream.mode == "cache" {
            cached_file(app, caller, method, repo, upstream, raw, &url).await?
        } else {
            Some(proxied_file(app, caller, method, repo, upstream, raw, url).await?)
        };
        if let Some(response) = found {
            return Ok(response);
        }
    }
    Err(not_found())
}

fn text(method: &Method, body: String) -> Response {
    let ty = if body.trim_start().starts_with('<') {
        "text/xml"
    } else {
        "text/plain"
    };
    let length = body.len() as u64;
    let response = if method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    typed(response, ty, length)
}

/// `response` with its content type and length.
fn typed(mut response: Response, ty: &'static str, length: u64) -> Response {
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ty));
    h.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// A small document: fresh from the cache, fetched, or stale from the cache when the upstream
/// fails. `None` when the upstream has no such document.
async fn document(
    app: &App,
    upstream: &UpstreamRow,
    raw: &str,
    url: &str,
) -> AppResult<Option<String>> {
    let key = format!("maven:{raw}");
    let cached = app.db.upstream_cache_get(upstream.id, &key).await?;
    if let Some((body, fetched_at)) = &cached {
        let age = gantry_core::time::now_millis() - fetched_at;
        if age < upstream.index_ttl_seconds.saturating_mul(1000) {
            return Ok(Some(body.clone()));
        }
    }
    let fetched =
        gantry_protocol::upstream::fetch_document(app, upstream, url, "*/*", MAX_DOCUMENT).await;
    match fetched {
        Ok(Some(doc)) => {
            let body = String::from_utf8(doc.body)
                .map_err(|_| AppError::BadGateway(format!("{url} is not UTF-8 text")))?;
            app.db.upstream_cache_put(upstream.id, &key, &body).await?;
            Ok(Some(body))
        }
        Ok(None) => Ok(None),
        Err(error) => {
            app.metrics.upstream_failure(&upstream.name);
            tracing::warn!(upstream = %upstream.name, %error, stale = cached.is_some(), "Maven upstream document fetch failed");
            match cached {
                Some((body, _)) => Ok(Some(body)),
                None => Err(AppError::BadGateway(format!(
                    "upstream {} failed: {error}",
                    upstream.name
                ))),
            }
        }
    }
}

/// Streams a file through without keeping it.
async fn proxied_file(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    repo: &RepoRow,
    upstream: &UpstreamRow,
    raw: &str,
    url: String,
) -> AppResult<Response> {
    let file = gantry_protocol::upstream::RemoteFile {
        format: ID,
        url,
        what: raw.to_owned(),
        content_type: "application/octet-stream",
        declared: Declared::default(),
        expected: gantry_protocol::upstream::Expected::default(),
    };
    // This path never caches: cache mode is handled by `cached_file`.
    let mut proxy = upstream.clone();
    proxy.spec.mode = "proxy".into();
    gantry_protocol::upstream::serve_file(
        Arc::clone(app),
        caller,
        repo.clone(),
        &proxy,
        method,
        file,
    )
    .await
}

/// A file kept in the blob store by its path at the upstream; fetched and stored first when
/// missing. `None` when the upstream has no such file.
async fn cached_file(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    repo: &RepoRow,
    upstream: &UpstreamRow,
    raw: &str,
    url: &str,
) -> AppResult<Option<Response>> {
    let key = format!("maven-file:{raw}");
    let known = app.db.upstream_cache_get(upstream.id, &key).await?;
    let sha256 = match known {
        Some((sha256, _)) if app.blobs.exists(&sha256).await.unwrap_or(false) => sha256,
        _ => {
            let response = gantry_protocol::upstream::request(app, upstream, url)
                .await
                .map_err(|e| AppError::BadGateway(format!("upstream file url: {e}")))?
                .send()
                .await
                .map_err(|e| {
                    app.metrics.upstream_failure(&upstream.name);
                    AppError::BadGateway(format!("upstream {} failed: {e}", upstream.name))
                })?;
            if response.status() == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !response.status().is_success() {
                app.metrics.upstream_failure(&upstream.name);
                return Err(AppError::BadGateway(format!(
                    "upstream {} answered HTTP {} for {raw}",
                    upstream.name,
                    response.status()
                )));
            }
            let digests = app
                .blobs
                .put_stream(response.bytes_stream(), app.config.max_upload_size)
                .await?;
            app.db
                .upstream_cache_put(upstream.id, &key, &digests.sha256)
                .await?;
            digests.sha256
        }
    };
    if method != Method::HEAD {
        gantry_protocol::serve::charge_download(app, caller, &repo.namespace).await?;
    }
    let reader = app.blobs.get(&sha256, None).await?;
    let response = if method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        let metrics = Arc::clone(app);
        let body = reader.stream.map(move |chunk| {
            if let Ok(b) = &chunk {
                metrics.metrics.add_sent(b.len() as u64);
            }
            chunk
        });
        (StatusCode::OK, axum::body::Body::from_stream(body)).into_response()
    };
    Ok(Some(typed(
        response,
        "application/octet-stream",
        reader.total_size,
    )))
}
