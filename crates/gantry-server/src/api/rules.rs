//! Promotion rules of a repository: built-in conditions that copy or move a package after it
//! is scanned or synced, through the same gate as a manual promotion.

use axum::http::StatusCode;
use gantry_core::EventType;
use gantry_db::{NewRule, RuleRow, RuleSpec};
use gantry_policy::Condition;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::policies::{check_name, compile, yes};
use super::{load_repo, op, parse_destination, repo_event, Api, NameParam, Repo, RepoPath};
use crate::access::Op;
use crate::error::{ApiJson, ApiPath, AppError, AppResult, ErrorBody};

const MAX_RULES: usize = 50;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRule {
    pub(crate) name: String,
    /// `package.security_scanned` (default) or `package.synced`.
    #[serde(default = "scanned", rename = "on")]
    pub(crate) on_event: String,
    /// The shorthand (`max_severity < high and tag == tested`), or `{"rego": "…"}` whose
    /// module defines `promote`.
    #[schema(value_type = Object)]
    pub(crate) condition: serde_json::Value,
    /// `copy` (default) or `move`.
    #[serde(default = "copy")]
    pub(crate) action: String,
    /// `REPO` (same namespace) or `OWNER/REPO`.
    pub(crate) destination: String,
    #[serde(default = "yes")]
    pub(crate) enabled: bool,
}

fn scanned() -> String {
    crate::policy::TRIGGER_SCANNED.into()
}
fn copy() -> String {
    "copy".into()
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Rule {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) on: String,
    /// The shorthand text, or `{"rego": …}`.
    #[schema(value_type = Object)]
    pub(crate) condition: serde_json::Value,
    pub(crate) action: String,
    pub(crate) destination: String,
    pub(crate) enabled: bool,
    pub(crate) created_by: String,
    pub(crate) created_at: String,
}

fn render_rule(r: &RuleRow) -> Rule {
    Rule {
        id: r.id,
        name: r.name.clone(),
        on: r.on_event.clone(),
        condition: if r.condition_kind == "rego" {
            serde_json::json!({ "rego": r.condition })
        } else {
            serde_json::Value::String(r.condition.clone())
        },
        action: r.action.clone(),
        destination: r.destination.clone(),
        enabled: r.enabled != 0,
        created_by: r.created_by.clone(),
        created_at: gantry_core::time::rfc3339(r.created_at),
    }
}

/// Adds a promotion rule: when a package of this repository is scanned (or synced) and
/// matches the condition, it is copied or moved to the destination through the same gate as
/// a manual promotion. Needs the `policies` privilege here and write on the destination.
#[utoipa::path(post, path = "/api/v1/repos/{owner}/{repo}/rules", tag = "policies",
    params(("owner" = String, Path), ("repo" = String, Path)), request_body = CreateRule,
    responses((status = 201, body = Rule), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create_rule(
    Api { app, caller }: Api,
    path: RepoPath,
    ApiJson(body): ApiJson<CreateRule>,
) -> AppResult<(StatusCode, ApiJson<Rule>)> {
    let repo = path.load(&app, &caller, Op::Policies).await?;
    let (rule, dest) = checked(&app, &caller, &repo, body).await?;
    if app.db.list_rules(repo.id, None).await?.len() >= MAX_RULES {
        return Err(AppError::Conflict(format!(
            "a repository may have at most {MAX_RULES} rules"
        )));
    }
    let row = app.db.create_rule(&rule).await?;
    let context = serde_json::json!({ "rule": row.name, "on": row.on_event, "action": row.action });
    let mut event = repo_event(&caller, EventType::RuleCreated, &repo, context);
    event.destination_repository = Some(dest);
    app.db.record_event(&event).await?;
    Ok((StatusCode::CREATED, ApiJson(render_rule(&row))))
}

/// Replaces a promotion rule (the body is a whole rule, as at creation; the name may change).
/// Needs the `policies` privilege here and write on the destination.
#[utoipa::path(put, path = "/api/v1/repos/{owner}/{repo}/rules/{name}", tag = "policies",
    params(("owner" = String, Path), ("repo" = String, Path), ("name" = String, Path)),
    request_body = CreateRule,
    responses((status = 200, body = Rule), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(crate) async fn update_rule(
    Api { app, caller }: Api,
    ApiPath(NameParam { name }): ApiPath<NameParam>,
    repo: Repo<op::Policies>,
    ApiJson(body): ApiJson<CreateRule>,
) -> AppResult<ApiJson<Rule>> {
    let Some(existing) = app
        .db
        .list_rules(repo.id, None)
        .await?
        .into_iter()
        .find(|r| r.name == name)
    else {
        return Err(AppError::NotFound(format!(
            "rule {name} not found in {}",
            repo.slug()
        )));
    };
    let (rule, dest) = checked(&app, &caller, &repo, body).await?;
    let row = app.db.update_rule(existing.id, &rule).await?;
    let context = serde_json::json!({ "rule": row.name, "was": name, "on": row.on_event, "action": row.action });
    let mut event = repo_event(&caller, EventType::RuleUpdated, &repo, context);
    event.destination_repository = Some(dest);
    app.db.record_event(&event).await?;
    Ok(ApiJson(render_rule(&row)))
}

/// A rule as submitted, checked: its name, trigger, action and condition (a Rego condition
/// must compile), and a destination the caller may copy into. Returns it with the
/// destination's `OWNER/REPO`.
async fn checked(
    app: &crate::app::App,
    caller: &crate::auth::Caller,
    repo: &gantry_db::RepoRow,
    body: CreateRule,
) -> AppResult<(NewRule, String)> {
    check_name("rule", &body.name)?;
    if !matches!(
        body.on_event.as_str(),
        "package.security_scanned" | "package.synced"
    ) {
        return Err(AppError::BadRequest(
            "on must be package.security_scanned or package.synced".into(),
        ));
    }
    if !matches!(body.action.as_str(), "copy" | "move") {
        return Err(AppError::BadRequest("action must be copy or move".into()));
    }
    let not_a_condition =
        || AppError::BadRequest("condition must be a shorthand string or {\"rego\": \"…\"}".into());
    let (kind, condition) = match &body.condition {
        serde_json::Value::String(text) => {
            let parsed = Condition::parse(text).map_err(|e| AppError::BadRequest(e.to_string()))?;
            ("shorthand", parsed.to_string())
        }
        serde_json::Value::Object(o) => match o.get("rego").and_then(|r| r.as_str()) {
            Some(rego) => {
                compile(rego).await?;
                ("rego", rego.to_owned())
            }
            None => return Err(not_a_condition()),
        },
        _ => return Err(not_a_condition()),
    };
    let (dest_owner, dest_name) = parse_destination(&repo.namespace, &body.destination)?;
    let dest = load_repo(app, caller, dest_owner, dest_name, Op::CopyInto).await?;
    if dest.id == repo.id {
        return Err(AppError::BadRequest(
            "a rule's destination must be another repository".into(),
        ));
    }
    let rule = NewRule {
        spec: RuleSpec {
            repository_id: repo.id,
            name: body.name,
            on_event: body.on_event,
            condition_kind: kind.into(),
            condition,
            action: body.action,
            destination_repository_id: dest.id,
            created_by: caller.actor(),
        },
        enabled: body.enabled,
    };
    Ok((rule, dest.slug()))
}

/// The repository's promotion rules.
#[utoipa::path(get, path = "/api/v1/repos/{owner}/{repo}/rules", tag = "policies",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = Vec<Rule>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_rules(
    Api { app, .. }: Api,
    repo: Repo<op::Read>,
) -> AppResult<ApiJson<Vec<Rule>>> {
    let rows = app.db.list_rules(repo.id, None).await?;
    Ok(ApiJson(rows.iter().map(render_rule).collect()))
}

/// Deletes a promotion rule.
#[utoipa::path(delete, path = "/api/v1/repos/{owner}/{repo}/rules/{name}", tag = "policies",
    params(("owner" = String, Path), ("repo" = String, Path), ("name" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_rule(
    Api { app, caller }: Api,
    ApiPath(NameParam { name }): ApiPath<NameParam>,
    repo: Repo<op::Policies>,
) -> AppResult<StatusCode> {
    if !app.db.delete_rule(repo.id, &name).await? {
        return Err(AppError::NotFound(format!(
            "rule {name} not found in {}",
            repo.slug()
        )));
    }
    let event = repo_event(
        &caller,
        EventType::RuleDeleted,
        &repo,
        serde_json::json!({ "rule": name }),
    );
    app.db.record_event(&event).await?;
    Ok(StatusCode::NO_CONTENT)
}
