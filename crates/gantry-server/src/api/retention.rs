//! Retention rules of a repository: create, list, delete, and run now (or as a dry run).
//! Creating, deleting and running need admin on the repository; listing needs read.

use axum::http::StatusCode;
use gantry_core::{EventType, PackageQuery};
use gantry_db::{NewRetentionRule, RetentionRuleRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::policies::check_name;
use super::{op, repo_event, Api, IdParam, Repo};
use crate::error::{ApiJson, ApiPath, AppError, AppResult, ErrorBody};
use crate::retention::Removal;

const MAX_RULES: usize = 50;
/// Longest period a rule may name (about 100 years).
const MAX_DAYS: i64 = 36_500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRetentionRule {
    pub(crate) name: String,
    /// Keep the newest N uploads of each package name (per format); older ones may go.
    pub(crate) keep_last: Option<i64>,
    /// Delete packages uploaded more than D days ago. With `keep_last`, a package goes only
    /// when it is beyond the newest N *and* older than D.
    pub(crate) older_than_days: Option<i64>,
    /// Only packages matching this query (the listing's syntax, e.g. `tag:nightly`); empty
    /// for all.
    #[serde(default)]
    pub(crate) query: String,
    /// Keep packages that have a live copy in another repository (promoted onwards).
    /// Default true.
    #[serde(default = "yes")]
    pub(crate) protect_promoted: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RetentionRule {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) keep_last: Option<i64>,
    pub(crate) older_than_days: Option<i64>,
    pub(crate) query: String,
    pub(crate) protect_promoted: bool,
    pub(crate) created_by: String,
    pub(crate) created_at: String,
}

fn render(r: &RetentionRuleRow) -> RetentionRule {
    RetentionRule {
        id: r.id,
        name: r.name.clone(),
        keep_last: r.keep_last,
        older_than_days: r.older_than_days,
        query: r.query.clone(),
        protect_promoted: r.protect_promoted != 0,
        created_by: r.created_by.clone(),
        created_at: gantry_core::time::rfc3339(r.created_at),
    }
}

/// Adds a retention rule; scheduled rounds (hourly by default) apply it, and `…/run` applies
/// it now. Needs admin on the repository.
#[utoipa::path(post, path = "/api/v1/repos/{owner}/{repo}/retention", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path)), request_body = CreateRetentionRule,
    responses((status = 201, body = RetentionRule), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    Api { app, caller }: Api,
    repo: Repo<op::Admin>,
    ApiJson(body): ApiJson<CreateRetentionRule>,
) -> AppResult<(StatusCode, ApiJson<RetentionRule>)> {
    check_name("retention rule", &body.name)?;
    if body.keep_last.is_none() && body.older_than_days.is_none() {
        return Err(AppError::BadRequest(
            "a retention rule needs keep_last, older_than_days or both".into(),
        ));
    }
    if body
        .keep_last
        .is_some_and(|n| !(0..=1_000_000).contains(&n))
    {
        return Err(AppError::BadRequest(
            "keep_last must be between 0 and 1000000".into(),
        ));
    }
    if body
        .older_than_days
        .is_some_and(|d| !(0..=MAX_DAYS).contains(&d))
    {
        return Err(AppError::BadRequest(format!(
            "older_than_days must be between 0 and {MAX_DAYS}"
        )));
    }
    PackageQuery::parse(&body.query)?;
    if app.db.retention_rules(Some(repo.id)).await?.len() >= MAX_RULES {
        return Err(AppError::Conflict(format!(
            "a repository may have at most {MAX_RULES} retention rules"
        )));
    }
    let row = app
        .db
        .create_retention_rule(&NewRetentionRule {
            repository_id: repo.id,
            name: body.name,
            keep_last: body.keep_last,
            older_than_days: body.older_than_days,
            query: body.query,
            protect_promoted: body.protect_promoted,
            created_by: caller.actor(),
        })
        .await?;
    let rule = render(&row);
    let context = serde_json::to_value(&rule).unwrap_or_default();
    let event = repo_event(&caller, EventType::RetentionRuleCreated, &repo, context);
    app.db.record_event(&event).await?;
    crate::retention::schedule(&app)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((StatusCode::CREATED, ApiJson(rule)))
}

/// The repository's retention rules.
#[utoipa::path(get, path = "/api/v1/repos/{owner}/{repo}/retention", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = Vec<RetentionRule>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    Api { app, .. }: Api,
    repo: Repo<op::Read>,
) -> AppResult<ApiJson<Vec<RetentionRule>>> {
    let rows = app.db.retention_rules(Some(repo.id)).await?;
    Ok(ApiJson(rows.iter().map(render).collect()))
}

/// Deletes a retention rule. Needs admin on the repository.
#[utoipa::path(delete, path = "/api/v1/repos/{owner}/{repo}/retention/{id}", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    Api { app, caller }: Api,
    ApiPath(IdParam { id }): ApiPath<IdParam>,
    repo: Repo<op::Admin>,
) -> AppResult<StatusCode> {
    if !app.db.delete_retention_rule(repo.id, id).await? {
        return Err(AppError::NotFound(format!(
            "retention rule {id} not found in {}",
            repo.slug()
        )));
    }
    let context = serde_json::json!({ "retention_rule_id": id });
    let event = repo_event(&caller, EventType::RetentionRuleDeleted, &repo, context);
    app.db.record_event(&event).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunRetention {
    /// List what would be deleted without deleting it.
    #[serde(default)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RetentionResult {
    pub(crate) dry_run: bool,
    /// The packages deleted (soft: restorable until garbage collection), or with `dry_run`
    /// those that would be.
    pub(crate) packages: Vec<Removal>,
}

/// Applies the repository's retention rules now. Needs admin on the repository.
#[utoipa::path(post, path = "/api/v1/repos/{owner}/{repo}/retention/run", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path)), request_body = RunRetention,
    responses((status = 200, body = RetentionResult), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn run(
    Api { app, .. }: Api,
    repo: Repo<op::Admin>,
    ApiJson(body): ApiJson<RunRetention>,
) -> AppResult<ApiJson<RetentionResult>> {
    let rules = app.db.retention_rules(Some(repo.id)).await?;
    let packages = crate::retention::run(&app, &repo, &rules, body.dry_run)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(ApiJson(RetentionResult {
        dry_run: body.dry_run,
        packages,
    }))
}
