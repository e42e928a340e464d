//! The index documents: this repository's from its snapshot, and, for gems it does not hold
//! itself, its upstreams' (a name held here is served from here only, so an upstream cannot
//! add versions to a private gem).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use gantry_db::{RepoRow, UpstreamRow};
use gantry_protocol::extract::{op, Repo};
use serde::Deserialize;

use super::answer::{document, BINARY, TEXT};
use super::snapshot::{snapshot, Doc, Snapshot};
use super::FORMAT;
use crate::app::App;
use crate::error::{ApiPath, AppError, AppResult};
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

/// What an index document is asked with: the repository, readable by the caller, and the
/// request's method and headers (for HEAD and conditional GETs).
pub(crate) struct Ask {
    app: Arc<App>,
    method: Method,
    headers: HeaderMap,
    repo: RepoRow,
}

impl FromRequestParts<Arc<App>> for Ask {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        let repo = Repo::<op::Read>::from_request_parts(parts, app).await?;
        Ok(Self {
            app: Arc::clone(app),
            method: parts.method.clone(),
            headers: parts.headers.clone(),
            repo: repo.into_row(),
        })
    }
}

impl Ask {
    fn answer(&self, doc: &Doc, content_type: &'static str) -> Response {
        document(&self.method, &self.headers, doc, content_type)
    }
}

/// Answers with the snapshot's document `local` when the repository has no upstreams, else
/// with the one `merge` builds from the snapshot and the upstreams' `/versions` lines.
async fn local_or_merged(
    ask: &Ask,
    local: impl FnOnce(&Snapshot) -> &Doc,
    merge: impl FnOnce(&Snapshot, Vec<VersionsLine>) -> Doc,
) -> AppResult<Response> {
    let snapshot = snapshot(&ask.app, ask.repo.id).await?;
    let doc = match upstream_lines(&ask.app, &ask.repo).await? {
        None => return Ok(ask.answer(local(&snapshot), TEXT)),
        Some(remote) => merge(&snapshot, remote),
    };
    Ok(ask.answer(&doc, TEXT))
}

/// `GET /{owner}/{repo}/rubygems/versions`.
pub(crate) async fn versions(ask: Ask) -> AppResult<Response> {
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
    local_or_merged(&ask, |s| &s.versions, merge).await
}

/// The `{name}` of `/info/{name}`.
#[derive(Deserialize)]
pub(crate) struct NamePath {
    name: String,
}

/// `GET /{owner}/{repo}/rubygems/info/{name}`.
pub(crate) async fn info(
    ApiPath(NamePath { name }): ApiPath<NamePath>,
    ask: Ask,
) -> AppResult<Response> {
    let (app, repo) = (&ask.app, &ask.repo);
    let local = snapshot(app, repo.id).await?;
    if let Some(doc) = local.infos.get(&name) {
        return Ok(ask.answer(doc, TEXT));
    }
    let not_found = || AppError::NotFound(format!("gem {name} not found in {}", repo.slug()));
    if crate::pure::names::check_name(&name).is_err() {
        return Err(not_found());
    }
    let mut failures = Vec::new();
    for upstream in upstreams(app, repo).await?.iter() {
        match crate::upstream::info(app, upstream, &name).await {
            Ok(Some(body)) => return Ok(ask.answer(&Doc::new(body), TEXT)),
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

/// `GET /{owner}/{repo}/rubygems/names`.
pub(crate) async fn names(ask: Ask) -> AppResult<Response> {
    let merge = |local: &Snapshot, remote: Vec<VersionsLine>| {
        let mut all: HashSet<String> = local.infos.keys().cloned().collect();
        all.extend(remote.into_iter().map(|l| l.name));
        let mut all: Vec<String> = all.into_iter().collect();
        all.sort();
        Doc::new(crate::pure::index::names_document(
            all.iter().map(String::as_str),
        ))
    };
    local_or_merged(&ask, |s| &s.names, merge).await
}

/// The legacy indexes list this repository's gems only: they are Marshal, which Gantry
/// writes but never reads from another server.
async fn legacy(ask: Ask, which: Legacy) -> AppResult<Response> {
    let local = snapshot(&ask.app, ask.repo.id).await?;
    let doc = local.legacy(which).ok_or_else(|| {
        AppError::PayloadTooLarge(format!(
            "the legacy index of {} is too large",
            ask.repo.slug()
        ))
    })?;
    Ok(ask.answer(doc, BINARY))
}

/// `GET /{owner}/{repo}/rubygems/specs.4.8.gz`.
pub(crate) async fn specs(ask: Ask) -> AppResult<Response> {
    legacy(ask, Legacy::Specs).await
}

/// `GET /{owner}/{repo}/rubygems/latest_specs.4.8.gz`.
pub(crate) async fn latest_specs(ask: Ask) -> AppResult<Response> {
    legacy(ask, Legacy::Latest).await
}

/// `GET /{owner}/{repo}/rubygems/prerelease_specs.4.8.gz`.
pub(crate) async fn prerelease_specs(ask: Ask) -> AppResult<Response> {
    legacy(ask, Legacy::Prerelease).await
}
