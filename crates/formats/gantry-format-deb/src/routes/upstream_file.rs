//! `GET /{owner}/{repo}/deb/upstream/{upstream}/{dist}/{*path}`: a `.deb` an upstream lists,
//! as this repository's `Packages` names it. Streamed from the upstream (and, in cache mode,
//! stored as a package of this repository on the way, listed in `dist` and the upstream's
//! component). Only files the current generation of `dist` lists are fetched, so the route
//! is no open proxy. A file a local package of the same identity and bytes now shadows (it
//! was cached after the client read its lists) is served from the repository.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use gantry_protocol::app::App;
use gantry_protocol::auth::Caller;
use gantry_protocol::error::{ApiPath, AppError, AppResult};
use gantry_protocol::extract::{op, Repo};
use gantry_protocol::upstream::{Expected, RemoteFile};
use serde::Deserialize;

use super::generation;

#[derive(Deserialize)]
pub(crate) struct UpstreamPath {
    upstream: i64,
    dist: String,
    path: String,
}

pub(crate) async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(UpstreamPath {
        upstream,
        dist,
        path,
    }): ApiPath<UpstreamPath>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let not_found = || {
        AppError::NotFound(format!(
            "upstream/{upstream}/{}/{} not found in {}",
            gantry_formats::archive::quote(&dist),
            gantry_formats::archive::quote(&path),
            repo.slug()
        ))
    };
    if crate::pure::control::check_suite_name("distribution", &dist).is_err() {
        return Err(not_found());
    }
    let current = generation::current(&app, &repo, &dist)
        .await?
        .ok_or_else(not_found)?;
    let key = format!("{upstream}/{path}");
    if let Some(p) = current.shadowed.get(&key) {
        let local = gantry_protocol::repo::find_live_package(
            &app,
            repo.id,
            "deb",
            &p.name,
            &p.version,
            &p.entry.architecture,
        )
        .await?
        .ok_or_else(not_found)?;
        // The local copy stands in only when it is the same file.
        let file = local
            .files
            .first()
            .filter(|f| f.sha256.eq_ignore_ascii_case(&p.entry.sha256))
            .ok_or_else(not_found)?;
        return gantry_protocol::serve::serve_file(&app, &caller, &method, &headers, &local, file)
            .await;
    }
    let (id, package) = current
        .upstream_files
        .get(&key)
        .cloned()
        .ok_or_else(not_found)?;
    let upstreams = gantry_protocol::caches::upstreams(&app, repo.id, "deb").await?;
    let row = upstreams
        .iter()
        .find(|u| u.id == id)
        .cloned()
        .ok_or_else(not_found)?;
    let filename = package.basename().to_owned();
    let component = package
        .entry
        .components
        .first()
        .cloned()
        .unwrap_or_default();
    let declared = gantry_formats::Declared {
        filename: filename.clone(),
        sha256: Some(package.entry.sha256.clone()),
        attributes: [
            ("distribution".to_owned(), dist.clone()),
            ("component".to_owned(), component),
        ]
        .into_iter()
        .collect(),
        ..gantry_formats::Declared::default()
    };
    let file = RemoteFile {
        format: "deb",
        url: crate::upstream::url_of(&row, &package.entry.filename),
        what: filename,
        content_type: "application/vnd.debian.binary-package",
        declared,
        expected: Expected {
            sha256: Some(package.entry.sha256),
            sha512: None,
            sha1: None,
        },
    };
    gantry_protocol::upstream::serve_file(
        Arc::clone(&app),
        &caller,
        repo.into_row(),
        &row,
        &method,
        file,
    )
    .await
}
