//! Health, metrics and identity.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::Api;
use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{ApiJson, AppError, AppResult, ErrorBody};

/// Liveness: 200 once the server accepts requests and its database answers.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "alive", body = String),
              (status = 500, description = "database unreachable", body = ErrorBody)))]
pub(crate) async fn healthz(State(app): State<Arc<App>>) -> AppResult<&'static str> {
    app.db.ping().await?;
    Ok("ok\n")
}

/// Readiness: 200 when both the database and the blob store answer, 503 (naming which does
/// not) otherwise, so a load balancer sends requests only to replicas that can serve them.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses((status = 200, description = "ready", body = String),
              (status = 503, description = "the database or the blob store is unreachable",
               body = ErrorBody)))]
pub(crate) async fn readyz(State(app): State<Arc<App>>) -> AppResult<&'static str> {
    let probe = std::time::Duration::from_secs(2);
    let database = tokio::time::timeout(probe, app.db.ping()).await;
    if !matches!(database, Ok(Ok(()))) {
        return Err(AppError::Unavailable("the database is unreachable".into()));
    }
    let storage = tokio::time::timeout(probe, app.blobs.ping()).await;
    if let Ok(Err(error)) = &storage {
        tracing::warn!(%error, "readiness: the blob store does not answer");
    }
    if !matches!(storage, Ok(Ok(()))) {
        return Err(AppError::Unavailable(
            "the blob store is unreachable".into(),
        ));
    }
    Ok("ready\n")
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "metrics in the OpenMetrics text format", body = String,
        content_type = "application/openmetrics-text")))]
pub(crate) async fn metrics(State(app): State<Arc<App>>) -> AppResult<impl IntoResponse> {
    let counts = app.db.package_counts_by_state().await?;
    let job_counts = app.db.job_counts().await?;
    let body = app
        .metrics
        .render(&counts, &job_counts)
        .map_err(AppError::internal)?;
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WhoAmI {
    pub authenticated: bool,
    /// How the caller appears in events.
    pub actor: String,
    pub site_admin: bool,
    /// `OWNER` or `OWNER/REPO` the token is scoped to; absent for site admins.
    pub scope: Option<String>,
    pub privilege: Option<String>,
    pub expires_at: Option<String>,
    /// The principal the token acts for (`user:NAME`, `service:OWNER/NAME`), if any.
    pub principal: Option<String>,
    /// `api` or `entitlement`.
    pub kind: Option<String>,
}

/// Who the presented token belongs to.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "tokens",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
pub(crate) async fn whoami(caller: Caller) -> ApiJson<WhoAmI> {
    let actor = caller.actor();
    let site_admin = caller.is_site_admin();
    let principal = caller
        .owner
        .as_ref()
        .map(gantry_db::PrincipalRow::reference);
    ApiJson(match caller.principal {
        Principal::Anonymous => WhoAmI {
            authenticated: false,
            actor,
            site_admin,
            scope: None,
            privilege: None,
            expires_at: None,
            principal: None,
            kind: None,
        },
        Principal::Token(t) => {
            let t = *t;
            WhoAmI {
                authenticated: true,
                actor,
                site_admin,
                scope: t.namespace.map(|ns| match t.repository {
                    Some(repo) => format!("{ns}/{repo}"),
                    None => ns,
                }),
                privilege: Some(t.privilege),
                expires_at: t.expires_at.map(gantry_core::time::rfc3339),
                principal,
                kind: Some(t.kind),
            }
        }
    })
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct JobsParams {
    /// Comma-separated states among `queued`, `running`, `dead` (default: all three).
    pub(crate) state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Job {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) state: String,
    pub(crate) attempts: i64,
    pub(crate) max_attempts: i64,
    pub(crate) run_at: String,
    pub(crate) locked_by: Option<String>,
    pub(crate) last_error: Option<String>,
    pub(crate) payload: serde_json::Value,
    pub(crate) created_at: String,
}

/// Queued, running and dead jobs (finished jobs are not kept). Site admins only.
#[utoipa::path(get, path = "/api/v1/admin/jobs", tag = "admin", params(JobsParams),
    responses((status = 200, body = Vec<Job>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn jobs(
    Api { app, caller }: Api,
    crate::error::ApiQuery(params): crate::error::ApiQuery<JobsParams>,
) -> AppResult<ApiJson<Vec<Job>>> {
    if !caller.is_site_admin() {
        return Err(if caller.is_anonymous() {
            AppError::Unauthorized("authentication required".into())
        } else {
            AppError::Forbidden("only site admins may list jobs".into())
        });
    }
    let text = params.state.unwrap_or_else(|| "queued,running,dead".into());
    let states: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if states.is_empty() {
        return Err(AppError::BadRequest(
            "state must name at least one of queued, running, dead".into(),
        ));
    }
    if let Some(bad) = states.iter().find(|s| {
        ![
            gantry_db::JOB_QUEUED,
            gantry_db::JOB_RUNNING,
            gantry_db::JOB_DEAD,
        ]
        .contains(s)
    }) {
        return Err(AppError::BadRequest(format!(
            "unknown job state '{bad}' (known: queued, running, dead)"
        )));
    }
    let rows = app.db.list_jobs(&states, 1000).await?;
    Ok(ApiJson(
        rows.into_iter()
            .map(|j| Job {
                id: j.id,
                kind: j.kind,
                state: j.state,
                attempts: j.attempts,
                max_attempts: j.max_attempts,
                run_at: gantry_core::time::rfc3339(j.run_at),
                locked_by: j.locked_by,
                last_error: j.last_error,
                payload: serde_json::from_str(&j.payload).unwrap_or_default(),
                created_at: gantry_core::time::rfc3339(j.created_at),
            })
            .collect(),
    ))
}
