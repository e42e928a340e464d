//! Native protocol routes, one module per format, and the file-serving logic they share.

pub(crate) mod cargo;
pub(crate) mod npm;
pub(crate) mod python;
pub(crate) mod raw;

use std::sync::Arc;

use axum::body::Body;
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, LAST_MODIFIED, RANGE,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use gantry_core::PackageState;
use gantry_db::{PackageFileRow, PackageRow};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::app::App;
use crate::auth::{Caller, ENTITLEMENT};
use crate::error::{AppError, AppResult};
use crate::range::{self, RangeRequest};

/// Characters left as they are in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'+');

pub(crate) fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Where the native protocol of the package's format serves one of its files.
pub(crate) fn download_path(package: &PackageRow, filename: &str) -> String {
    let (ns, repo) = (&package.namespace, &package.repository_name);
    match package.format.as_str() {
        "raw" => format!(
            "/{ns}/{repo}/raw/{}/{}/{}",
            encode_segment(&package.name),
            encode_segment(&package.version),
            encode_segment(filename)
        ),
        "cargo" => format!(
            "/{ns}/{repo}/cargo/api/v1/crates/{}/{}/download",
            encode_segment(&package.name),
            encode_segment(&package.version)
        ),
        other => format!(
            "/{ns}/{repo}/{other}/files/{}/{}",
            package.slug_perm,
            encode_segment(filename)
        ),
    }
}

/// Every native-protocol route: (method, path template). Kept beside [`routes`] so tests can
/// check that each one is covered by the access matrix.
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("GET", "/{owner}/{repo}/raw/{name}/{version}/{filename}"),
    ("HEAD", "/{owner}/{repo}/raw/{name}/{version}/{filename}"),
    ("POST", "/{owner}/{repo}/python/"),
    ("POST", "/{owner}/{repo}/python"),
    ("GET", "/{owner}/{repo}/python/simple/"),
    ("GET", "/{owner}/{repo}/python/simple"),
    ("GET", "/{owner}/{repo}/python/simple/{project}/"),
    ("GET", "/{owner}/{repo}/python/simple/{project}"),
    ("GET", "/{owner}/{repo}/python/files/{slug}/{filename}"),
    ("HEAD", "/{owner}/{repo}/python/files/{slug}/{filename}"),
    (
        "GET",
        "/{owner}/{repo}/python/upstream/{upstream}/{filename}",
    ),
    (
        "HEAD",
        "/{owner}/{repo}/python/upstream/{upstream}/{filename}",
    ),
    ("GET", "/{owner}/{repo}/cargo/index/config.json"),
    ("GET", "/{owner}/{repo}/cargo/index/{a}/{name}"),
    ("GET", "/{owner}/{repo}/cargo/index/{a}/{b}/{name}"),
    ("PUT", "/{owner}/{repo}/cargo/api/v1/crates/new"),
    ("GET", "/{owner}/{repo}/cargo/api/v1/crates"),
    ("GET", "/{owner}/{repo}/cargo/api/v1/crates/{name}/owners"),
    (
        "DELETE",
        "/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/yank",
    ),
    (
        "PUT",
        "/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/unyank",
    ),
    (
        "GET",
        "/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/download",
    ),
    (
        "HEAD",
        "/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/download",
    ),
    ("GET", "/{owner}/{repo}/npm/-/whoami"),
    ("GET", "/{owner}/{repo}/npm/-/ping"),
    ("GET", "/{owner}/{repo}/npm/-/package/{package}/dist-tags"),
    (
        "PUT",
        "/{owner}/{repo}/npm/-/package/{package}/dist-tags/{tag}",
    ),
    (
        "DELETE",
        "/{owner}/{repo}/npm/-/package/{package}/dist-tags/{tag}",
    ),
    (
        "GET",
        "/{owner}/{repo}/npm/-/upstream/{upstream}/{package}/{version}",
    ),
    (
        "HEAD",
        "/{owner}/{repo}/npm/-/upstream/{upstream}/{package}/{version}",
    ),
    ("GET", "/{owner}/{repo}/npm/files/{slug}/{filename}"),
    ("HEAD", "/{owner}/{repo}/npm/files/{slug}/{filename}"),
    ("GET", "/{owner}/{repo}/npm/{*path}"),
    ("PUT", "/{owner}/{repo}/npm/{*path}"),
    ("DELETE", "/{owner}/{repo}/npm/{*path}"),
];

pub(crate) fn routes() -> Router<Arc<App>> {
    use axum::extract::DefaultBodyLimit;
    use axum::routing::post;
    Router::new()
        .route(
            "/{owner}/{repo}/raw/{name}/{version}/{filename}",
            get(raw::download),
        )
        // Upload bodies are bounded by the configured maximum while they stream, not by the
        // extractor's default limit.
        .route(
            "/{owner}/{repo}/python/",
            post(python::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/{owner}/{repo}/python",
            post(python::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/{owner}/{repo}/python/simple/", get(python::index))
        .route("/{owner}/{repo}/python/simple", get(python::index))
        .route(
            "/{owner}/{repo}/python/simple/{project}/",
            get(python::project),
        )
        .route(
            "/{owner}/{repo}/python/simple/{project}",
            get(python::project),
        )
        .route(
            "/{owner}/{repo}/python/files/{slug}/{filename}",
            get(python::file),
        )
        .route(
            "/{owner}/{repo}/python/upstream/{upstream}/{filename}",
            get(python::upstream_file),
        )
        .merge(cargo_routes())
        .merge(npm_routes())
}

fn cargo_routes() -> Router<Arc<App>> {
    use axum::extract::DefaultBodyLimit;
    use axum::routing::{delete, put};
    Router::new()
        .route(
            "/{owner}/{repo}/cargo/index/config.json",
            get(cargo::config),
        )
        .route(
            "/{owner}/{repo}/cargo/index/{a}/{name}",
            get(cargo::index_file2),
        )
        .route(
            "/{owner}/{repo}/cargo/index/{a}/{b}/{name}",
            get(cargo::index_file3),
        )
        .route(
            "/{owner}/{repo}/cargo/api/v1/crates/new",
            put(cargo::publish).layer(DefaultBodyLimit::disable()),
        )
        .route("/{owner}/{repo}/cargo/api/v1/crates", get(cargo::search))
        .route(
            "/{owner}/{repo}/cargo/api/v1/crates/{name}/owners",
            get(cargo::owners),
        )
        .route(
            "/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/yank",
            delete(cargo::yank),
        )
        .route(
            "/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/unyank",
            put(cargo::unyank),
        )
        .route(
            "/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/download",
            get(cargo::download),
        )
}

fn npm_routes() -> Router<Arc<App>> {
    use axum::extract::DefaultBodyLimit;
    use axum::routing::put;
    Router::new()
        .route("/{owner}/{repo}/npm/-/whoami", get(npm::whoami))
        .route("/{owner}/{repo}/npm/-/ping", get(npm::ping))
        .route(
            "/{owner}/{repo}/npm/-/package/{package}/dist-tags",
            get(npm::dist_tags),
        )
        .route(
            "/{owner}/{repo}/npm/-/package/{package}/dist-tags/{tag}",
            put(npm::dist_tag_put).delete(npm::dist_tag_delete),
        )
        .route(
            "/{owner}/{repo}/npm/-/upstream/{upstream}/{package}/{version}",
            get(npm::upstream_tarball),
        )
        .route(
            "/{owner}/{repo}/npm/files/{slug}/{filename}",
            get(npm::file),
        )
        // Publish bodies are bounded while they stream (tarball by the configured maximum,
        // the rest of the document by its own bound), not by the extractor's default limit.
        .route(
            "/{owner}/{repo}/npm/{*path}",
            get(npm::get)
                .put(npm::put)
                .delete(npm::delete)
                .layer(DefaultBodyLimit::disable()),
        )
}

/// Refuses files of packages that may not be downloaded.
pub(crate) fn check_downloadable(package: &PackageRow) -> AppResult<()> {
    if package.sync_status != "completed" && package.state() != PackageState::Deleted {
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

/// Serves a stored file with `ETag` (its sha256), `Content-Length`, single `Range` requests
/// (206/416), conditional `If-None-Match` (304) and `HEAD`, streaming from the blob store.
pub(crate) async fn serve_file(
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
    // Entitlements may carry a download budget; each body served counts against it.
    if let Some(token) = caller.token().filter(|t| t.kind == ENTITLEMENT) {
        if !app.db.consume_download(token.id).await? {
            return Err(caller.deny(
                AppError::Forbidden(format!(
                    "this entitlement token has used its {} downloads",
                    token.max_downloads.unwrap_or(0)
                )),
                Some(&package.namespace),
            ));
        }
    }
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
