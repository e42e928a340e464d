//! Repositories: create, list, get, update, delete.

use axum::http::StatusCode;
use gantry_core::{EventType, FormatTotals, Privilege, RepoName, Repository, UpdateRepository};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{op, Api, OwnerPath, Repo, RepoPath};
use crate::access::Op;
use crate::auth::Caller;
use crate::error::{ApiJson, ApiQuery, AppError, AppResult, ErrorBody};
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
    /// CIDR networks (IPv4 or IPv6) allowed to reach the repository's packages; empty: all.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// CIDR networks refused even when allow-listed.
    #[serde(default)]
    pub ip_denylist: Vec<String>,
    /// Minimum privilege per operation (`read`, `push`, `copy_into`, `tag`, `move_out`,
    /// `delete`, `quarantine`, `resync`, `webhooks`, `upstreams`, `policies`).
    pub permissions: Option<serde_json::Value>,
    /// Refuse (409) a push that would point an existing tag (an OCI image tag) at other
    /// content. Tags move by default.
    #[serde(default)]
    pub immutable_tags: bool,
    /// Let a native deploy of a release that is already published (a Maven `mvn deploy` of
    /// the same version) replace it; refused with 409 by default.
    #[serde(default)]
    pub allow_republish: bool,
}

fn default_private() -> bool {
    true
}

fn check_access_settings(
    allow: Option<&[String]>,
    deny: Option<&[String]>,
    permissions: Option<&serde_json::Value>,
) -> AppResult<()> {
    for list in [allow, deny].into_iter().flatten() {
        crate::access::parse_networks(list).map_err(AppError::BadRequest)?;
    }
    if let Some(p) = permissions {
        crate::access::validate_permissions(p).map_err(AppError::BadRequest)?;
    }
    Ok(())
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct DeleteParams {
    /// Delete even though the repository holds packages.
    #[serde(default)]
    pub force: bool,
}

fn is_admin(caller: &Caller, repo: &gantry_db::RepoRow) -> bool {
    caller
        .granted(&repo.namespace, Some(&repo.name))
        .is_some_and(|g| g.covers(Privilege::Admin))
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
    Api { app, caller }: Api,
    OwnerPath { owner }: OwnerPath,
    ApiJson(body): ApiJson<CreateRepository>,
) -> AppResult<(StatusCode, ApiJson<Repository>)> {
    let owner = owner.as_str();
    RepoName::parse(&body.name)?;
    check_description(&body.description)?;
    check_access_settings(
        Some(&body.ip_allowlist),
        Some(&body.ip_denylist),
        body.permissions.as_ref(),
    )?;
    if caller.is_site_admin() {
        app.db.ensure_namespace(owner).await?;
    } else {
        caller.require_namespace(owner, Privilege::Admin)?;
        if !app.db.namespace_exists(owner).await? {
            return Err(AppError::NotFound(format!("namespace {owner} not found")));
        }
    }
    let mut row = app
        .db
        .create_repo(owner, &body.name, &body.description, body.private)
        .await?;
    if !body.ip_allowlist.is_empty()
        || !body.ip_denylist.is_empty()
        || body.permissions.is_some()
        || body.immutable_tags
        || body.allow_republish
    {
        row = app
            .db
            .update_repo(
                row.id,
                &UpdateRepository {
                    ip_allowlist: Some(body.ip_allowlist.clone()),
                    ip_denylist: Some(body.ip_denylist.clone()),
                    permissions: body.permissions.clone(),
                    immutable_tags: body.immutable_tags.then_some(true),
                    allow_republish: body.allow_republish.then_some(true),
                    ..UpdateRepository::default()
                },
            )
            .await?;
    }
    let mut event = caller.event(EventType::RepositoryCreated);
    event.namespace = Some(owner.to_owned());
    event.repository = Some(row.slug());
    event.context = serde_json::json!({ "private": body.private });
    app.db.record_event(&event).await?;
    Ok((StatusCode::CREATED, ApiJson(render::repository(&row, true))))
}

/// Repositories of a namespace that the caller may see.
#[utoipa::path(get, path = "/api/v1/repos/{owner}", tag = "repositories",
    params(("owner" = String, Path, description = "namespace")),
    responses((status = 200, body = Vec<Repository>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    Api { app, caller }: Api,
    OwnerPath { owner }: OwnerPath,
) -> AppResult<ApiJson<Vec<Repository>>> {
    let owner = owner.as_str();
    let repos = app.db.list_repos(owner).await?;
    let readable: Vec<_> = repos.iter().filter(|r| caller.can_read(r)).collect();
    let mut visible: Vec<Repository> = readable
        .iter()
        .map(|r| render::repository(r, is_admin(&caller, r)))
        .collect();
    let ids: Vec<i64> = readable.iter().map(|r| r.id).collect();
    with_totals(&app, &ids, &mut visible).await?;
    // An empty list would tell a stranger that the namespace exists (with only private
    // repositories); only a caller with a grant somewhere in it learns that.
    let has_grant = || {
        caller.granted(owner, None).is_some()
            || repos
                .iter()
                .any(|r| caller.granted(owner, Some(&r.name)).is_some())
    };
    if visible.is_empty() && (!has_grant() || !app.db.namespace_exists(owner).await?) {
        return Err(AppError::NotFound(format!("namespace {owner} not found")));
    }
    Ok(ApiJson(visible))
}

/// One repository.
#[utoipa::path(get, path = "/api/v1/repos/{owner}/{repo}", tag = "repositories",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = Repository), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    Api { app, caller }: Api,
    path: RepoPath,
) -> AppResult<ApiJson<Repository>> {
    // For its admins, reading a repository is administration, which address rules never block.
    let op = if caller
        .granted(path.owner.as_str(), Some(path.repo.as_str()))
        .is_some_and(|g| g.covers(Privilege::Admin))
    {
        Op::Admin
    } else {
        Op::Read
    };
    let row = path.load(&app, &caller, op).await?;
    let mut repository = [render::repository(&row, is_admin(&caller, &row))];
    with_totals(&app, &[row.id], &mut repository).await?;
    let [repository] = repository;
    Ok(ApiJson(repository))
}

/// Fills in the sizes and per-format counts of `repositories` (whose ids are `ids`, in the
/// same order) from the counters kept with the packages: one small query for them all.
async fn with_totals(
    app: &crate::app::App,
    ids: &[i64],
    repositories: &mut [Repository],
) -> AppResult<()> {
    let totals = app.db.repository_format_totals(ids).await?;
    for (id, repository) in ids.iter().zip(repositories.iter_mut()) {
        let formats: Vec<FormatTotals> = totals
            .iter()
            .filter(|(of, ..)| of == id)
            .map(|(_, format, package_count, size)| FormatTotals {
                format: format.clone(),
                package_count: *package_count,
                size: *size,
            })
            .collect();
        repository.size = Some(formats.iter().map(|f| f.size).sum());
        repository.formats = Some(formats);
    }
    Ok(())
}

/// Updates a repository's description or visibility. Needs admin.
#[utoipa::path(patch, path = "/api/v1/repos/{owner}/{repo}", tag = "repositories",
    params(("owner" = String, Path), ("repo" = String, Path)),
    request_body = UpdateRepository,
    responses((status = 200, body = Repository), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update(
    Api { app, caller }: Api,
    path: RepoPath,
    ApiJson(body): ApiJson<UpdateRepository>,
) -> AppResult<ApiJson<Repository>> {
    let row = path.load(&app, &caller, Op::Admin).await?;
    if let Some(d) = &body.description {
        check_description(d)?;
    }
    check_access_settings(
        body.ip_allowlist.as_deref(),
        body.ip_denylist.as_deref(),
        body.permissions.as_ref(),
    )?;
    let updated = app.db.update_repo(row.id, &body).await?;
    let mut event = caller.event(EventType::RepositoryUpdated);
    event.namespace = Some(updated.namespace.clone());
    event.repository = Some(updated.slug());
    event.context = serde_json::json!({
        "description": body.description, "private": body.private,
        "ip_allowlist": body.ip_allowlist, "ip_denylist": body.ip_denylist,
        "permissions": body.permissions, "immutable_tags": body.immutable_tags,
        "allow_republish": body.allow_republish,
    });
    app.db.record_event(&event).await?;
    Ok(ApiJson(render::repository(&updated, true)))
}

/// Deletes a repository; refused with 409 while it holds packages unless `force=true`.
#[utoipa::path(delete, path = "/api/v1/repos/{owner}/{repo}", tag = "repositories",
    params(("owner" = String, Path), ("repo" = String, Path), DeleteParams),
    responses((status = 204, description = "deleted"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn delete(
    Api { app, caller }: Api,
    ApiQuery(params): ApiQuery<DeleteParams>,
    row: Repo<op::Admin>,
) -> AppResult<StatusCode> {
    app.db.delete_repo(row.id, params.force).await?;
    let mut event = caller.event(EventType::RepositoryDeleted);
    event.namespace = Some(row.namespace.clone());
    event.repository = Some(row.slug());
    event.context = serde_json::json!({ "force": params.force });
    app.db.record_event(&event).await?;
    Ok(StatusCode::NO_CONTENT)
}
