//! Upstreams of a repository: create, list, get, delete. Needs the `upstreams` privilege
//! (admin by default).

use axum::http::StatusCode;
use gantry_core::{EventType, FormatId, RepoName};
use gantry_db::{NewUpstream, RepoRow, UpstreamRow, UpstreamSpec};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{op, IdParam, Repo, RepoPath};
use super::{repo_event, Api};
use crate::access::Op;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiJson, ApiPath, AppError, AppResult, ErrorBody};

const MAX_UPSTREAMS: usize = 32;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUpstream {
    /// `python`, `npm` or `cargo`.
    pub(crate) format: String,
    pub(crate) name: String,
    /// For Python: the simple index root, e.g. `http://host/simple/`; for npm: the
    /// registry root, e.g. `http://host/`; for cargo: the sparse index root without
    /// `sparse+`, e.g. `http://host/OWNER/REPO/cargo/index/`.
    pub(crate) url: String,
    /// Lower numbers are tried first (default 1).
    #[serde(default = "one")]
    pub(crate) priority: i64,
    /// `proxy` streams files through; `cache` also stores each fetched file as a package.
    #[serde(default = "cache")]
    pub(crate) mode: String,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    /// How long a fetched index page is fresh (default 300).
    #[serde(default = "ttl")]
    pub(crate) index_ttl_seconds: i64,
    /// For names that exist locally, serve only the local versions (against dependency
    /// confusion).
    #[serde(default)]
    pub(crate) local_names_only: bool,
}

fn one() -> i64 {
    1
}
fn cache() -> String {
    "cache".into()
}
fn ttl() -> i64 {
    300
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Upstream {
    pub(crate) id: i64,
    pub(crate) format: String,
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) priority: i64,
    pub(crate) mode: String,
    pub(crate) username: Option<String>,
    /// The password itself is never shown.
    pub(crate) has_password: bool,
    pub(crate) index_ttl_seconds: i64,
    pub(crate) local_names_only: bool,
    pub(crate) created_by: Option<String>,
    pub(crate) created_at: String,
}

fn render(u: &UpstreamRow) -> Upstream {
    Upstream {
        id: u.id,
        format: u.format.to_string(),
        name: u.name.clone(),
        url: u.url.clone(),
        priority: u.priority,
        mode: u.mode.clone(),
        username: u.username.clone(),
        has_password: u.password.as_deref().is_some_and(|p| !p.is_empty()),
        index_ttl_seconds: u.index_ttl_seconds,
        local_names_only: u.local_names_only != 0,
        created_by: u.created_by.clone(),
        created_at: gantry_core::time::rfc3339(u.created_at),
    }
}

async fn audit(
    app: &App,
    caller: &Caller,
    repo: &RepoRow,
    event_type: EventType,
    u: &UpstreamRow,
) -> AppResult<()> {
    let context = serde_json::json!({
        "upstream_id": u.id, "name": u.name, "format": u.format, "url": u.url, "mode": u.mode,
    });
    app.db
        .record_event(&repo_event(caller, event_type, repo, context))
        .await?;
    Ok(())
}

/// Adds an upstream to a repository.
#[utoipa::path(post, path = "/api/v1/repos/{owner}/{repo}/upstreams", tag = "upstreams",
    params(("owner" = String, Path), ("repo" = String, Path)), request_body = CreateUpstream,
    responses((status = 201, body = Upstream), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    Api { app, caller }: Api,
    path: RepoPath,
    ApiJson(body): ApiJson<CreateUpstream>,
) -> AppResult<(StatusCode, ApiJson<Upstream>)> {
    let repo = path.load(&app, &caller, Op::Upstreams).await?;
    let spec = checked(&app, &repo, body.clone()).await?;
    if app.db.list_upstreams(repo.id, None).await?.len() >= MAX_UPSTREAMS {
        return Err(AppError::Conflict(format!(
            "a repository may have at most {MAX_UPSTREAMS} upstreams"
        )));
    }
    let row = app
        .db
        .create_upstream(&NewUpstream {
            spec,
            local_names_only: body.local_names_only,
            created_by: caller.actor(),
        })
        .await?;
    audit(&app, &caller, &repo, EventType::UpstreamCreated, &row).await?;
    Ok((StatusCode::CREATED, ApiJson(render(&row))))
}

/// An upstream as submitted, checked: a format with upstreams, a valid name, mode, priority
/// and freshness, a URL the outbound rules allow, and credentials without control
/// characters.
async fn checked(app: &App, repo: &RepoRow, body: CreateUpstream) -> AppResult<UpstreamSpec> {
    let formats = crate::plugin::plugins().with_upstreams();
    if !formats.contains(&body.format.as_str()) {
        return Err(AppError::BadRequest(format!(
            "upstreams are supported for: {}",
            formats.join(", ")
        )));
    }
    RepoName::parse(&body.name)?;
    if !matches!(body.mode.as_str(), "proxy" | "cache") {
        return Err(AppError::BadRequest("mode must be proxy or cache".into()));
    }
    if !(0..=1000).contains(&body.priority) {
        return Err(AppError::BadRequest(
            "priority must be between 0 and 1000".into(),
        ));
    }
    if !(0..=86_400 * 30).contains(&body.index_ttl_seconds) {
        return Err(AppError::BadRequest(
            "index_ttl_seconds must be between 0 and 2592000".into(),
        ));
    }
    if body.url.len() > 2048 {
        return Err(AppError::BadRequest("url is too long".into()));
    }
    app.outbound
        .check(&body.url)
        .await
        .map_err(|e| AppError::BadRequest(format!("upstream url: {e}")))?;
    for (field, value) in [("username", &body.username), ("password", &body.password)] {
        if value
            .as_deref()
            .is_some_and(|v| v.len() > 1024 || v.chars().any(char::is_control))
        {
            return Err(AppError::BadRequest(format!(
                "{field} is too long or has control characters"
            )));
        }
    }
    Ok(UpstreamSpec {
        repository_id: repo.id,
        format: FormatId::parse(&body.format).map_err(|e| AppError::BadRequest(e.to_string()))?,
        name: body.name,
        url: body.url,
        priority: body.priority,
        mode: body.mode,
        username: body.username.filter(|u| !u.is_empty()),
        password: body.password.filter(|p| !p.is_empty()),
        index_ttl_seconds: body.index_ttl_seconds,
    })
}

/// Replaces an upstream's settings (the body is a whole upstream, as at creation). A
/// password left out (or empty) keeps the stored one. Its cached index pages are dropped.
#[utoipa::path(put, path = "/api/v1/repos/{owner}/{repo}/upstreams/{id}", tag = "upstreams",
    params(("owner" = String, Path), ("repo" = String, Path), ("id" = i64, Path)),
    request_body = CreateUpstream,
    responses((status = 200, body = Upstream), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn update(
    Api { app, caller }: Api,
    ApiPath(IdParam { id }): ApiPath<IdParam>,
    repo: Repo<op::Upstreams>,
    ApiJson(body): ApiJson<CreateUpstream>,
) -> AppResult<ApiJson<Upstream>> {
    let existing = load(&app, &repo, id).await?;
    let local_names_only = body.local_names_only;
    let mut spec = checked(&app, &repo, body).await?;
    if spec.password.is_none() {
        spec.password = existing.password.clone();
    }
    let row = app.db.update_upstream(id, &spec, local_names_only).await?;
    audit(&app, &caller, &repo, EventType::UpstreamUpdated, &row).await?;
    Ok(ApiJson(render(&row)))
}

/// A repository's upstreams in the order they are tried.
#[utoipa::path(get, path = "/api/v1/repos/{owner}/{repo}/upstreams", tag = "upstreams",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = Vec<Upstream>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list(
    Api { app, .. }: Api,
    repo: Repo<op::Upstreams>,
) -> AppResult<ApiJson<Vec<Upstream>>> {
    let rows = app.db.list_upstreams(repo.id, None).await?;
    Ok(ApiJson(rows.iter().map(render).collect()))
}

async fn load(app: &App, repo: &RepoRow, id: i64) -> AppResult<UpstreamRow> {
    app.db
        .get_upstream(id)
        .await?
        .filter(|u| u.repository_id == repo.id)
        .ok_or_else(|| AppError::NotFound(format!("upstream {id} not found in {}", repo.slug())))
}

/// One upstream.
#[utoipa::path(get, path = "/api/v1/repos/{owner}/{repo}/upstreams/{id}", tag = "upstreams",
    params(("owner" = String, Path), ("repo" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Upstream), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    Api { app, .. }: Api,
    ApiPath(IdParam { id }): ApiPath<IdParam>,
    repo: Repo<op::Upstreams>,
) -> AppResult<ApiJson<Upstream>> {
    Ok(ApiJson(render(&load(&app, &repo, id).await?)))
}

/// Removes an upstream (packages already cached from it stay).
#[utoipa::path(delete, path = "/api/v1/repos/{owner}/{repo}/upstreams/{id}", tag = "upstreams",
    params(("owner" = String, Path), ("repo" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    Api { app, caller }: Api,
    ApiPath(IdParam { id }): ApiPath<IdParam>,
    repo: Repo<op::Upstreams>,
) -> AppResult<StatusCode> {
    let row = load(&app, &repo, id).await?;
    app.db.delete_upstream(id).await?;
    audit(&app, &caller, &repo, EventType::UpstreamDeleted, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}
