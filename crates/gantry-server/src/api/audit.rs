//! The audit log of a namespace.

use gantry_core::Event;
use gantry_db::AuditFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{privilege, Api, Namespace};
use crate::error::{ApiJson, ApiQuery, AppError, AppResult, ErrorBody};
use crate::render;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct AuditParams {
    /// Part of the actor's name, e.g. `service:acme/ci` or a token prefix.
    pub(crate) actor: Option<String>,
    /// An event type, e.g. `package.moved` or `request.denied`.
    pub(crate) event: Option<String>,
    /// RFC 3339 time, inclusive.
    pub(crate) since: Option<String>,
    /// RFC 3339 time, exclusive.
    pub(crate) until: Option<String>,
    /// Events older than this event id (to page back).
    pub(crate) before: Option<i64>,
    /// At most this many events, newest first (default 100, at most 1000).
    pub(crate) limit: Option<i64>,
}

fn time(field: &str, text: Option<&str>) -> AppResult<Option<i64>> {
    text.map(|t| {
        gantry_core::time::parse_rfc3339(t).ok_or_else(|| {
            AppError::BadRequest(format!(
                "{field} must be an RFC 3339 time such as 2026-01-31T12:00:00Z"
            ))
        })
    })
    .transpose()
}

/// Every mutation and denied request in a namespace, newest first. Needs admin on the
/// namespace.
#[utoipa::path(get, path = "/api/v1/audit/{owner}", tag = "access",
    params(("owner" = String, Path), AuditParams),
    responses((status = 200, body = Vec<Event>), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub(crate) async fn audit(
    Api { app, .. }: Api,
    ApiQuery(params): ApiQuery<AuditParams>,
    owner: Namespace<privilege::Admin>,
) -> AppResult<ApiJson<Vec<Event>>> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let filter = AuditFilter {
        actor: params.actor.filter(|a| !a.is_empty()),
        event_type: params.event.filter(|e| !e.is_empty()),
        since: time("since", params.since.as_deref())?,
        until: time("until", params.until.as_deref())?,
        before_id: params.before,
        limit,
    };
    let rows = app.db.audit_events(owner.as_str(), &filter).await?;
    Ok(ApiJson(rows.into_iter().map(render::event).collect()))
}
