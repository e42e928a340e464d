//! Streamed uploads through the REST API.

use axum::body::Body;
use axum::extract::RawQuery;
use axum::http::header::{CONTENT_LENGTH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use gantry_core::Package;
use gantry_formats::Declared;
use serde::Deserialize;
use utoipa::IntoParams;

use super::op;
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError, AppResult, ErrorBody};
use crate::ingest::{ingest, Upload};
use crate::render::{self, BaseUrl};
use gantry_protocol::error::Closing;
use gantry_protocol::extract::UploadTo;

const MAX_TAGS: usize = 32;
const MAX_TAG_LEN: usize = 64;

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct UploadParams {
    /// Package name (required for raw; other formats read it from the artifact).
    pub name: Option<String>,
    /// Package version (required for raw).
    pub version: Option<String>,
    /// The file's name.
    pub filename: String,
    /// Replace a package with the same identity instead of failing with 409.
    #[serde(default)]
    pub republish: bool,
    /// Comma-separated tags.
    pub tags: Option<String>,
    /// Expected checksums (hex); a mismatch fails the package's sync with the reason.
    pub checksum_md5: Option<String>,
    pub checksum_sha1: Option<String>,
    pub checksum_sha256: Option<String>,
    pub checksum_sha512: Option<String>,
}

pub(crate) fn parse_tags(text: Option<&str>) -> AppResult<Vec<String>> {
    let tags: Vec<String> = text
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if tags.len() > MAX_TAGS {
        return Err(AppError::BadRequest(format!("at most {MAX_TAGS} tags")));
    }
    if let Some(bad) = tags.iter().find(|t| {
        t.len() > MAX_TAG_LEN
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    }) {
        return Err(AppError::BadRequest(format!(
            "tag '{bad}' must be at most {MAX_TAG_LEN} letters, digits, '-', '_', '.' or ':'"
        )));
    }
    Ok(tags)
}

/// The query parameters the format reads as attributes (`distribution`, `component` for
/// deb), bounded; a parameter given twice is refused rather than one value dropped.
fn declared_attributes(
    names: &[&str],
    query: Option<&str>,
) -> AppResult<std::collections::BTreeMap<String, String>> {
    let mut attributes = std::collections::BTreeMap::new();
    if names.is_empty() {
        return Ok(attributes);
    }
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !names.contains(&key.as_ref()) {
            continue;
        }
        if value.len() > gantry_formats::MAX_ATTRIBUTE_LEN {
            return Err(AppError::BadRequest(format!(
                "{key} is longer than {} bytes",
                gantry_formats::MAX_ATTRIBUTE_LEN
            )));
        }
        if attributes.len() >= gantry_formats::MAX_ATTRIBUTES
            || attributes
                .insert(key.to_string(), value.into_owned())
                .is_some()
        {
            return Err(AppError::BadRequest(format!(
                "{key} is given more than once (list several values separated by commas)"
            )));
        }
    }
    Ok(attributes)
}

/// The `{format}` an upload is for.
#[derive(Deserialize)]
pub(crate) struct FormatParam {
    format: String,
}

/// Uploads one file as a package. The body is the file's raw bytes, streamed. The package is
/// created `awaiting_sync` and processed by a job; poll its status (or let `gantry push` wait).
/// A format may read further query parameters as the upload's attributes (deb:
/// `distribution` and `component`, each a comma-separated list).
#[utoipa::path(post, path = "/api/v1/packages/{owner}/{repo}/upload/{format}", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path),
           ("format" = String, Path, description = "package format, e.g. raw"), UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Package), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn upload(
    base: BaseUrl,
    headers: HeaderMap,
    ApiPath(FormatParam { format }): ApiPath<FormatParam>,
    ApiQuery(params): ApiQuery<UploadParams>,
    RawQuery(raw_query): RawQuery,
    UploadTo { app, caller, repo }: UploadTo<op::Push>,
    body: Body,
) -> Result<(StatusCode, HeaderMap, ApiJson<Package>), Closing> {
    let format_impl = app.formats.get(&format).ok_or_else(|| {
        AppError::BadRequest(format!(
            "unknown format '{format}' (known: {})",
            app.formats.ids().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let upload = Upload {
        declared: Declared {
            name: params.name,
            version: params.version,
            filename: params.filename,
            md5: params.checksum_md5,
            sha1: params.checksum_sha1,
            sha256: params.checksum_sha256,
            sha512: params.checksum_sha512,
            attributes: declared_attributes(format_impl.upload_attributes(), raw_query.as_deref())?,
        },
        republish: params.republish,
        tags: parse_tags(params.tags.as_deref())?,
        content_length: headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()),
        inline: false,
        identical_ok: false,
    };
    let row = ingest(
        &app,
        &caller,
        &repo,
        format_impl,
        upload,
        body.into_data_stream(),
    )
    .await?;
    let package = render::package(&base, &row.package);
    let mut out = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&package.self_url) {
        out.insert(LOCATION, location);
    }
    Ok((StatusCode::CREATED, out, ApiJson(package)))
}
