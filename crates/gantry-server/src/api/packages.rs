//! Packages: list, get, status, provenance trail, copy, move, delete, restore.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use gantry_core::{Event, EventType, Package, PackageQuery, PackageState, SyncStatus};
use gantry_db::PromotionMode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{load_repo, op, parse_destination, Api, PackageAt, PackagePath, Repo};
use crate::access::Op;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiJson, ApiQuery, AppError, AppResult, ErrorBody};
use crate::jobs::sync::sync_job;
use crate::render::{self, BaseUrl};

const DEFAULT_PAGE_SIZE: i64 = 30;
const MAX_PAGE_SIZE: i64 = 1000;
const MAX_PAGE: i64 = 1_000_000;

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ListParams {
    /// Terms joined by "and": `name:N`, `version:V`, `format:F`, `tag:T`,
    /// `state:available|quarantined|deleted`, or a bare word matched within names.
    pub query: Option<String>,
    /// 1-based page number.
    pub page: Option<i64>,
    /// Packages per page, 1–1000 (default 30).
    pub page_size: Option<i64>,
}

/// Lists packages, newest first. Pagination is in the `X-Pagination-*` headers.
#[utoipa::path(get, path = "/api/v1/packages/{owner}/{repo}", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ListParams),
    responses((status = 200, body = Vec<Package>,
               headers(("X-Pagination-Count" = i64, description = "packages matching"),
                       ("X-Pagination-Page" = i64), ("X-Pagination-PageTotal" = i64))),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    Api { app, .. }: Api,
    base: BaseUrl,
    ApiQuery(params): ApiQuery<ListParams>,
    repo: Repo<op::Read>,
) -> AppResult<(HeaderMap, ApiJson<Vec<Package>>)> {
    let page = params.page.unwrap_or(1);
    let page_size = params.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(AppError::BadRequest(format!(
            "page must be between 1 and {MAX_PAGE}"
        )));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(AppError::BadRequest(format!(
            "page_size must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let query = PackageQuery::parse(params.query.as_deref().unwrap_or(""))?;
    let result = app.db.list_packages(&repo, &query, page, page_size).await?;
    let mut headers = HeaderMap::new();
    let page_total = (result.total + page_size - 1) / page_size;
    for (name, value) in [
        ("x-pagination-count", result.total),
        ("x-pagination-page", page),
        ("x-pagination-pagesize", page_size),
        ("x-pagination-pagetotal", page_total.max(1)),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
    let packages = result
        .packages
        .iter()
        .map(|p| render::package(&base, p))
        .collect();
    Ok((headers, ApiJson(packages)))
}

/// One package, in any state.
#[utoipa::path(get, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    responses((status = 200, body = Package), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    base: BaseUrl,
    PackageAt { package, .. }: PackageAt<op::Read>,
) -> AppResult<ApiJson<Package>> {
    Ok(ApiJson(render::package(&base, &package)))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SyncStatusResponse {
    pub slug_perm: String,
    pub sync_status: SyncStatus,
    /// 0–100.
    pub sync_progress: i64,
    pub status_reason: Option<String>,
    pub state: PackageState,
    pub is_sync_completed: bool,
    pub is_sync_failed: bool,
    pub is_sync_in_progress: bool,
    pub uploaded_at: String,
    pub updated_at: String,
}

/// Sync status of a package.
#[utoipa::path(get, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/status", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    responses((status = 200, body = SyncStatusResponse), (status = 404, body = ErrorBody)))]
pub(crate) async fn status(
    PackageAt { package: p, .. }: PackageAt<op::Read>,
) -> AppResult<ApiJson<SyncStatusResponse>> {
    let sync_status = p.sync_status;
    Ok(ApiJson(SyncStatusResponse {
        slug_perm: p.slug_perm.clone(),
        sync_status,
        sync_progress: p.sync_progress,
        status_reason: p.status_reason.clone(),
        state: p.state(),
        is_sync_completed: sync_status == SyncStatus::Completed,
        is_sync_failed: sync_status == SyncStatus::Failed,
        is_sync_in_progress: matches!(sync_status, SyncStatus::AwaitingSync | SyncStatus::Syncing),
        uploaded_at: gantry_core::time::rfc3339(p.uploaded_at),
        updated_at: gantry_core::time::rfc3339(p.updated_at),
    }))
}

/// The provenance trail: every event of the package, and for a copy the trail of the
/// package it was copied from, oldest first.
#[utoipa::path(get, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/events", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    responses((status = 200, body = Vec<Event>), (status = 404, body = ErrorBody)))]
pub(crate) async fn events(
    Api { app, .. }: Api,
    PackageAt { package, .. }: PackageAt<op::Read>,
) -> AppResult<ApiJson<Vec<Event>>> {
    let trail = app.db.package_trail(&package.slug_perm).await?;
    Ok(ApiJson(trail.into_iter().map(render::event).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromoteRequest {
    /// `REPO` (same namespace) or `OWNER/REPO`.
    pub destination: String,
    /// Replace a package with the same identity in the destination instead of failing
    /// with 409.
    #[serde(default)]
    pub republish: bool,
}

async fn promote(
    app: &App,
    caller: &Caller,
    base: &BaseUrl,
    path: PackagePath,
    body: PromoteRequest,
    mode: PromotionMode,
) -> AppResult<(StatusCode, ApiJson<Package>)> {
    // Moving takes the package out of the source, so it needs more there than copying.
    let needed = match mode {
        PromotionMode::Copy => Op::Read,
        PromotionMode::Move => Op::MoveOut,
    };
    let (source, package) = path.load(app, caller, needed).await?;
    let slug = &package.slug_perm;
    if package.state() == PackageState::Deleted {
        return Err(AppError::Conflict(format!(
            "package {slug} is deleted; restore it before promoting it"
        )));
    }
    if package.state() == PackageState::Quarantined {
        return Err(AppError::Conflict(format!(
            "package {slug} is quarantined ({}); release it before promoting it",
            package
                .status_reason
                .as_deref()
                .unwrap_or("no reason given")
        )));
    }
    if package.sync_status != SyncStatus::Completed {
        return Err(AppError::Conflict(format!(
            "package {slug} cannot be promoted before its sync completes (sync status: {})",
            package.sync_status
        )));
    }
    let (dest_owner, dest_name) = parse_destination(&source.namespace, &body.destination)?;
    let dest = load_repo(app, caller, dest_owner, dest_name, Op::CopyInto)
        .await
        .map_err(|e| match e {
            AppError::Denied(inner, denial) if matches!(*inner, AppError::NotFound(_)) => {
                AppError::Denied(
                    Box::new(AppError::NotFound(format!(
                        "destination repository {dest_owner}/{dest_name} not found"
                    ))),
                    denial,
                )
            }
            AppError::NotFound(_) => AppError::NotFound(format!(
                "destination repository {dest_owner}/{dest_name} not found"
            )),
            other => other,
        })?;
    // A copy into its own repository would only replace the package with itself.
    if dest.id == source.id {
        return Err(AppError::Conflict(format!(
            "package {slug} is already in {}",
            dest.slug()
        )));
    }
    let event = caller.event(match mode {
        PromotionMode::Copy => EventType::PackageCopied,
        PromotionMode::Move => EventType::PackageMoved,
    });
    let promoted =
        crate::policy::promote(app, &package, &source, &dest, mode, body.republish, &event).await?;
    let status = match mode {
        PromotionMode::Copy => StatusCode::CREATED,
        PromotionMode::Move => StatusCode::OK,
    };
    Ok((status, ApiJson(render::package(base, &promoted))))
}

/// Copies a package to another repository: a new package (new `slug_perm`) with the same
/// bytes. Needs read on the source and write on the destination.
#[utoipa::path(post, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/copy", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    request_body = PromoteRequest,
    responses((status = 201, body = Package), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn copy(
    Api { app, caller }: Api,
    base: BaseUrl,
    path: PackagePath,
    ApiJson(body): ApiJson<PromoteRequest>,
) -> AppResult<(StatusCode, ApiJson<Package>)> {
    promote(&app, &caller, &base, path, body, PromotionMode::Copy).await
}

/// Moves a package to another repository, keeping its `slug_perm`. Needs admin on the
/// source and write on the destination.
#[utoipa::path(post, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/move", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    request_body = PromoteRequest,
    responses((status = 200, body = Package), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn move_(
    Api { app, caller }: Api,
    base: BaseUrl,
    path: PackagePath,
    ApiJson(body): ApiJson<PromoteRequest>,
) -> AppResult<(StatusCode, ApiJson<Package>)> {
    promote(&app, &caller, &base, path, body, PromotionMode::Move).await
}

/// Re-runs processing of a package (for example after a failed sync). Needs admin; 409 while
/// a sync is pending or running.
#[utoipa::path(post, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/resync", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    responses((status = 202, body = Package), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn resync(
    Api { app, caller }: Api,
    base: BaseUrl,
    PackageAt { package, .. }: PackageAt<op::Resync>,
) -> AppResult<(StatusCode, ApiJson<Package>)> {
    if package.state() == PackageState::Deleted {
        return Err(AppError::Conflict(format!(
            "package {} is deleted; restore it before resyncing it",
            package.slug_perm
        )));
    }
    let updated = app
        .db
        .request_resync(&package, &sync_job(&package.slug_perm, &caller.actor()))
        .await?;
    app.wake_workers();
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(render::package(&base, &updated)),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuarantineRequest {
    /// `true` releases a quarantined package.
    #[serde(default)]
    pub(crate) release: bool,
    /// Why; shown in the package's `status_reason` and in the 403 its downloads get.
    pub(crate) reason: Option<String>,
}

/// Quarantines a package (every native protocol refuses its files and leaves it out of
/// indexes; it stays visible in the API) or releases it. Needs the `quarantine` privilege.
#[utoipa::path(post, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/quarantine", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    request_body = QuarantineRequest,
    responses((status = 200, body = Package), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn quarantine(
    Api { app, caller }: Api,
    base: BaseUrl,
    path: PackagePath,
    ApiJson(body): ApiJson<QuarantineRequest>,
) -> AppResult<ApiJson<Package>> {
    let (_, package) = path.load(&app, &caller, Op::Quarantine).await?;
    let reason = body.reason.filter(|r| !r.trim().is_empty());
    if reason
        .as_deref()
        .is_some_and(|r| r.len() > 1000 || r.chars().any(char::is_control))
    {
        return Err(AppError::BadRequest(
            "reason must be at most 1000 characters without control characters".into(),
        ));
    }
    let (from, to, event_type) = if body.release {
        (
            PackageState::Quarantined,
            PackageState::Available,
            EventType::PackageReleased,
        )
    } else {
        (
            PackageState::Available,
            PackageState::Quarantined,
            EventType::PackageQuarantined,
        )
    };
    if package.state() != from {
        return Err(AppError::Conflict(format!(
            "package {} is {}, not {}",
            package.slug_perm,
            package.state(),
            from
        )));
    }
    let mut event = caller.event(event_type);
    event.context = serde_json::json!({ "reason": reason });
    let status_reason = if body.release {
        None
    } else {
        Some(reason.as_deref().unwrap_or("quarantined"))
    };
    let updated = app
        .db
        .set_package_state(&package, to, status_reason, &event)
        .await?;
    Ok(ApiJson(render::package(&base, &updated)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct YankRequest {
    /// `false` un-yanks.
    #[serde(default = "yes")]
    pub(crate) yanked: bool,
    pub(crate) reason: Option<String>,
}

fn yes() -> bool {
    true
}

/// Yanks a package (PEP 592, cargo yank): it stays downloadable for exact pins but indexes
/// mark it so resolvers skip it. Needs the `yank` privilege (write by default).
#[utoipa::path(post, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/yank", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    request_body = YankRequest,
    responses((status = 200, body = Package), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn yank(
    Api { app, caller }: Api,
    base: BaseUrl,
    path: PackagePath,
    ApiJson(body): ApiJson<YankRequest>,
) -> AppResult<ApiJson<Package>> {
    let (_, package) = path.load(&app, &caller, Op::Yank).await?;
    if body
        .reason
        .as_deref()
        .is_some_and(|r| r.len() > 1000 || r.chars().any(|c| c.is_control() && c != '\n'))
    {
        return Err(AppError::BadRequest(
            "reason must be at most 1000 characters without control characters".into(),
        ));
    }
    let mut event = caller.event(if body.yanked {
        EventType::PackageYanked
    } else {
        EventType::PackageUnyanked
    });
    event.context = serde_json::json!({ "reason": body.reason });
    let updated = app
        .db
        .set_yanked(&package, body.yanked, body.reason.as_deref(), &event)
        .await?;
    Ok(ApiJson(render::package(&base, &updated)))
}

/// Soft-deletes a package: it leaves listings and downloads but can be restored. Needs admin.
#[utoipa::path(delete, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    Api { app, caller }: Api,
    PackageAt { package, .. }: PackageAt<op::Delete>,
) -> AppResult<StatusCode> {
    if package.state() == PackageState::Deleted {
        return Err(AppError::NotFound(format!(
            "package {} is already deleted",
            package.slug_perm
        )));
    }
    app.db
        .set_package_state(
            &package,
            PackageState::Deleted,
            Some("deleted"),
            &caller.event(EventType::PackageDeleted),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restores a soft-deleted package. Needs admin; 409 when a live package has taken its
/// identity meanwhile.
#[utoipa::path(post, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/restore", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    responses((status = 200, body = Package), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(crate) async fn restore(
    Api { app, caller }: Api,
    base: BaseUrl,
    PackageAt { package, .. }: PackageAt<op::Delete>,
) -> AppResult<ApiJson<Package>> {
    if package.state() != PackageState::Deleted {
        return Err(AppError::Conflict(format!(
            "package {} is not deleted",
            package.slug_perm
        )));
    }
    let mut restored = app
        .db
        .set_package_state(
            &package,
            PackageState::Available,
            None,
            &caller.event(EventType::PackageRestored),
        )
        .await?;
    // A package deleted before its sync ran had its job skipped: queue it again.
    if restored.sync_status != SyncStatus::Completed && restored.sync_status != SyncStatus::Failed {
        if let Ok(requeued) = app
            .db
            .request_resync(&restored, &sync_job(&restored.slug_perm, &caller.actor()))
            .await
        {
            restored = requeued;
            app.wake_workers();
        }
    }
    Ok(ApiJson(render::package(&base, &restored)))
}
