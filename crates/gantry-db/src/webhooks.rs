//! Webhooks, their deliveries, and every delivery attempt.

use gantry_core::time::now_millis;
use sqlx::{AnyConnection, FromRow};

use crate::bind::Sql;
use crate::jobs::{self, NewJob};
use crate::{Db, DbError, Result};

/// Job kind that sends one delivery.

#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub repository_id: i64,
    pub repository: String,
    pub target_url: String,
    pub events: Vec<String>,
    pub secret: Option<String>,
    pub package_query: Option<String>,
    pub extra_header: Option<(String, String)>,
    pub is_active: bool,
    pub created_by: String,
}

/// Changes to a webhook; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookUpdate {
    pub target_url: Option<String>,
    pub events: Option<Vec<String>>,
    pub secret: Option<Option<String>>,
    pub package_query: Option<Option<String>>,
    pub extra_header: Option<Option<(String, String)>>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, FromRow)]
pub struct WebhookRow {
    pub id: i64,
    pub repository_id: i64,
    pub repository: String,
    pub target_url: String,
    pub events: String,
    pub secret: Option<String>,
    pub package_query: Option<String>,
    pub extra_header_name: Option<String>,
    pub extra_header_value: Option<String>,
    pub is_active: i64,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl WebhookRow {
    pub fn event_types(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }

    /// Whether the webhook subscribes to `event_type` (`*` subscribes to all).
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types()
            .iter()
            .any(|e| e == "*" || e == event_type)
    }
}

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub webhook_id: i64,
    pub delivery_uuid: String,
    pub event_id: Option<i64>,
    pub event_type: String,
    pub payload: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub delivery_uuid: String,
    pub webhook_id: i64,
    pub event_id: Option<i64>,
    pub event_type: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    pub id: i64,
    pub delivery_id: i64,
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    /// 1 when the receiver was in a private range the operator allowed.
    pub private_target: i64,
}

/// What one attempt at a delivery found.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    /// The receiver was in a private range the operator allowed.
    pub private_target: bool,
    pub success: bool,
    /// No attempt will follow this one.
    pub last: bool,
}

const WEBHOOK_COLUMNS: &str = "id, repository_id, repository, target_url, events, secret, \
     package_query, extra_header_name, extra_header_value, is_active, disabled_reason, \
     consecutive_failures, created_by, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "id, delivery_uuid, webhook_id, event_id, event_type, payload, \
     state, attempts, last_status_code, last_error, created_at, updated_at";

async fn insert_delivery(
    conn: &mut AnyConnection,
    delivery: &NewDelivery,
    job: &(dyn Fn(i64) -> NewJob + Sync),
) -> Result<i64> {
    let now = now_millis();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO webhook_deliveries (delivery_uuid, webhook_id, event_id, event_type, payload, \
         state, attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) \
         RETURNING id",
    )
    .bind(&delivery.delivery_uuid)
    .bind(delivery.webhook_id)
    .bind(delivery.event_id)
    .bind(&delivery.event_type)
    .bind(&delivery.payload)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    jobs::enqueue(conn, &job(id)).await?;
    Ok(id)
}

impl Db {
    pub async fn create_webhook(&self, new: &NewWebhook) -> Result<WebhookRow> {
        let now = now_millis();
        let (header_name, header_value) = new.extra_header.clone().unzip();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO webhooks (repository_id, repository, target_url, events, secret, \
             package_query, extra_header_name, extra_header_value, is_active, created_by, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             RETURNING id",
        )
        .bind(new.repository_id)
        .bind(&new.repository)
        .bind(&new.target_url)
        .bind(serde_json::json!(new.events).to_string())
        .bind(new.secret.clone())
        .bind(new.package_query.clone())
        .bind(header_name)
        .bind(header_value)
        .bind(i64::from(new.is_active))
        .bind(&new.created_by)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        self.get_webhook_by_id(id)
            .await?
            .ok_or(DbError::NotFound("webhook"))
    }

    pub async fn get_webhook_by_id(&self, id: i64) -> Result<Option<WebhookRow>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn get_webhook(&self, repository_id: i64, id: i64) -> Result<Option<WebhookRow>> {
        let sql =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND repository_id = $2");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .bind(repository_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn list_webhooks(&self, repository_id: i64) -> Result<Vec<WebhookRow>> {
        let sql =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE repository_id = $1 ORDER BY id");
        Ok(sqlx::query_as(&sql)
            .bind(repository_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Active webhooks of any of these repositories (`OWNER/REPO`).
    pub async fn active_webhooks_for(&self, repositories: &[String]) -> Result<Vec<WebhookRow>> {
        if repositories.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE is_active = 1 AND repository IN ("
        ));
        for (i, repo) in repositories.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.str(repo);
        }
        sql.push(") ORDER BY id");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    pub async fn update_webhook(&self, id: i64, update: &WebhookUpdate) -> Result<WebhookRow> {
        let mut tx = self.pool.begin().await?;
        let now = now_millis();
        if let Some(url) = &update.target_url {
            sqlx::query("UPDATE webhooks SET target_url = $1 WHERE id = $2")
                .bind(url)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(events) = &update.events {
            sqlx::query("UPDATE webhooks SET events = $1 WHERE id = $2")
                .bind(serde_json::json!(events).to_string())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(secret) = &update.secret {
            sqlx::query("UPDATE webhooks SET secret = $1 WHERE id = $2")
                .bind(secret.clone())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(query) = &update.package_query {
            sqlx::query("UPDATE webhooks SET package_query = $1 WHERE id = $2")
                .bind(query.clone())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(header) = &update.extra_header {
            let (name, value) = header.clone().unzip();
            sqlx::query(
                "UPDATE webhooks SET extra_header_name = $1, extra_header_value = $2 WHERE id = $3",
            )
            .bind(name)
            .bind(value)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(active) = update.is_active {
            // Re-enabling starts the failure count afresh.
            sqlx::query(
                "UPDATE webhooks SET is_active = $1, disabled_reason = NULL, consecutive_failures = 0 \
                 WHERE id = $2",
            )
            .bind(i64::from(active))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE webhooks SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.get_webhook_by_id(id)
            .await?
            .ok_or(DbError::NotFound("webhook"))
    }

    /// Deletes a webhook with its delivery history.
    pub async fn delete_webhook(&self, id: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = $1)",
            "DELETE FROM webhook_deliveries WHERE webhook_id = $1",
            "DELETE FROM webhooks WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates the deliveries of one event and their jobs (`job` makes a delivery's job from
    /// its id), and completes the dispatch job, all in one transaction: a dispatch re-run
    /// after a crash cannot deliver twice.
    pub async fn dispatch_deliveries(
        &self,
        deliveries: &[NewDelivery],
        job: &(dyn Fn(i64) -> NewJob + Sync),
        job_id: i64,
        worker: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        jobs::complete_in(&mut tx, job_id, worker).await?;
        for delivery in deliveries {
            insert_delivery(&mut tx, delivery, job).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates one delivery and queues it (redelivery).
    pub async fn queue_delivery(
        &self,
        delivery: &NewDelivery,
        job: &(dyn Fn(i64) -> NewJob + Sync),
    ) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let id = insert_delivery(&mut tx, delivery, job).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records a delivery that is sent at once, outside the queue (ping); returns its id.
    pub async fn record_immediate_delivery(
        &self,
        delivery: &NewDelivery,
        result: &AttemptResult,
    ) -> Result<i64> {
        let now = now_millis();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO webhook_deliveries (delivery_uuid, webhook_id, event_id, event_type, payload, \
             state, attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) \
             RETURNING id",
        )
        .bind(&delivery.delivery_uuid)
        .bind(delivery.webhook_id)
        .bind(delivery.event_id)
        .bind(&delivery.event_type)
        .bind(&delivery.payload)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        self.record_attempt(id, delivery.webhook_id, result, i64::MAX)
            .await?;
        Ok(id)
    }

    /// Marks a delivery that will not be sent (its webhook was disabled or deleted).
    pub async fn cancel_delivery(&self, id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'cancelled', updated_at = $1 WHERE id = $2",
        )
        .bind(now_millis())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_delivery(&self, id: i64) -> Result<Option<DeliveryRow>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Records one attempt and its consequences: the delivery's state, and the webhook's run
    /// of consecutive failures, which disables it at `disable_after`. Returns true when this
    /// attempt disabled the webhook.
    pub async fn record_attempt(
        &self,
        delivery_id: i64,
        webhook_id: i64,
        result: &AttemptResult,
        disable_after: i64,
    ) -> Result<bool> {
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, \
             response_excerpt, error, private_target) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(delivery_id)
        .bind(now)
        .bind(result.status_code)
        .bind(result.latency_ms)
        .bind(result.response_excerpt.clone())
        .bind(result.error.clone())
        .bind(i64::from(result.private_target))
        .execute(&mut *tx)
        .await?;
        let state = match (result.success, result.last) {
            (true, _) => "delivered",
            (false, true) => "failed",
            (false, false) => "retrying",
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_status_code = $2, \
             last_error = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(state)
        .bind(result.status_code)
        .bind(result.error.clone())
        .bind(now)
        .bind(delivery_id)
        .execute(&mut *tx)
        .await?;
        let mut disabled = false;
        if result.success {
            sqlx::query("UPDATE webhooks SET consecutive_failures = 0 WHERE id = $1")
                .bind(webhook_id)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = $1",
            )
            .bind(webhook_id)
            .execute(&mut *tx)
            .await?;
            let changed = sqlx::query(
                "UPDATE webhooks SET is_active = 0, disabled_reason = $1, updated_at = $2 \
                 WHERE id = $3 AND is_active = 1 AND consecutive_failures >= $4",
            )
            .bind(format!(
                "disabled after {disable_after} consecutive failed delivery attempts; last: {}",
                result
                    .error
                    .clone()
                    .or_else(|| result.status_code.map(|c| format!("HTTP {c}")))
                    .unwrap_or_default()
            ))
            .bind(now)
            .bind(webhook_id)
            .bind(disable_after)
            .execute(&mut *tx)
            .await?;
            disabled = changed.rows_affected() > 0;
        }
        tx.commit().await?;
        Ok(disabled)
    }

    /// The newest deliveries of a webhook.
    pub async fn list_deliveries(&self, webhook_id: i64, limit: i64) -> Result<Vec<DeliveryRow>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2"
        );
        Ok(sqlx::query_as(&sql)
            .bind(webhook_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn list_attempts(&self, delivery_ids: &[i64]) -> Result<Vec<AttemptRow>> {
        if delivery_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(
            "SELECT id, delivery_id, attempted_at, status_code, latency_ms, response_excerpt, error, \
             private_target FROM webhook_attempts WHERE delivery_id IN ",
        );
        sql.int_list(delivery_ids).push(" ORDER BY id");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }
}
