//! Repositories: create, list, get, update, delete.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use gantry_core::{EventType, OwnerName, Privilege, RepoName, Repository};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::load_repo;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError, AppResult, ErrorBody};
use crate::render;

const MAX_DESCRIPTION_LEN: usize = 2000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRepository {
    /// Lowercase letters, digits, `-`, `_`, `.`; at most 64 characters.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Private unless said otherwise.
    #[serde(default = "default_private")]
    pub private: bool,
}

fn default_private() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateRepository {
    pub description: Option<String>,
    pub private: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct DeleteParams {
    /// Delete even though the repository holds packages.
    #[serde(default)]
    pub force: bool,
}

fn check_description(description: &str) -> AppResult<()> {
    if description.len() > MAX_DESCRIPTION_LEN {
        return Err(AppError::BadRequest(format!(
            "description is longer than {MAX_DESCRIPTION_LEN} characters"
        )));
    }
    if description
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(AppError::BadRequest(
            "description must not contain control characters".into(),
        ));
    }
    Ok(())
}

/// Creates a repository. A site admin creating one in a new namespace creates the namespace.
#[utoipa::path(post, path = "/api/v1/repos/{owner}", tag = "repositories",
    params(("owner" = String, Path, description = "namespace")),
    request_body = CreateRepository,
    responses((status = 201, body = Repository), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath(owner): ApiPath<String>,
    ApiJson(body): ApiJson<CreateRepository>,
) -> AppResult<(StatusCode, ApiJson<Repository>)> {
    OwnerName::parse(&owner)?;
    RepoName::parse(&body.name)?;
    check_description(&body.description)?;
    if caller.is_site_admin() {
        app.db.ensure_namespace(&owner).await?;
    } else {
        caller.require_namespace(&owner, Privilege::Admin)?;
        if !app.db.namespace_exists(&owner).await? {
            return Err(AppError::NotFound(format!("namespace {owner} not found")));
        }
    }
    let row = app
        .db
        .create_repo(&owner, &body.name, &body.description, body.private)
        .await?;
    let mut event = caller.event(EventType::RepositoryCreated);
    event.namespace = Some(owner.clone());
    event.repository = Some(row.slug());
    event.context = serde_json::json!({ "private": body.private });
    app.db.record_event(&event).await?;
    Ok((StatusCode::CREATED, ApiJson(render::repository(&row))))
}

/// Repositories of a namespace that the caller may see.
#[utoipa::path(get, path = "/api/v1/repos/{owner}", tag = "repositories",
    params(("owner" = String, Path, description = "namespace")),
    responses((status = 200, body = Vec<Repository>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath(owner): ApiPath<String>,
) -> AppResult<ApiJson<Vec<Repository>>> {
    OwnerName::parse(&owner)?;
    let repos = app.db.list_repos(&owner).await?;
    let visible: Vec<Repository> = repos
        .iter()
        .filter(|r| caller.can_read(r))
        .map(render::repository)
        .collect();
    if visible.is_empty() && !app.db.namespace_exists(&owner).await? {
        return Err(AppError::NotFound(format!("namespace {owner} not found")));
    }
    Ok(ApiJson(visible))
}

/// One repository.
#[utoipa::path(get, path = "/api/v1/repos/{owner}/{repo}", tag = "repositories",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = Repository), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo)): ApiPath<(String, String)>,
) -> AppResult<ApiJson<Repository>> {
    let row = load_repo(&app, &caller, &owner, &repo, Privilege::Read).await?;
    Ok(ApiJson(render::repository(&row)))
}

/// Updates a repository's description or visibility. Needs admin.
#[utoipa::path(patch, path = "/api/v1/repos/{owner}/{repo}", tag = "repositories",
    params(("owner" = String, Path), ("repo" = String, Path)),
    request_body = UpdateRepository,
    responses((status = 200, body = Repository), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<UpdateRepository>,
) -> AppResult<ApiJson<Repository>> {
    let row = load_repo(&app, &caller, &owner, &repo, Privilege::Admin).await?;
    if let Some(d) = &body.description {
        check_description(d)?;
    }
    let updated = app
        .db
        .update_repo(row.id, body.description.as_deref(), body.private)
        .await?;
    let mut event = caller.event(EventType::RepositoryUpdated);
    event.namespace = Some(owner);
    event.repository = Some(updated.slug());
    event.context = serde_json::json!({ "description": body.description, "private": body.private });
    app.db.record_event(&event).await?;
    Ok(ApiJson(render::repository(&updated)))
}

/// Deletes a repository; refused with 409 while it holds packages unless `force=true`.
#[utoipa::path(delete, path = "/api/v1/repos/{owner}/{repo}", tag = "repositories",
    params(("owner" = String, Path), ("repo" = String, Path), DeleteParams),
    responses((status = 204, description = "deleted"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<DeleteParams>,
) -> AppResult<StatusCode> {
    let row = load_repo(&app, &caller, &owner, &repo, Privilege::Admin).await?;
    app.db.delete_repo(row.id, params.force).await?;
    let mut event = caller.event(EventType::RepositoryDeleted);
    event.namespace = Some(owner);
    event.repository = Some(row.slug());
    event.context = serde_json::json!({ "force": params.force });
    app.db.record_event(&event).await?;
    Ok(StatusCode::NO_CONTENT)
}
