//! `GET /{owner}/{repo}/deb/dists/{dist}/{*path}`: a distribution's generated metadata.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gantry_protocol::app::App;
use gantry_protocol::error::{ApiPath, AppError, AppResult};
use gantry_protocol::extract::{op, Repo};
use serde::Deserialize;

use super::generation::{self, Generation};

#[derive(Deserialize)]
pub(crate) struct DistPath {
    dist: String,
    path: String,
}

fn content_type(path: &str) -> &'static str {
    if path.ends_with(".gz") {
        "application/gzip"
    } else if path.ends_with(".xz") {
        "application/x-xz"
    } else if path.ends_with(".gpg") {
        "application/pgp-signature"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// An index of the current generation or of a kept one by its SHA256 (`…/by-hash/SHA256/…`),
/// with its entity tag.
fn by_hash(kept: &[Arc<Generation>], current: &Generation, path: &str) -> Option<(Bytes, String)> {
    let (_, hash) = path.split_once("/by-hash/SHA256/")?;
    let body = current
        .by_hash
        .get(hash)
        .or_else(|| kept.iter().rev().find_map(|g| g.by_hash.get(hash)))?;
    Some((body.clone(), format!("\"{hash}\"")))
}

pub(crate) async fn get(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    ApiPath(DistPath { dist, path }): ApiPath<DistPath>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let not_found = || {
        AppError::NotFound(format!(
            "dists/{}/{} not found in {}",
            gantry_formats::archive::quote(&dist),
            gantry_formats::archive::quote(&path),
            repo.slug()
        ))
    };
    if crate::pure::control::check_suite_name("distribution", &dist).is_err() {
        return Err(not_found());
    }
    // Not memoized whole: an upstream's packages change on their own clock (its TTL); the
    // local part and the key are memoized inside, the upstreams' held in memory.
    let current = generation::current(&app, &repo, &dist).await?;
    let Some(current) = current.as_deref() else {
        return Err(not_found());
    };
    let (body, etag) = match current.files.get(&path) {
        Some(found) => found.clone(),
        // Only by-hash reads look at the kept generations (a lock and a copy of the list).
        None => by_hash(&generation::kept(repo.id, &dist), current, &path).ok_or_else(not_found)?,
    };
    let mut out = HeaderMap::new();
    out.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(ETAG, value);
    }
    if headers
        .get(IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    Ok((out, body).into_response())
}
