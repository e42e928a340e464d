//! Serving stored files, the same way in every format: ETag, Range, HEAD, quarantine,
//! entitlement budgets and metrics.

use std::sync::Arc;

use axum::body::Body;
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, LAST_MODIFIED, RANGE,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use gantry_core::{PackageState, SyncStatus};
use gantry_db::{PackageFileRow, PackageRow, RepoRow};

use crate::app::App;
use crate::auth::{Caller, ENTITLEMENT};
use crate::error::{AppError, AppResult};
use crate::range::{self, RangeRequest};

pub use gantry_formats::encode_segment;

/// Where the native protocol of the package's format serves one of its files.
pub fn download_path(package: &PackageRow, filename: &str) -> String {
    let location = gantry_formats::FileLocation {
        namespace: &package.namespace,
        repository: &package.repository_name,
        name: &package.name,
        version: &package.version,
        slug_perm: &package.slug_perm,
        filename,
    };
    match crate::plugin::plugins().formats().get(&package.format) {
        Some(format) => format.download_path(&location),
        None => location.default_path(&package.format),
    }
}

/// Refuses files of packages that may not be downloaded.
pub fn check_downloadable(package: &PackageRow) -> AppResult<()> {
    if package.sync_status != SyncStatus::Completed && package.state() != PackageState::Deleted {
        return Err(AppError::NotFound(format!(
            "package {} is not available yet (sync status: {})",
            package.slug_perm, package.sync_status
        )));
    }
    match package.state() {
        PackageState::Available => Ok(()),
        PackageState::Quarantined => Err(AppError::Forbidden(format!(
            "package {} is quarantined: {}",
            package.slug_perm,
            package
                .status_reason
                .as_deref()
                .unwrap_or("no reason given")
        ))),
        PackageState::Deleted => Err(AppError::NotFound("file not found".into())),
    }
}

/// Counts one served body against an entitlement token's download budget (other callers
/// have none); refused once the budget is spent. Every file body served, local or fetched
/// from an upstream, passes here.
pub async fn charge_download(app: &App, caller: &Caller, namespace: &str) -> AppResult<()> {
    let Some(token) = caller.token().filter(|t| t.kind == ENTITLEMENT) else {
        return Ok(());
    };
    if app.db.consume_download(token.id).await? {
        return Ok(());
    }
    Err(caller.deny(
        AppError::Forbidden(format!(
            "this entitlement token has used its {} downloads",
            token.max_downloads.unwrap_or(0)
        )),
        Some(namespace),
    ))
}

/// Serves a stored file with `ETag` (its sha256), `Content-Length`, single `Range` requests
/// (206/416), conditional `If-None-Match` (304) and `HEAD`, streaming from the blob store.
pub async fn serve_file(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    request_headers: &HeaderMap,
    package: &PackageRow,
    file: &PackageFileRow,
) -> AppResult<Response> {
    check_downloadable(package)?;
    let mut headers = HeaderMap::new();
    let header = |v: &str| HeaderValue::from_str(v).map_err(AppError::internal);
    headers.insert(CONTENT_TYPE, header(&file.content_type)?);
    headers.insert(
        CONTENT_DISPOSITION,
        header(&format!(
            "attachment; filename*=UTF-8''{}",
            encode_segment(&file.filename)
        ))?,
    );
    let modified = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(package.uploaded_at)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    headers.insert(LAST_MODIFIED, header(&modified)?);
    let stored = Stored {
        sha256: &file.sha256,
        size: u64::try_from(file.size).unwrap_or(0),
        etag: format!("\"{}\"", file.sha256),
        namespace: &package.namespace,
    };
    serve_stored(app, caller, method, request_headers, &stored, headers).await
}

/// A stored object to serve: its blob, size, entity tag (quoted) and the namespace whose
/// entitlement budgets a download is charged to.
pub struct Stored<'a> {
    pub sha256: &'a str,
    pub size: u64,
    pub etag: String,
    pub namespace: &'a str,
}

/// Serves a stored object the caller was allowed to read (whatever decides that, e.g.
/// [`check_downloadable`]), with `headers` set by the protocol: `ETag`, `Content-Length`,
/// single `Range` requests (206, or 416 in the REST envelope with `Content-Range`),
/// `If-None-Match` (304) and `HEAD`. Every body is charged to entitlement budgets
/// ([`charge_download`]); small objects come from the hot-blob cache, larger ones stream.
pub async fn serve_stored(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    request_headers: &HeaderMap,
    stored: &Stored<'_>,
    mut headers: HeaderMap,
) -> AppResult<Response> {
    let size = stored.size;
    let header = |v: &str| HeaderValue::from_str(v).map_err(AppError::internal);
    headers.insert(ETAG, header(&stored.etag)?);
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let not_modified = request_headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == stored.etag || t.trim() == "*")
        });
    if not_modified {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let wanted = range::parse(
        request_headers.get(RANGE).and_then(|v| v.to_str().ok()),
        size,
    );
    let (status, blob_range) = match wanted {
        RangeRequest::Full => (StatusCode::OK, None),
        RangeRequest::Partial(r) => {
            headers.insert(
                CONTENT_RANGE,
                header(&format!("bytes {}-{}/{size}", r.start, r.end - 1))?,
            );
            (StatusCode::PARTIAL_CONTENT, Some(r))
        }
        RangeRequest::Unsatisfiable => {
            let mut response = AppError::RangeNotSatisfiable(format!(
                "the range is outside the file's {size} bytes"
            ))
            .into_response();
            let out = response.headers_mut();
            out.insert(CONTENT_RANGE, header(&format!("bytes */{size}"))?);
            out.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            return Ok(response);
        }
    };
    let length = blob_range.map_or(size, |r| r.end - r.start);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    if method == Method::HEAD {
        return Ok((status, headers).into_response());
    }
    charge_download(app, caller, stored.namespace).await?;
    if size <= crate::caches::SMALL_BLOB {
        // Small files are answered from memory: a body from `Bytes` costs no file reads and
        // no thread hand-offs (see docs/benchmarks.md). The key is the content digest, so a
        // kept blob is never stale.
        let bytes = small_blob(app, stored.sha256, size).await?;
        let body = match blob_range {
            Some(r) => {
                let (start, end) = (usize::try_from(r.start), usize::try_from(r.end));
                match (start, end) {
                    (Ok(start), Ok(end)) if start <= end && end <= bytes.len() => {
                        bytes.slice(start..end)
                    }
                    _ => return Err(AppError::internal("stored blob is shorter than its row")),
                }
            }
            None => bytes,
        };
        app.metrics.add_sent(body.len() as u64);
        return Ok((status, headers, Body::from(body)).into_response());
    }
    let reader = app.blobs.get(stored.sha256, blob_range).await?;
    let metrics_app = Arc::clone(app);
    let stream = reader.stream.map(move |chunk| {
        if let Ok(bytes) = &chunk {
            metrics_app.metrics.add_sent(bytes.len() as u64);
        }
        chunk
    });
    Ok((status, headers, Body::from_stream(stream)).into_response())
}

/// A small blob's bytes from the hot-blob cache, or read whole and kept.
async fn small_blob(app: &App, sha256: &str, size: u64) -> AppResult<bytes::Bytes> {
    if let Some(bytes) = app.caches.blob(sha256) {
        return Ok(bytes);
    }
    let bytes = app.blobs.read_all(sha256).await?;
    if bytes.len() as u64 != size {
        return Err(AppError::internal(
            "stored blob does not have its recorded size",
        ));
    }
    app.caches.keep_blob(sha256, bytes.clone());
    Ok(bytes)
}

/// `GET`/`HEAD /{owner}/{repo}/{format}/files/{slug}/{filename}`: a file of a package of
/// `format`, by the package's slug: the layout of formats whose clients take file URLs from
/// an index page (register it with [`crate::plugin::RouteSet::slug_files`]). `repo` is
/// authorised for reading; a malformed slug answers as a missing file.
#[allow(clippy::too_many_arguments)]
pub async fn serve_by_slug(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    headers: &HeaderMap,
    format: &str,
    repo: &RepoRow,
    slug: &str,
    filename: &str,
) -> AppResult<Response> {
    let missing = || AppError::NotFound(format!("file {filename} not found in {}", repo.slug()));
    let slug = gantry_core::SlugPerm::parse(slug).ok_or_else(missing)?;
    let package = crate::repo::find_package(app, repo.id, slug.as_str())
        .await?
        .filter(|p| p.format == format)
        .ok_or_else(missing)?;
    let file = package
        .files
        .iter()
        .find(|f| f.filename == filename)
        .ok_or_else(missing)?
        .clone();
    serve_file(app, caller, method, headers, &package, &file).await
}
