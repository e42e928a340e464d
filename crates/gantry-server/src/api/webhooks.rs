//! Webhooks of a repository: create, list, get, update, delete, ping, deliveries, redeliver.
//! Managing webhooks needs admin on the repository.

use axum::http::StatusCode;
use gantry_core::{EventType, PackageQuery};
use gantry_db::{
    AttemptRow, DeliveryRow, NewDelivery, NewWebhook, RepoRow, WebhookRow, WebhookUpdate,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{op, repo_event, Api, IdParam, Repo, RepoPath};
use crate::access::Op;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiJson, ApiPath, AppError, AppResult, ErrorBody};
use crate::jobs::webhooks::{attempt_result, send, Deliver};

const MAX_WEBHOOKS_PER_REPO: usize = 100;
const MAX_URL_LEN: usize = 2048;
const MAX_SECRET_LEN: usize = 256;
const DELIVERIES_SHOWN: i64 = 50;

/// A header sent with every delivery, for receivers such as CI systems.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct ExtraHeader {
    pub(crate) name: String,
    pub(crate) value: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateWebhook {
    /// `http://` or `https://` URL that receives a POST per event.
    pub(crate) target_url: String,
    /// Event types (see the Contract) or `["*"]` for all.
    pub(crate) events: Vec<String>,
    /// When set, deliveries carry `X-Gantry-Signature-256: sha256=<HMAC-SHA256 of the body>`.
    pub(crate) secret: Option<String>,
    /// Only packages matching this query (`name:app tag:tested`, as in listings).
    pub(crate) package_query: Option<String>,
    pub(crate) extra_header: Option<ExtraHeader>,
    #[serde(default = "yes")]
    pub(crate) is_active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateWebhook {
    pub(crate) target_url: Option<String>,
    pub(crate) events: Option<Vec<String>>,
    /// Empty string removes the secret.
    pub(crate) secret: Option<String>,
    /// Empty string removes the filter.
    pub(crate) package_query: Option<String>,
    /// `null` keeps it; use `{"name": "", "value": ""}` to remove it.
    pub(crate) extra_header: Option<ExtraHeader>,
    /// `true` re-enables a webhook disabled after failures.
    pub(crate) is_active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Webhook {
    pub(crate) id: i64,
    pub(crate) repository: String,
    pub(crate) target_url: String,
    pub(crate) events: Vec<String>,
    /// The secret itself is never shown again.
    pub(crate) has_secret: bool,
    pub(crate) package_query: Option<String>,
    /// Name of the extra header; its value is not shown.
    pub(crate) extra_header_name: Option<String>,
    pub(crate) is_active: bool,
    /// Why the webhook was disabled automatically.
    pub(crate) disabled_reason: Option<String>,
    pub(crate) consecutive_failures: i64,
    pub(crate) created_by: String,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
}

/// How one delivery attempt went, as a caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Outcome {
    pub(crate) status_code: Option<i64>,
    pub(crate) latency_ms: i64,
    /// The start of the receiver's answer; for a receiver in a private range (allowed by the
    /// operator) shown to site admins only.
    pub(crate) response_excerpt: Option<String>,
    /// The excerpt exists but is withheld: the receiver is in a private range.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) response_excerpt_hidden: bool,
    pub(crate) error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Attempt {
    pub(crate) attempted_at: String,
    #[serde(flatten)]
    pub(crate) outcome: Outcome,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Delivery {
    pub(crate) id: i64,
    /// The `X-Gantry-Delivery` value and the payload's `delivery_id`.
    pub(crate) delivery_id: String,
    pub(crate) event: String,
    /// `pending`, `retrying`, `delivered` or `failed`.
    pub(crate) state: String,
    pub(crate) attempts: i64,
    pub(crate) last_status_code: Option<i64>,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) attempt_log: Vec<Attempt>,
    pub(crate) payload: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PingResult {
    pub(crate) delivery_id: String,
    pub(crate) success: bool,
    #[serde(flatten)]
    pub(crate) outcome: Outcome,
}

/// An attempt's outcome as `caller` may see it.
fn outcome(
    caller: &Caller,
    status_code: Option<i64>,
    latency_ms: i64,
    answer: Option<&String>,
    private_target: bool,
    error: Option<String>,
) -> Outcome {
    let (response_excerpt, response_excerpt_hidden) = excerpt(caller, answer, private_target);
    Outcome {
        status_code,
        latency_ms,
        response_excerpt,
        response_excerpt_hidden,
        error,
    }
}

/// A receiver's answer as `caller` may see it: a private-range receiver's answer would let a
/// repository admin read internal services through Gantry, so only site admins see it.
fn excerpt(caller: &Caller, text: Option<&String>, private_target: bool) -> (Option<String>, bool) {
    match text {
        Some(_) if private_target && !caller.is_site_admin() => (None, true),
        other => (other.cloned(), false),
    }
}

fn render(row: &WebhookRow) -> Webhook {
    Webhook {
        id: row.id,
        repository: row.repository.clone(),
        target_url: row.target_url.clone(),
        events: row.event_types(),
        has_secret: row.secret.as_deref().is_some_and(|s| !s.is_empty()),
        package_query: row.package_query.clone(),
        extra_header_name: row.extra_header_name.clone(),
        is_active: row.is_active != 0,
        disabled_reason: row.disabled_reason.clone(),
        consecutive_failures: row.consecutive_failures,
        created_by: row.created_by.clone(),
        created_at: gantry_core::time::rfc3339(row.created_at),
        updated_at: gantry_core::time::rfc3339(row.updated_at),
    }
}

fn render_delivery(caller: &Caller, row: &DeliveryRow, attempts: &[AttemptRow]) -> Delivery {
    Delivery {
        id: row.id,
        delivery_id: row.delivery_uuid.clone(),
        event: row.event_type.clone(),
        state: row.state.clone(),
        attempts: row.attempts,
        last_status_code: row.last_status_code,
        last_error: row.last_error.clone(),
        created_at: gantry_core::time::rfc3339(row.created_at),
        updated_at: gantry_core::time::rfc3339(row.updated_at),
        attempt_log: attempts
            .iter()
            .filter(|a| a.delivery_id == row.id)
            .map(|a| Attempt {
                attempted_at: gantry_core::time::rfc3339(a.attempted_at),
                outcome: outcome(
                    caller,
                    a.status_code,
                    a.latency_ms,
                    a.response_excerpt.as_ref(),
                    a.private_target != 0,
                    a.error.clone(),
                ),
            })
            .collect(),
        payload: serde_json::from_str(&row.payload).unwrap_or_default(),
    }
}

async fn check_target(app: &App, url: &str) -> AppResult<()> {
    if url.len() > MAX_URL_LEN {
        return Err(AppError::BadRequest(format!(
            "target_url is longer than {MAX_URL_LEN} characters"
        )));
    }
    app.outbound
        .check(url)
        .await
        .map_err(|e| AppError::BadRequest(e.to_string()))
}

fn check_events(events: &[String]) -> AppResult<()> {
    if events.is_empty() || events.len() > 64 {
        return Err(AppError::BadRequest(
            "events must list 1 to 64 event types, or [\"*\"]".into(),
        ));
    }
    if let Some(bad) = events.iter().find(|e| {
        *e != "*"
            && EventType::parse(e)
                .is_none_or(|t| !t.as_str().starts_with("package.") && t != EventType::Ping)
    }) {
        return Err(AppError::BadRequest(format!(
            "unknown event type '{bad}' (use package.* types from the documentation, or \"*\")"
        )));
    }
    Ok(())
}

fn check_query(query: Option<&str>) -> AppResult<()> {
    if let Some(q) = query {
        PackageQuery::parse(q)?;
    }
    Ok(())
}

fn check_secret(secret: Option<&str>) -> AppResult<()> {
    if secret.is_some_and(|s| s.len() > MAX_SECRET_LEN || s.chars().any(char::is_control)) {
        return Err(AppError::BadRequest(format!(
            "secret must be at most {MAX_SECRET_LEN} characters without control characters"
        )));
    }
    Ok(())
}

/// Header names a webhook may not set: those Gantry sends itself, and hop-by-hop ones.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "user-agent",
];

fn check_header(header: &ExtraHeader) -> AppResult<()> {
    let name = header.name.to_ascii_lowercase();
    let valid = axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        && axum::http::HeaderValue::from_str(&header.value).is_ok();
    if !valid || name.starts_with("x-gantry-") || RESERVED_HEADERS.contains(&name.as_str()) {
        return Err(AppError::BadRequest(format!(
            "extra_header '{}' is not a valid custom header (X-Gantry-*, Host, User-Agent, Content-Type, Content-Length and hop-by-hop headers are reserved)",
            header.name
        )));
    }
    Ok(())
}

/// The `{id}` of a webhook and the `{delivery}` of one of its deliveries.
#[derive(Deserialize)]
pub(crate) struct DeliveryPath {
    id: i64,
    delivery: i64,
}

/// Records a change to a webhook in the audit log (never its secret).
async fn audit(
    app: &App,
    caller: &Caller,
    repo: &RepoRow,
    event_type: EventType,
    webhook: &WebhookRow,
) -> AppResult<()> {
    let context = serde_json::json!({
        "webhook_id": webhook.id, "target_url": webhook.target_url,
        "events": webhook.event_types(), "is_active": webhook.is_active != 0,
    });
    app.db
        .record_event(&repo_event(caller, event_type, repo, context))
        .await?;
    Ok(())
}

async fn load_webhook(app: &App, repo: &RepoRow, id: i64) -> AppResult<WebhookRow> {
    app.db
        .get_webhook(repo.id, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("webhook {id} not found in {}", repo.slug())))
}

/// Creates a webhook. Needs admin on the repository.
#[utoipa::path(post, path = "/api/v1/webhooks/{owner}/{repo}", tag = "webhooks",
    params(("owner" = String, Path), ("repo" = String, Path)),
    request_body = CreateWebhook,
    responses((status = 201, body = Webhook), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    Api { app, caller }: Api,
    path: RepoPath,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> AppResult<(StatusCode, ApiJson<Webhook>)> {
    let repo = path.load(&app, &caller, Op::Webhooks).await?;
    check_target(&app, &body.target_url).await?;
    check_events(&body.events)?;
    check_query(body.package_query.as_deref())?;
    check_secret(body.secret.as_deref())?;
    if let Some(h) = &body.extra_header {
        check_header(h)?;
    }
    if app.db.list_webhooks(repo.id).await?.len() >= MAX_WEBHOOKS_PER_REPO {
        return Err(AppError::Conflict(format!(
            "a repository may have at most {MAX_WEBHOOKS_PER_REPO} webhooks"
        )));
    }
    let row = app
        .db
        .create_webhook(&NewWebhook {
            repository_id: repo.id,
            repository: repo.slug(),
            target_url: body.target_url,
            events: body.events,
            secret: body.secret.filter(|s| !s.is_empty()),
            package_query: body.package_query.filter(|q| !q.trim().is_empty()),
            extra_header: body.extra_header.map(|h| (h.name, h.value)),
            is_active: body.is_active,
            created_by: caller.actor(),
        })
        .await?;
    audit(&app, &caller, &repo, EventType::WebhookCreated, &row).await?;
    Ok((StatusCode::CREATED, ApiJson(render(&row))))
}

/// Webhooks of a repository.
#[utoipa::path(get, path = "/api/v1/webhooks/{owner}/{repo}", tag = "webhooks",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = Vec<Webhook>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    Api { app, .. }: Api,
    repo: Repo<op::Webhooks>,
) -> AppResult<ApiJson<Vec<Webhook>>> {
    let rows = app.db.list_webhooks(repo.id).await?;
    Ok(ApiJson(rows.iter().map(render).collect()))
}

/// One webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{owner}/{repo}/{id}", tag = "webhooks",
    params(("owner" = String, Path), ("repo" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Webhook), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    Api { app, .. }: Api,
    ApiPath(IdParam { id }): ApiPath<IdParam>,
    repo: Repo<op::Webhooks>,
) -> AppResult<ApiJson<Webhook>> {
    Ok(ApiJson(render(&load_webhook(&app, &repo, id).await?)))
}

/// Changes a webhook; `is_active: true` re-enables one disabled after failures.
#[utoipa::path(patch, path = "/api/v1/webhooks/{owner}/{repo}/{id}", tag = "webhooks",
    params(("owner" = String, Path), ("repo" = String, Path), ("id" = i64, Path)),
    request_body = UpdateWebhook,
    responses((status = 200, body = Webhook), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn update(
    Api { app, caller }: Api,
    ApiPath(IdParam { id }): ApiPath<IdParam>,
    path: RepoPath,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> AppResult<ApiJson<Webhook>> {
    let repo = path.load(&app, &caller, Op::Webhooks).await?;
    load_webhook(&app, &repo, id).await?;
    if let Some(url) = &body.target_url {
        check_target(&app, url).await?;
    }
    if let Some(events) = &body.events {
        check_events(events)?;
    }
    check_query(body.package_query.as_deref())?;
    check_secret(body.secret.as_deref())?;
    let extra_header = match body.extra_header {
        None => None,
        Some(h) if h.name.is_empty() => Some(None),
        Some(h) => {
            check_header(&h)?;
            Some(Some((h.name, h.value)))
        }
    };
    let row = app
        .db
        .update_webhook(
            id,
            &WebhookUpdate {
                target_url: body.target_url,
                events: body.events,
                secret: body.secret.map(|s| Some(s).filter(|s| !s.is_empty())),
                package_query: body
                    .package_query
                    .map(|q| Some(q).filter(|q| !q.trim().is_empty())),
                extra_header,
                is_active: body.is_active,
            },
        )
        .await?;
    audit(&app, &caller, &repo, EventType::WebhookUpdated, &row).await?;
    Ok(ApiJson(render(&row)))
}

/// Deletes a webhook and its delivery history.
#[utoipa::path(delete, path = "/api/v1/webhooks/{owner}/{repo}/{id}", tag = "webhooks",
    params(("owner" = String, Path), ("repo" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    Api { app, caller }: Api,
    ApiPath(IdParam { id }): ApiPath<IdParam>,
    repo: Repo<op::Webhooks>,
) -> AppResult<StatusCode> {
    let row = load_webhook(&app, &repo, id).await?;
    app.db.delete_webhook(id).await?;
    audit(&app, &caller, &repo, EventType::WebhookDeleted, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a `ping` event at once and reports the receiver's answer.
#[utoipa::path(post, path = "/api/v1/webhooks/{owner}/{repo}/{id}/ping", tag = "webhooks",
    params(("owner" = String, Path), ("repo" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = PingResult), (status = 404, body = ErrorBody)))]
pub(crate) async fn ping(
    Api { app, caller }: Api,
    ApiPath(IdParam { id }): ApiPath<IdParam>,
    repo: Repo<op::Webhooks>,
) -> AppResult<ApiJson<PingResult>> {
    let webhook = load_webhook(&app, &repo, id).await?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let payload = gantry_webhooks::Payload {
        event: EventType::Ping.as_str().to_owned(),
        delivery_id: uuid.clone(),
        occurred_at: gantry_core::time::rfc3339(gantry_core::time::now_millis()),
        repository: repo.slug(),
        package: serde_json::Value::Null,
        context: serde_json::json!({ "webhook_id": webhook.id, "actor": caller.actor() }),
    };
    let body = serde_json::to_string(&payload).map_err(AppError::internal)?;
    let sent = send(&app, &webhook, &uuid, "ping", &body).await;
    let result = attempt_result(&sent, true);
    app.db
        .record_immediate_delivery(
            &NewDelivery {
                webhook_id: webhook.id,
                delivery_uuid: uuid.clone(),
                event_id: None,
                event_type: "ping".into(),
                payload: body,
            },
            &result,
        )
        .await?;
    Ok(ApiJson(PingResult {
        delivery_id: uuid,
        success: result.success,
        outcome: outcome(
            &caller,
            result.status_code,
            result.latency_ms,
            result.response_excerpt.as_ref(),
            result.private_target,
            result.error,
        ),
    }))
}

/// The newest deliveries of a webhook with every attempt.
#[utoipa::path(get, path = "/api/v1/webhooks/{owner}/{repo}/{id}/deliveries", tag = "webhooks",
    params(("owner" = String, Path), ("repo" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Vec<Delivery>), (status = 404, body = ErrorBody)))]
pub(crate) async fn deliveries(
    Api { app, caller }: Api,
    ApiPath(IdParam { id }): ApiPath<IdParam>,
    repo: Repo<op::Webhooks>,
) -> AppResult<ApiJson<Vec<Delivery>>> {
    load_webhook(&app, &repo, id).await?;
    let rows = app.db.list_deliveries(id, DELIVERIES_SHOWN).await?;
    let ids: Vec<i64> = rows.iter().map(|d| d.id).collect();
    let attempts = app.db.list_attempts(&ids).await?;
    Ok(ApiJson(
        rows.iter()
            .map(|d| render_delivery(&caller, d, &attempts))
            .collect(),
    ))
}

/// Queues a delivery again, as a new delivery with the same event and package.
#[utoipa::path(post, path = "/api/v1/webhooks/{owner}/{repo}/{id}/deliveries/{delivery}/redeliver", tag = "webhooks",
    params(("owner" = String, Path), ("repo" = String, Path), ("id" = i64, Path),
           ("delivery" = i64, Path, description = "numeric id of the delivery")),
    responses((status = 202, body = Delivery), (status = 404, body = ErrorBody)))]
pub(crate) async fn redeliver(
    Api { app, caller }: Api,
    ApiPath(DeliveryPath { id, delivery }): ApiPath<DeliveryPath>,
    repo: Repo<op::Webhooks>,
) -> AppResult<(StatusCode, ApiJson<Delivery>)> {
    load_webhook(&app, &repo, id).await?;
    let original = app
        .db
        .get_delivery(delivery)
        .await?
        .filter(|d| d.webhook_id == id)
        .ok_or_else(|| AppError::NotFound(format!("delivery {delivery} not found")))?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let mut payload: serde_json::Value =
        serde_json::from_str(&original.payload).unwrap_or_default();
    payload["delivery_id"] = uuid.clone().into();
    if let Some(ctx) = payload["context"].as_object_mut() {
        ctx.insert(
            "redelivery_of".into(),
            original.delivery_uuid.clone().into(),
        );
    }
    let new_id = app
        .db
        .queue_delivery(
            &NewDelivery {
                webhook_id: id,
                delivery_uuid: uuid,
                event_id: original.event_id,
                event_type: original.event_type.clone(),
                payload: payload.to_string(),
            },
            &|id| Deliver::queued(&app, id),
        )
        .await?;
    app.wake_workers();
    let row = app
        .db
        .get_delivery(new_id)
        .await?
        .ok_or_else(|| AppError::internal("delivery vanished"))?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(render_delivery(&caller, &row, &[])),
    ))
}
