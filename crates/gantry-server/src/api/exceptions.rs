//! Vulnerability exceptions (VEX): create, list, withdraw, and export as OpenVEX.
//!
//! Creating or withdrawing one needs admin on the repository (a repository or namespace
//! admin); listing and exporting need read. Each change is written to the audit log and to
//! the provenance trail of every package it covers, and those packages are rescanned so
//! their figures (`num_vulnerabilities`, `max_severity`) and the gates follow.

use axum::http::StatusCode;
use gantry_core::EventType;
use gantry_db::{ExceptionRow, NewEvent, NewException, RepoRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::decisions::ReadableRepos;
use super::{load_package, op, privilege, repo_event, Api, IdParam, Namespace, Repo, RepoPath};
use crate::access::Op;
use crate::auth::Caller;
use crate::error::{ApiJson, ApiPath, AppError, AppResult, ErrorBody};
use crate::vex::{self, Brief, JUSTIFICATIONS, STATUSES};

const MAX_EXCEPTIONS: usize = 1000;
const MAX_TEXT: usize = 4000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateException {
    /// The advisory (its id or any alias of the finding).
    pub(crate) advisory_id: String,
    /// `not_affected`, `fixed` or `under_investigation` (OpenVEX statuses).
    pub(crate) status: String,
    /// Required with `not_affected`: one of OpenVEX's justifications
    /// (`component_not_present`, `vulnerable_code_not_present`,
    /// `vulnerable_code_not_in_execute_path`,
    /// `vulnerable_code_cannot_be_controlled_by_adversary`,
    /// `inline_mitigations_already_exist`).
    pub(crate) justification: Option<String>,
    /// Free text: why the advisory does not affect the product.
    pub(crate) impact_statement: Option<String>,
    /// RFC 3339 time or `YYYY-MM-DD` (midnight UTC) when the exception lapses.
    pub(crate) expires_at: Option<String>,
    /// One package (`slug_perm`) …
    pub(crate) slug_perm: Option<String>,
    /// … or every package of this name (optionally a version range such as `>=1.0,<2.0`) …
    pub(crate) name: Option<String>,
    pub(crate) versions: Option<String>,
    /// … or, with `true`, the whole repository.
    #[serde(default)]
    pub(crate) repository: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VulnerabilityException {
    pub(crate) id: i64,
    /// `OWNER/REPO`.
    pub(crate) repository: String,
    /// `package`, `name` or `repository`.
    pub(crate) scope: String,
    pub(crate) slug_perm: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) versions: Option<String>,
    pub(crate) advisory_id: String,
    pub(crate) status: String,
    pub(crate) justification: Option<String>,
    pub(crate) impact_statement: Option<String>,
    pub(crate) expires_at: Option<String>,
    /// False once past `expires_at`.
    pub(crate) active: bool,
    pub(crate) author: String,
    pub(crate) created_at: String,
}

fn render(e: &ExceptionRow, now: i64) -> VulnerabilityException {
    VulnerabilityException {
        id: e.id,
        repository: e.repository.clone(),
        scope: e.scope.clone(),
        slug_perm: e.slug_perm.clone(),
        name: e.name.clone(),
        versions: e.versions.clone(),
        advisory_id: e.advisory_id.clone(),
        status: e.status.clone(),
        justification: e.justification.clone(),
        impact_statement: e.impact_statement.clone(),
        expires_at: e.expires_at.map(gantry_core::time::rfc3339),
        active: e.is_active(now),
        author: e.author.clone(),
        created_at: gantry_core::time::rfc3339(e.created_at),
    }
}

fn parse_expiry(text: &str, now: i64) -> AppResult<i64> {
    let text = text.trim();
    let at = gantry_core::time::parse_rfc3339(text)
        .or_else(|| gantry_core::time::parse_rfc3339(&format!("{text}T00:00:00Z")))
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "expires_at '{text}' is neither an RFC 3339 time nor a YYYY-MM-DD date"
            ))
        })?;
    if at <= now {
        return Err(AppError::BadRequest(format!(
            "expires_at '{text}' is in the past"
        )));
    }
    Ok(at)
}

fn bounded(field: &str, value: Option<String>) -> AppResult<Option<String>> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if value.as_ref().is_some_and(|v| v.len() > MAX_TEXT) {
        return Err(AppError::BadRequest(format!(
            "{field} is longer than {MAX_TEXT} bytes"
        )));
    }
    Ok(value)
}

/// Checks the body against the OpenVEX rules and turns it into a row to store.
async fn validate(
    api: &Api,
    repo: &RepoRow,
    body: CreateException,
    now: i64,
) -> AppResult<NewException> {
    let advisory_id = body.advisory_id.trim().to_owned();
    if advisory_id.is_empty()
        || advisory_id.len() > 200
        || advisory_id.chars().any(char::is_whitespace)
    {
        return Err(AppError::BadRequest(
            "advisory_id must be an advisory id such as PYSEC-2019-217".into(),
        ));
    }
    if !STATUSES.contains(&body.status.as_str()) {
        return Err(AppError::BadRequest(format!(
            "status must be one of {}",
            STATUSES.join(", ")
        )));
    }
    let justification = bounded("justification", body.justification)?;
    match (&justification, body.status.as_str()) {
        (None, "not_affected") => {
            return Err(AppError::BadRequest(format!(
                "not_affected needs a justification: one of {}",
                JUSTIFICATIONS.join(", ")
            )))
        }
        (Some(j), "not_affected") if !JUSTIFICATIONS.contains(&j.as_str()) => {
            return Err(AppError::BadRequest(format!(
                "justification must be one of {}",
                JUSTIFICATIONS.join(", ")
            )))
        }
        (Some(_), s) if s != "not_affected" => {
            return Err(AppError::BadRequest(
                "a justification goes with not_affected only".into(),
            ))
        }
        _ => {}
    }
    let name = bounded("name", body.name)?;
    let versions = bounded("versions", body.versions)?;
    let scope = match (&body.slug_perm, &name, body.repository) {
        (Some(slug), None, false) => {
            // The package must be one of this repository's.
            load_package(&api.app, repo, slug).await?;
            "package"
        }
        (None, Some(_), false) => "name",
        (None, None, true) => "repository",
        _ => return Err(AppError::BadRequest(
            "give exactly one scope: slug_perm, name (with optional versions), or repository: true"
                .into(),
        )),
    };
    if let Some(range) = &versions {
        if scope != "name" {
            return Err(AppError::BadRequest("versions goes with name only".into()));
        }
        vex::parse_range(range).map_err(|e| AppError::BadRequest(format!("versions: {e}")))?;
    }
    let expires_at = body
        .expires_at
        .as_deref()
        .map(|t| parse_expiry(t, now))
        .transpose()?;
    Ok(NewException {
        repository_id: repo.id,
        scope: scope.into(),
        slug_perm: body.slug_perm.filter(|_| scope == "package"),
        name,
        versions,
        advisory_id,
        status: body.status,
        justification,
        impact_statement: bounded("impact_statement", body.impact_statement)?,
        expires_at,
        author: api.caller.actor(),
    })
}

/// The audit event and one event per covered package, for the trail.
fn events(
    caller: &Caller,
    event_type: EventType,
    repo: &RepoRow,
    context: &serde_json::Value,
    covered: &[Brief],
) -> Vec<NewEvent> {
    let mut out = vec![repo_event(caller, event_type, repo, context.clone())];
    for p in covered {
        let mut e = repo_event(caller, event_type, repo, context.clone());
        e.slug_perm = Some(p.1.clone());
        e.checksum_sha256 = Some(p.6.clone());
        out.push(e);
    }
    out
}

/// Marks an advisory as not affecting a package, a name (and version range) or the whole
/// repository, with an OpenVEX status. Needs admin on the repository.
#[utoipa::path(post, path = "/api/v1/vulnerability-exceptions/{owner}/{repo}", tag = "security",
    params(("owner" = String, Path), ("repo" = String, Path)), request_body = CreateException,
    responses((status = 201, body = VulnerabilityException), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    api: Api,
    path: RepoPath,
    ApiJson(body): ApiJson<CreateException>,
) -> AppResult<(StatusCode, ApiJson<VulnerabilityException>)> {
    let repo = path.load(&api.app, &api.caller, Op::Admin).await?;
    let now = gantry_core::time::now_millis();
    let new = validate(&api, &repo, body, now).await?;
    if api.app.db.repository_exceptions(repo.id).await?.len() >= MAX_EXCEPTIONS {
        return Err(AppError::Conflict(format!(
            "a repository may have at most {MAX_EXCEPTIONS} exceptions"
        )));
    }
    // Which packages it covers is judged on a row shaped like the one to be stored.
    let probe = ExceptionRow {
        id: 0,
        repository: repo.slug(),
        exception: new.clone(),
        created_at: now,
        expired_at: None,
    };
    let covered = vex::covered_packages(&api.app, &probe)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut context = vex::summary(&probe);
    context["advisory_id"] = new.advisory_id.clone().into();
    if let Some(o) = context.as_object_mut() {
        o.remove("id");
        o.insert("slug_perm".into(), new.slug_perm.clone().into());
        o.insert("name".into(), new.name.clone().into());
        o.insert("versions".into(), new.versions.clone().into());
    }
    let evs = events(
        &api.caller,
        EventType::VulnerabilityExceptionCreated,
        &repo,
        &context,
        &covered,
    );
    let row = api.app.db.create_exception(&new, &evs).await?;
    if let Some(at) = row.expires_at {
        vex::expiry_due_by(&api.app, at).await?;
    }
    vex::rescan(&api.app, &covered, "exception created")
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((StatusCode::CREATED, ApiJson(render(&row, now))))
}

/// The exceptions of one repository (read access).
#[utoipa::path(get, path = "/api/v1/vulnerability-exceptions/{owner}/{repo}", tag = "security",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = Vec<VulnerabilityException>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_repo(
    Api { app, .. }: Api,
    repo: Repo<op::Read>,
) -> AppResult<ApiJson<Vec<VulnerabilityException>>> {
    let now = gantry_core::time::now_millis();
    let rows = app
        .db
        .list_exceptions(&repo.namespace, Some(&repo.name))
        .await?;
    Ok(ApiJson(rows.iter().map(|e| render(e, now)).collect()))
}

/// The exceptions of every repository of a namespace that the caller may read.
#[utoipa::path(get, path = "/api/v1/vulnerability-exceptions/{owner}", tag = "security",
    params(("owner" = String, Path)),
    responses((status = 200, body = Vec<VulnerabilityException>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub(crate) async fn list_namespace(
    Api { app, caller }: Api,
    ns: Namespace<privilege::Read>,
) -> AppResult<ApiJson<Vec<VulnerabilityException>>> {
    let now = gantry_core::time::now_millis();
    let rows = app.db.list_exceptions(ns.as_str(), None).await?;
    let mut readable = ReadableRepos::default();
    let mut out = Vec::new();
    for row in &rows {
        if readable.one(&app, &caller, &row.repository).await? {
            out.push(render(row, now));
        }
    }
    Ok(ApiJson(out))
}

/// Withdraws an exception: its findings count again (after the rescan it queues).
#[utoipa::path(delete, path = "/api/v1/vulnerability-exceptions/{owner}/{repo}/{id}", tag = "security",
    params(("owner" = String, Path), ("repo" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "withdrawn"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    Api { app, caller }: Api,
    ApiPath(IdParam { id }): ApiPath<IdParam>,
    repo: Repo<op::Admin>,
) -> AppResult<StatusCode> {
    let row = app.db.get_exception(repo.id, id).await?.ok_or_else(|| {
        AppError::NotFound(format!("exception {id} not found in {}", repo.slug()))
    })?;
    let covered = vex::covered_packages(&app, &row)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let context = serde_json::json!({
        "exception_id": row.id,
        "advisory_id": row.advisory_id,
        "status": row.status,
        "scope": row.scope,
    });
    let evs = events(
        &caller,
        EventType::VulnerabilityExceptionDeleted,
        &repo,
        &context,
        &covered,
    );
    app.db.delete_exception(row.id, &evs).await?;
    vex::rescan(&app, &covered, "exception withdrawn")
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The repository's active exceptions as an OpenVEX document (read access).
#[utoipa::path(get, path = "/api/v1/vulnerability-exceptions/{owner}/{repo}/openvex", tag = "security",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, description = "an OpenVEX v0.2.0 document", body = Object),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn openvex(
    Api { app, .. }: Api,
    repo: Repo<op::Read>,
) -> AppResult<ApiJson<serde_json::Value>> {
    let doc = vex::openvex_document(&app, &repo)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(ApiJson(doc))
}
