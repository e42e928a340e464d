//! Health, metrics and identity.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{ApiJson, AppError, AppResult, ErrorBody};

/// Liveness and readiness: 200 once the server accepts requests and its database answers.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "ready", body = String),
              (status = 500, description = "database unreachable", body = ErrorBody)))]
pub(crate) async fn healthz(State(app): State<Arc<App>>) -> AppResult<&'static str> {
    app.db.ping().await?;
    Ok("ok\n")
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "metrics in the Prometheus text format", body = String)))]
pub(crate) async fn metrics(State(app): State<Arc<App>>) -> AppResult<impl IntoResponse> {
    let counts = app.db.package_counts_by_state().await?;
    let body = app.metrics.render(&counts).map_err(AppError::internal)?;
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
}

/// Who the presented token belongs to.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "tokens",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
pub(crate) async fn whoami(caller: Caller) -> ApiJson<WhoAmI> {
    let actor = caller.actor();
    let site_admin = caller.is_site_admin();
    ApiJson(match caller.principal {
        Principal::Anonymous => WhoAmI {
            authenticated: false,
            actor,
            site_admin,
            scope: None,
            privilege: None,
            expires_at: None,
        },
        Principal::Token(t) => WhoAmI {
            authenticated: true,
            actor,
            site_admin,
            scope: t.namespace.map(|ns| match t.repository {
                Some(repo) => format!("{ns}/{repo}"),
                None => ns,
            }),
            privilege: Some(t.privilege),
            expires_at: t.expires_at.map(gantry_core::time::rfc3339),
        },
    })
}
