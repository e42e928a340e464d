//! `GET`/`HEAD`: a package's files (through the toolkit's `serve_file`: ETag, Range,
//! quarantine, entitlement budgets), their checksum sidecars (from the digests computed at
//! upload), and `maven-metadata.xml`; what the repository does not hold is asked of its
//! upstreams.

use std::sync::Arc;

use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gantry_db::{PackageFileRow, PackageRow, RepoRow};
use sha2::Digest as _;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::pure::path::{ArtifactFile, Checksum, RepoPath, Target};
use crate::pure::ID;

pub(super) async fn get(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    headers: &HeaderMap,
    repo: &RepoRow,
    raw: &str,
    parsed: RepoPath,
) -> AppResult<Response> {
    match &parsed.target {
        Target::File(file) => {
            if let Some((package, index)) = find_file(app, repo, file).await? {
                let row = &package.files[index];
                return match parsed.checksum {
                    None => {
                        gantry_protocol::serve::serve_file(
                            app, caller, method, headers, &package, row,
                        )
                        .await
                    }
                    Some(algorithm) => {
                        gantry_protocol::serve::check_downloadable(&package)?;
                        Ok(text(
                            method,
                            file_digest(row, algorithm).as_bytes().to_vec(),
                        ))
                    }
                };
            }
        }
        target => {
            if let Some(doc) = super::metadata::document(app, repo, target).await? {
                return Ok(document(method, headers, &doc, parsed.checksum));
            }
        }
    }
    let miss = crate::upstream::Miss {
        method,
        headers,
        raw,
        parsed: &parsed,
    };
    crate::upstream::fetch(app, caller, repo, miss).await
}

/// The live package holding `file`, and the file's index in it.
pub(crate) async fn find_file(
    app: &App,
    repo: &RepoRow,
    file: &ArtifactFile,
) -> AppResult<Option<(Arc<PackageRow>, usize)>> {
    if file.is_snapshot() && file.build.is_none() {
        // Only timestamped names are stored; Maven asks for those.
        return Ok(None);
    }
    let qualifier = file.build.as_deref().unwrap_or("");
    let Some(package) = gantry_protocol::repo::find_live_package(
        app,
        repo.id,
        ID,
        &file.coordinates.name(),
        &file.version,
        qualifier,
    )
    .await?
    else {
        return Ok(None);
    };
    let index = package
        .files
        .iter()
        .position(|f| f.filename == file.filename);
    Ok(index.map(|i| (package, i)))
}

pub(crate) fn file_digest(row: &PackageFileRow, algorithm: Checksum) -> &str {
    match algorithm {
        Checksum::Md5 => &row.md5,
        Checksum::Sha1 => &row.sha1,
        Checksum::Sha256 => &row.sha256,
        Checksum::Sha512 => &row.sha512,
    }
}

/// The hex digest of `bytes`.
pub(crate) fn digest_of(bytes: &[u8], algorithm: Checksum) -> String {
    match algorithm {
        Checksum::Md5 => hex::encode(md5::Md5::digest(bytes)),
        Checksum::Sha1 => hex::encode(sha1::Sha1::digest(bytes)),
        Checksum::Sha256 => hex::encode(sha2::Sha256::digest(bytes)),
        Checksum::Sha512 => hex::encode(sha2::Sha512::digest(bytes)),
    }
}

fn text(method: &Method, body: Vec<u8>) -> Response {
    let length = body.len();
    let mut response = if method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// A metadata document (or its checksum), with an ETag so pollers get 304s.
fn document(
    method: &Method,
    headers: &HeaderMap,
    doc: &Bytes,
    checksum: Option<Checksum>,
) -> Response {
    if let Some(algorithm) = checksum {
        return text(method, digest_of(doc, algorithm).into_bytes());
    }
    let etag = format!("\"{}\"", digest_of(doc, Checksum::Sha1));
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        (StatusCode::OK, doc.clone()).into_response()
    };
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if !matches {
        h.insert(CONTENT_LENGTH, HeaderValue::from(doc.len()));
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, value);
    }
    response
}

/// 404 in the Contract's words.
pub(crate) fn not_found(repo: &RepoRow, raw: &str) -> AppError {
    AppError::NotFound(format!(
        "{} not found in {}",
        crate::archive::quote(raw),
        repo.slug()
    ))
}
