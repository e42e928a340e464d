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
use gantry_db::{PackageFileRow, PackageRow};

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
    let etag = format!("\"{}\"", file.sha256);
    let size = u64::try_from(file.size).unwrap_or(0);
    let mut headers = HeaderMap::new();
    let header = |v: &str| HeaderValue::from_str(v).map_err(AppError::internal);
    headers.insert(ETAG, header(&etag)?);
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
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
    let not_modified = request_headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
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
    charge_download(app, caller, &package.namespace).await?;
    let reader = app.blobs.get(&file.sha256, blob_range).await?;
    let metrics_app = Arc::clone(app);
    let stream = reader.stream.map(move |chunk| {
        if let Ok(bytes) = &chunk {
            metrics_app.metrics.add_sent(bytes.len() as u64);
        }
        chunk
    });
    Ok((status, headers, Body::from_stream(stream)).into_response())
}

/// `GET`/`HEAD /{owner}/{repo}/{format}/files/{slug}/{filename}`: a file of a package of
/// `format`, by the package's slug: the layout of formats whose clients take file URLs from
/// an index page (register it with [`crate::plugin::RouteSet::slug_files`]).
#[allow(clippy::too_many_arguments)]
pub async fn serve_by_slug(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    headers: &HeaderMap,
    format: &str,
    owner: &str,
    repo: &str,
    slug: &str,
    filename: &str,
) -> AppResult<Response> {
    let repo = crate::repo::load_repo(app, caller, owner, repo, crate::access::Op::Read).await?;
    let missing = || AppError::NotFound(format!("file {filename} not found in {}", repo.slug()));
    let slug = gantry_core::SlugPerm::parse(slug).ok_or_else(missing)?;
    let package = app
        .db
        .get_package(repo.id, slug.as_str())
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
