//! The index documents: this repository's from its snapshot, and, for gems it does not hold
//! itself, its upstreams' (a name held here is served from here only, so an upstream cannot
//! add versions to a private gem).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::http::{HeaderMap, Method};
use axum::response::Response;
use gantry_db::{RepoRow, UpstreamRow};

use super::answer::{document, BINARY, TEXT};
use super::snapshot::{snapshot, Doc, Snapshot};
use super::FORMAT;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::pure::index::{versions_document, Legacy, VersionsLine};

async fn upstreams(app: &Arc<App>, repo: &RepoRow) -> AppResult<Arc<Vec<UpstreamRow>>> {
    gantry_protocol::caches::upstreams(app, repo.id, FORMAT).await
}

/// The `/versions` lines of the repository's upstreams, in priority order (a gem an earlier
/// one lists comes first); `None` when it has no upstreams. An upstream that fails is left
/// out: the failure is logged and counted where it happens, and the others still answer.
async fn upstream_lines(app: &Arc<App>, repo: &RepoRow) -> AppResult<Option<Vec<VersionsLine>>> {
    let upstreams = upstreams(app, repo).await?;
    if upstreams.is_empty() {
        return Ok(None);
    }
    let mut lines = Vec::new();
    for upstream in upstreams.iter() {
        if let Ok(remote) = crate::upstream::versions(app, upstream).await {
            lines.extend(remote);
        }
    }
    Ok(Some(lines))
}

/// Answers with the snapshot's document `local` when the repository has no upstreams, else
/// with the one `merge` builds from the snapshot and the upstreams' `/versions` lines.
async fn local_or_merged(
    app: &Arc<App>,
    (method, headers): (&Method, &HeaderMap),
    repo: &RepoRow,
    local: impl FnOnce(&Snapshot) -> &Doc,
    merge: impl FnOnce(&Snapshot, Vec<VersionsLine>) -> Doc,
) -> AppResult<Response> {
    let snapshot = snapshot(app, repo.id).await?;
    let doc = match upstream_lines(app, repo).await? {
        None => return Ok(document(method, headers, local(&snapshot), TEXT)),
        Some(remote) => merge(&snapshot, remote),
    };
    Ok(document(method, headers, &doc, TEXT))
}

pub(crate) async fn versions(
    app: &Arc<App>,
    method: &Method,
    headers: &HeaderMap,
    repo: &RepoRow,
) -> AppResult<Response> {
    let merge = |local: &Snapshot, remote: Vec<VersionsLine>| {
        let mut lines: BTreeMap<String, VersionsLine> = local
            .version_lines
            .iter()
            .map(|l| (l.name.clone(), l.clone()))
            .collect();
        for line in remote {
            lines.entry(line.name.clone()).or_insert(line);
        }
        let lines: Vec<VersionsLine> = lines.into_values().collect();
        Doc::new(versions_document(&local.created_at, &lines))
    };
    local_or_merged(app, (method, headers), repo, |s| &s.versions, merge).await
}

pub(crate) async fn info(
    app: &Arc<App>,
    method: &Method,
    headers: &HeaderMap,
    repo: &RepoRow,
    name: &str,
) -> AppResult<Response> {
    let local = snapshot(app, repo.id).await?;
    if let Some(doc) = local.infos.get(name) {
        return Ok(document(method, headers, doc, TEXT));
    }
    let not_found = || AppError::NotFound(format!("gem {name} not found in {}", repo.slug()));
    if crate::pure::names::check_name(name).is_err() {
        return Err(not_found());
    }
    let mut failures = Vec::new();
    for upstream in upstreams(app, repo).await?.iter() {
        match crate::upstream::info(app, upstream, name).await {
            Ok(Some(body)) => return Ok(document(method, headers, &Doc::new(body), TEXT)),
            Ok(None) => {}
            Err(e) => failures.push(format!("{}: {e}", upstream.name)),
        }
    }
    if failures.is_empty() {
        return Err(not_found());
    }
    Err(AppError::BadGateway(format!(
        "gem {name} not found in {}, and its upstreams failed: {}",
        repo.slug(),
        failures.join("; ")
    )))
}

pub(crate) async fn names(
    app: &Arc<App>,
    method: &Method,
    headers: &HeaderMap,
    repo: &RepoRow,
) -> AppResult<Response> {
    let merge = |local: &Snapshot, remote: Vec<VersionsLine>| {
        let mut all: HashSet<String> = local.infos.keys().cloned().collect();
        all.extend(remote.into_iter().map(|l| l.name));
        let mut all: Vec<String> = all.into_iter().collect();
        all.sort();
        Doc::new(crate::pure::index::names_document(
            all.iter().map(String::as_str),
        ))
    };
    local_or_merged(app, (method, headers), repo, |s| &s.names, merge).await
}

/// The legacy indexes list this repository's gems only: they are Marshal, which Gantry
/// writes but never reads from another server.
pub(crate) async fn legacy(
    app: &Arc<App>,
    method: &Method,
    headers: &HeaderMap,
    repo: &RepoRow,
    which: Legacy,
) -> AppResult<Response> {
    let local = snapshot(app, repo.id).await?;
    let doc = local.legacy(which).ok_or_else(|| {
        AppError::PayloadTooLarge(format!("the legacy index of {} is too large", repo.slug()))
    })?;
    Ok(document(method, headers, doc, BINARY))
}
