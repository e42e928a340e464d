//! Webhook fan-out (one delivery per matching webhook for each event) and delivery attempts.

use std::sync::Arc;
use std::time::Duration;

use gantry_core::PackageQuery;
use gantry_db::{AttemptResult, EventRow, JobRow, NewDelivery, NewJob, PackageRow, WebhookRow};
use gantry_jobs::{Completion, Job, JobContext, JobError};
use gantry_webhooks::Payload;
use serde::{Deserialize, Serialize};

use super::{AppJob, JobResult};
use crate::app::App;
use crate::render::{self, BaseUrl};

/// Fans one package event out to the webhooks that want it: one delivery each.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Dispatch {
    pub(crate) event_id: i64,
}

impl Job for Dispatch {
    const KIND: &'static str = "webhook.dispatch";
}

impl Dispatch {
    /// The fan-out job of an event, as `gantry-db` queues it beside the event.
    pub(crate) fn of_event(event_id: i64) -> NewJob {
        Self { event_id }.to_new_job()
    }
}

/// Sends one delivery, retried on the webhook retry schedule.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Deliver {
    pub(crate) delivery_id: i64,
}

impl Job for Deliver {
    const KIND: &'static str = "webhook.deliver";
}

impl Deliver {
    /// The job of a new delivery: the first attempt plus one per entry of the retry schedule.
    pub(crate) fn queued(app: &App, delivery_id: i64) -> NewJob {
        let mut job = Self { delivery_id }.to_new_job();
        job.max_attempts = i64::try_from(app.config.webhook_retry_schedule.len()).unwrap_or(0) + 1;
        job
    }
}

/// Whether a webhook's package filter (the listing query language) matches `package`.
pub(crate) fn filter_matches(query: Option<&str>, package: Option<&PackageRow>) -> bool {
    let Some(text) = query.filter(|q| !q.trim().is_empty()) else {
        return true;
    };
    let Ok(q) = PackageQuery::parse(text) else {
        return false;
    };
    let Some(p) = package else {
        return false;
    };
    let name_ok = q
        .name
        .as_ref()
        .is_none_or(|n| *n == p.name || *n == p.normalized_name);
    let version_ok = q.version.as_ref().is_none_or(|v| *v == p.version);
    let format_ok = q.format.as_ref().is_none_or(|f| p.format == *f);
    let state_ok = q.state.is_none_or(|s| s == p.state);
    let tags_ok = q.tags.iter().all(|t| p.tags.contains(t));
    let words_ok = q
        .name_contains
        .iter()
        .all(|w| p.name.to_lowercase().contains(&w.to_lowercase()));
    name_ok
        && version_ok
        && format_ok
        && state_ok
        && tags_ok
        && words_ok
        && q.fields_match(|f| p.query_values(f))
}

/// The payload of `event` for one delivery.
pub(crate) fn payload(
    app: &App,
    event: &EventRow,
    package: Option<&PackageRow>,
    delivery_id: &str,
) -> Payload {
    let base = BaseUrl(app.base_url());
    let mut context: serde_json::Value = serde_json::from_str(&event.context).unwrap_or_default();
    if let Some(map) = context.as_object_mut() {
        map.insert("actor".into(), event.actor.clone().into());
        map.insert("event_id".into(), event.id.into());
        for (key, value) in [
            ("source_repository", &event.source_repository),
            ("destination_repository", &event.destination_repository),
        ] {
            if let Some(v) = value {
                map.insert(key.into(), v.clone().into());
            }
        }
    }
    Payload {
        event: event.event_type.clone(),
        delivery_id: delivery_id.to_owned(),
        occurred_at: gantry_core::time::rfc3339(event.occurred_at),
        repository: event.repository.clone().unwrap_or_default(),
        package: package
            .map(|p| serde_json::to_value(render::package(&base, p)).unwrap_or_default())
            .unwrap_or(serde_json::Value::Null),
        context,
    }
}

impl AppJob for Dispatch {
    async fn run(self, app: &Arc<App>, job: &JobRow, ctx: &JobContext) -> JobResult {
        let db = &app.db;
        let Some(event) = db.get_event(self.event_id).await.map_err(JobError::retry)? else {
            return Ok(Completion::Done);
        };
        let repos = gantry_db::audience(
            &event.event_type,
            event.repository.as_deref(),
            event.source_repository.as_deref(),
        );
        let webhooks = db
            .active_webhooks_for(&repos)
            .await
            .map_err(JobError::retry)?;
        let package = match &event.slug_perm {
            Some(slug) => db
                .get_package_by_slug(slug)
                .await
                .map_err(JobError::retry)?,
            None => None,
        };
        let deliveries: Vec<NewDelivery> = webhooks
            .iter()
            .filter(|w| w.wants(&event.event_type))
            .filter(|w| filter_matches(w.package_query.as_deref(), package.as_ref()))
            .map(|w| {
                let uuid = uuid::Uuid::new_v4().to_string();
                let body = payload_json(app, &event, package.as_ref(), &uuid);
                NewDelivery {
                    webhook_id: w.id,
                    delivery_uuid: uuid,
                    event_id: Some(event.id),
                    event_type: event.event_type.clone(),
                    payload: body,
                }
            })
            .collect();
        let deliver = |id| Deliver::queued(app, id);
        db.dispatch_deliveries(&deliveries, &deliver, job.id, &ctx.worker_id)
            .await
            .map_err(JobError::retry)?;
        if !deliveries.is_empty() {
            app.wake_workers();
        }
        Ok(Completion::Completed)
    }
}

fn payload_json(app: &App, event: &EventRow, package: Option<&PackageRow>, uuid: &str) -> String {
    serde_json::to_string(&payload(app, event, package, uuid)).unwrap_or_default()
}

/// One attempt at delivering `body` to `webhook`, recorded. Returns the attempt and whether
/// it disabled the webhook.
pub(crate) async fn attempt(
    app: &App,
    webhook: &WebhookRow,
    delivery_id: i64,
    uuid: &str,
    event_type: &str,
    body: &str,
    last: bool,
) -> Result<(AttemptResult, bool), gantry_db::DbError> {
    let result = attempt_result(&send(app, webhook, uuid, event_type, body).await, last);
    let disabled = app
        .db
        .record_attempt(
            delivery_id,
            webhook.id,
            &result,
            app.config.webhook_disable_after,
        )
        .await?;
    if disabled {
        tracing::warn!(webhook = webhook.id, target = %webhook.target_url, "webhook disabled after repeated failures");
    }
    Ok((result, disabled))
}

/// Sends `body` to `webhook` once, signed and with its extra header; the ping and the
/// delivery job both send this way.
pub(crate) async fn send(
    app: &App,
    webhook: &WebhookRow,
    uuid: &str,
    event_type: &str,
    body: &str,
) -> gantry_webhooks::Attempt {
    gantry_webhooks::send(
        &app.http,
        &app.outbound,
        gantry_webhooks::Request {
            target_url: &webhook.target_url,
            body: body.as_bytes(),
            event: event_type,
            delivery_id: uuid,
            secret: webhook.secret.as_deref(),
            extra_header: webhook
                .extra_header_name
                .as_deref()
                .zip(webhook.extra_header_value.as_deref()),
            timeout: Duration::from_secs_f64(app.config.webhook_timeout_seconds.max(0.1)),
        },
    )
    .await
}

pub(crate) fn attempt_result(sent: &gantry_webhooks::Attempt, last: bool) -> AttemptResult {
    AttemptResult {
        status_code: sent.status_code.map(i64::from),
        latency_ms: i64::try_from(sent.latency.as_millis()).unwrap_or(i64::MAX),
        response_excerpt: sent.response_excerpt.clone(),
        error: sent.error.clone(),
        private_target: sent.private_target,
        success: sent.succeeded(),
        last,
    }
}

impl AppJob for Deliver {
    async fn run(self, app: &Arc<App>, job: &JobRow, _ctx: &JobContext) -> JobResult {
        let db = &app.db;
        let Some(delivery) = db
            .get_delivery(self.delivery_id)
            .await
            .map_err(JobError::retry)?
        else {
            return Ok(Completion::Done);
        };
        let webhook = db
            .get_webhook_by_id(delivery.webhook_id)
            .await
            .map_err(JobError::retry)?;
        // A deleted or disabled webhook sends nothing.
        let Some(webhook) = webhook.filter(|w| w.is_active != 0) else {
            db.cancel_delivery(delivery.id)
                .await
                .map_err(JobError::retry)?;
            return Ok(Completion::Done);
        };
        let last = job.attempts >= job.max_attempts;
        let (result, disabled) = attempt(
            app,
            &webhook,
            delivery.id,
            &delivery.delivery_uuid,
            &delivery.event_type,
            &delivery.payload,
            last,
        )
        .await
        .map_err(JobError::retry)?;
        if result.success || last || disabled {
            return Ok(Completion::Done);
        }
        let schedule = &app.config.webhook_retry_schedule;
        let index = usize::try_from(job.attempts - 1).unwrap_or(0);
        let after = schedule
            .get(index)
            .or(schedule.last())
            .map(|s| Duration::from_secs_f64(s.max(0.0)));
        Err(JobError::Retry {
            message: result.error.unwrap_or_else(|| "delivery failed".into()),
            after,
        })
    }
}
