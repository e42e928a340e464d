//! Upstream Maven repositories: what a repository does not hold is asked of its Maven
//! upstreams in priority order, through the toolkit's client (outbound rules, pinned
//! address, credentials only to the upstream's origin). Metadata documents and checksum
//! sidecars are kept for the upstream's `index_ttl_seconds` (in memory, and in the index
//! cache for the other replicas and for outages) and served stale while it is down. Files
//! are streamed through in `proxy` mode; in `cache` mode each version becomes a package of
//! the repository on its first download ([`cache`]), served from there afterwards.

mod cache;

use std::sync::Arc;

use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_db::{RepoRow, UpstreamRow};
use gantry_formats::Declared;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::pure::path::{RepoPath, Target};
use crate::pure::ID;

/// Largest metadata document or sidecar read from an upstream.
const MAX_DOCUMENT: usize = 4 * 1024 * 1024;

/// A request the repository could not answer itself.
pub(crate) struct Miss<'a> {
    pub(crate) method: &'a Method,
    pub(crate) headers: &'a HeaderMap,
    /// The path below `/maven/` as asked.
    pub(crate) raw: &'a str,
    pub(crate) parsed: &'a RepoPath,
}

/// The upstreams' answer for a request the repository cannot answer, or 404.
pub(crate) async fn fetch(
    app: &Arc<App>,
    caller: &Caller,
    repo: &RepoRow,
    miss: Miss<'_>,
) -> AppResult<Response> {
    let upstreams = gantry_protocol::caches::upstreams(app, repo.id, ID).await?;
    let not_found = || crate::routes::not_found(repo, miss.raw);
    if upstreams.is_empty() {
        return Err(not_found());
    }
    let parsed = miss.parsed;
    let local_name = match &parsed.target {
        Target::File(f) => Some(f.coordinates.name()),
        Target::VersionMetadata { coordinates, .. } => Some(coordinates.name()),
        Target::Metadata { dirs } => Target::artifact_level(dirs).map(|c| c.name()),
    };
    let held_locally = match &local_name {
        Some(name) if upstreams.iter().any(|u| u.local_names_only != 0) => {
            !crate::routes::versions(app, repo, name).await?.is_empty()
        }
        _ => false,
    };
    let is_document = parsed.checksum.is_some() || !matches!(parsed.target, Target::File(_));
    for upstream in upstreams.iter() {
        if upstream.local_names_only != 0 && held_locally {
            continue;
        }
        let url = format!("{}/{}", upstream.url.trim_end_matches('/'), miss.raw);
        let found = match &parsed.target {
            _ if is_document => document(app, upstream, miss.raw, &url)
                .await?
                .map(|body| text(miss.method, body)),
            Target::File(file) if upstream.mode == "cache" && cache::cacheable(file) => {
                cache::file(app, caller, repo, upstream, file, &miss).await?
            }
            _ => Some(proxied_file(app, caller, repo, upstream, &miss, url).await?),
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
    let mut response = if method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ty));
    h.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// An upstream's document as kept: its body, or `None` for one the upstream does not have;
/// and when it was fetched.
type Kept = (Option<String>, i64);

/// A small document (metadata, a checksum sidecar): from memory while younger than the
/// upstream's TTL (no database work), else through the toolkit's index cache (fetched when
/// stale, served stale while the upstream fails). `None` when the upstream has no such
/// document; that answer is kept for the TTL too.
async fn document(
    app: &App,
    upstream: &UpstreamRow,
    raw: &str,
    url: &str,
) -> AppResult<Option<String>> {
    let key = format!("maven|{raw}");
    let memo_key = format!("maven-upstream|{}|{key}", upstream.id);
    let ttl = upstream.index_ttl_seconds.saturating_mul(1000);
    if let Some(kept) = app.caches.memo::<Kept>(&memo_key) {
        if gantry_core::time::now_millis() - kept.1 < ttl {
            return Ok(kept.0.clone());
        }
    }
    let epoch = app.caches.epoch();
    let (doc, fetched_at) =
        gantry_protocol::upstream::cached_text(app, upstream, &key, url, "*/*", MAX_DOCUMENT)
            .await
            .map_err(|e| AppError::BadGateway(format!("upstream {} failed: {e}", upstream.name)))?;
    let kept: Kept = (doc.clone(), fetched_at);
    app.caches.keep_memo(epoch, memo_key, Arc::new(kept));
    Ok(doc)
}

/// Streams a file through without keeping it.
async fn proxied_file(
    app: &Arc<App>,
    caller: &Caller,
    repo: &RepoRow,
    upstream: &UpstreamRow,
    miss: &Miss<'_>,
    url: String,
) -> AppResult<Response> {
    let file = gantry_protocol::upstream::RemoteFile {
        format: ID,
        url,
        what: miss.raw.to_owned(),
        content_type: "application/octet-stream",
        declared: Declared::default(),
        expected: gantry_protocol::upstream::Expected::default(),
    };
    // This path never caches: cache mode is handled by `cache::file`.
    let mut proxy = upstream.clone();
    proxy.spec.mode = "proxy".into();
    gantry_protocol::upstream::serve_file(
        Arc::clone(app),
        caller,
        repo.clone(),
        &proxy,
        miss.method,
        file,
    )
    .await
}
