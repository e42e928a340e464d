//! The repository under `/{owner}/{repo}/rpm/`: `repodata/repomd.xml` (with its signature
//! `repomd.xml.asc`) and the documents it names, the repository's public key at `key.asc`,
//! and package files at `files/{slug}/{filename}`. Uploads go through the REST upload
//! (`gantry push rpm OWNER/REPO FILE`).

mod generations;
mod scan;
mod signing;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use gantry_db::RepoRow;
use gantry_protocol::access::Op;
use gantry_protocol::client_error::ClientShape;
use gantry_protocol::extract::RepoPath;
use gantry_protocol::plugin::{ContentScan, FormatPlugin, RouteSet};
use gantry_protocol::upstream::{Expected, RemoteFile};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};

/// A file name under `repodata/`.
#[derive(Deserialize)]
struct RepodataPath {
    filename: String,
}

/// Loads the repository for reading. An anonymous caller who may not see it is asked for
/// credentials (401 with a Basic challenge) rather than told it is missing: dnf (libcurl)
/// sends the credentials of a repository URL or of its `username`/`password` options only
/// when challenged. Whether the repository exists is not revealed: every unseen one answers
/// the same.
async fn load(app: &App, caller: &Caller, path: &RepoPath) -> AppResult<RepoRow> {
    match path.load(app, caller, Op::Read).await {
        Ok(repo) => Ok(repo),
        Err(err) if caller.is_anonymous() && err.status() == StatusCode::NOT_FOUND => Err(caller
            .deny(
                AppError::Unauthorized(format!(
                "authentication required for {}/{}; give dnf a token as the repository's password",
                path.owner, path.repo
            )),
                Some(path.owner.as_str()),
            )),
        Err(err) => Err(err),
    }
}

/// A small generated document, with its sha256 as the `ETag` (304 on a match) and no
/// caching by intermediaries beyond revalidation: `repomd.xml` changes in place.
fn document(
    method: &Method,
    headers: &HeaderMap,
    bytes: Bytes,
    content_type: &'static str,
) -> AppResult<Response> {
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&bytes)));
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let status = if matches {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let length = bytes.len();
    let body = if matches || method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        ETAG,
        HeaderValue::from_str(&etag).map_err(AppError::internal)?,
    );
    if !matches {
        h.insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(response)
}

async fn repodata(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(RepodataPath { filename }): ApiPath<RepodataPath>,
    path: RepoPath,
) -> AppResult<Response> {
    let repo = load(&app, &caller, &path).await?;
    let not_found = || {
        AppError::NotFound(format!(
            "repodata/{} not found in {}",
            gantry_core::names::quote_prefix(&filename, 100),
            repo.slug()
        ))
    };
    match filename.as_str() {
        "repomd.xml" => {
            let built = generations::current(&app, &repo).await?;
            document(&method, &headers, built.repomd.clone(), "application/xml")
        }
        "repomd.xml.asc" => {
            let built = generations::current(&app, &repo).await?;
            let signature = built.signature.clone().ok_or_else(not_found)?;
            document(&method, &headers, signature, "application/pgp-signature")
        }
        name => {
            let bytes = generations::data_file(&app, &repo, name)
                .await?
                .ok_or_else(not_found)?;
            document(&method, &headers, bytes, "application/gzip")
        }
    }
}

async fn key(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    path: RepoPath,
) -> AppResult<Response> {
    let repo = load(&app, &caller, &path).await?;
    let key = signing::public_key(&app, &repo)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("{} has no signing key yet", repo.slug())))?;
    document(&method, &headers, key, "application/pgp-keys")
}

/// A package file's `{slug}` and `{filename}`.
#[derive(Deserialize)]
struct FilePath {
    slug: String,
    filename: String,
}

async fn file(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(FilePath { slug, filename }): ApiPath<FilePath>,
    path: RepoPath,
) -> AppResult<Response> {
    let repo = load(&app, &caller, &path).await?;
    gantry_protocol::serve::serve_by_slug(
        &app,
        &caller,
        &method,
        &headers,
        crate::pure::ID,
        &repo,
        &slug,
        &filename,
    )
    .await
}

/// An upstream package's path: the upstream's id and its `location href` there.
#[derive(Deserialize)]
struct UpstreamPath {
    upstream: i64,
    path: String,
}

/// A package an upstream lists, as this repository's repodata names it: streamed from the
/// upstream (and, in cache mode, stored as a package of this repository on the way). Only
/// packages the current repodata lists are fetched, so the route is no open proxy.
async fn upstream_file(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    ApiPath(UpstreamPath { upstream, path }): ApiPath<UpstreamPath>,
    repo_path: RepoPath,
) -> AppResult<Response> {
    let repo = load(&app, &caller, &repo_path).await?;
    let not_found = || {
        AppError::NotFound(format!(
            "upstream/{upstream}/{} not found in {}",
            gantry_core::names::quote_prefix(&path, 100),
            repo.slug()
        ))
    };
    let built = generations::current(&app, &repo).await?;
    let (id, package) = built
        .upstream_files
        .get(&format!("{upstream}/{path}"))
        .cloned()
        .ok_or_else(not_found)?;
    let upstreams = gantry_protocol::caches::upstreams(&app, repo.id, crate::pure::ID).await?;
    let row = upstreams
        .iter()
        .find(|u| u.id == id)
        .cloned()
        .ok_or_else(not_found)?;
    let filename = package.meta.filename();
    let file = RemoteFile {
        format: crate::pure::ID,
        url: crate::upstream::url_of(&row, &package.href),
        what: filename.clone(),
        content_type: "application/x-rpm",
        declared: gantry_formats::Declared {
            filename,
            sha256: Some(package.sha256.clone()),
            ..gantry_formats::Declared::default()
        },
        expected: Expected {
            sha256: Some(package.sha256),
            sha512: None,
            sha1: None,
        },
    };
    gantry_protocol::upstream::serve_file(Arc::clone(&app), &caller, repo, &row, &method, file)
        .await
}

/// RPM: generated, signed repodata and package files; uploads through the REST API.
pub struct Plugin;

impl FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(crate::pure::Rpm)
    }

    fn routes(&self) -> RouteSet {
        RouteSet::new()
            .file("/{owner}/{repo}/rpm/repodata/{filename}", repodata)
            .file("/{owner}/{repo}/rpm/key.asc", key)
            .file("/{owner}/{repo}/rpm/files/{slug}/{filename}", file)
            // dnf only GETs packages; no HEAD is offered, so no upstream is asked for one.
            .get(
                "/{owner}/{repo}/rpm/upstream/{upstream}/{*path}",
                upstream_file,
            )
    }

    fn client_shape(&self) -> Option<ClientShape> {
        Some(ClientShape::ReasonPhrase)
    }

    fn has_upstreams(&self) -> bool {
        true
    }

    /// RPMs are matched as themselves, under the distributions' ecosystems whose
    /// advisories name them (see [`scan`]).
    fn content_scan(&self) -> Option<ContentScan> {
        Some(
            ContentScan::new(|app, package| Box::pin(scan::components(app, package)))
                .unsupported(|app, _| Box::pin(scan::unsupported(app)))
                .touched(|app, touched| Box::pin(scan::touched(app, touched))),
        )
    }
}
