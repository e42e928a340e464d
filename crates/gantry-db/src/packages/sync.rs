//! The sync lifecycle: start, finish and resync requests.

use gantry_core::time::now_millis;

use super::{commit_with_event, PackageRow, SyncOutcome};
use crate::events::NewEvent;
use crate::jobs::{self, NewJob};
use crate::{Db, DbError, Result};

impl Db {
    /// Marks a package `syncing` with its event, at the start of a sync job.
    pub async fn start_sync(&self, package: &PackageRow, event: &NewEvent) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE packages SET sync_status = 'syncing', sync_progress = 10, status_reason = NULL, \
             updated_at = $1 WHERE id = $2",
        )
        .bind(now_millis())
        .bind(package.id)
        .execute(&mut *tx)
        .await?;
        commit_with_event(tx, package, event).await
    }

    /// Records the end of a sync job: the package's new status, metadata and event, and the
    /// job's completion, in one transaction. `scan_queued` says whether `followups` hold a
    /// scan (the package then awaits it); other follow-ups (policy evaluation) leave the scan
    /// status alone, so a format without a scanner stays `not_supported`.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_sync(
        &self,
        package: &PackageRow,
        outcome: &SyncOutcome,
        event: &NewEvent,
        job_id: i64,
        worker: &str,
        followups: &[NewJob],
        scan_queued: bool,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        jobs::complete_in(&mut tx, job_id, worker).await?;
        let now = now_millis();
        if matches!(outcome, SyncOutcome::Completed { .. }) {
            if scan_queued {
                sqlx::query("UPDATE packages SET scan_status = 'awaiting_scan' WHERE id = $1")
                    .bind(package.id)
                    .execute(&mut *tx)
                    .await?;
            }
            for job in followups {
                jobs::enqueue(&mut tx, job).await?;
            }
        }
        match outcome {
            SyncOutcome::Completed {
                metadata,
                content_type,
            } => {
                sqlx::query(
                    "UPDATE packages SET sync_status = 'completed', sync_progress = 100, \
                     status_reason = NULL, metadata = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(metadata.to_string())
                .bind(now)
                .bind(package.id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE package_files SET content_type = $1 WHERE package_id = $2 AND position = 0",
                )
                .bind(content_type)
                .bind(package.id)
                .execute(&mut *tx)
                .await?;
            }
            SyncOutcome::Failed { reason } => {
                sqlx::query(
                    "UPDATE packages SET sync_status = 'failed', sync_progress = 0, \
                     status_reason = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(reason)
                .bind(now)
                .bind(package.id)
                .execute(&mut *tx)
                .await?;
            }
        }
        commit_with_event(tx, package, event).await
    }

    /// Queues processing again. Refused while a sync is pending or running.
    pub async fn request_resync(&self, package: &PackageRow, job: &NewJob) -> Result<PackageRow> {
        let mut tx = self.pool.begin().await?;
        // Refused only while a sync job for the package is alive: a package whose job died
        // (or was skipped while it was deleted) can always be synced again.
        let pattern = format!("%\"slug_perm\":\"{}\"%", package.slug_perm);
        let live: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM jobs WHERE kind = $1 AND state IN ('queued', 'running') \
             AND payload LIKE $2 LIMIT 1",
        )
        .bind(&job.kind)
        .bind(pattern)
        .fetch_optional(&mut *tx)
        .await?;
        if live.is_some() {
            return Err(DbError::Conflict(format!(
                "package {} is already being synced",
                package.slug_perm
            )));
        }
        sqlx::query(
            "UPDATE packages SET sync_status = 'awaiting_sync', sync_progress = 0, \
             status_reason = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(now_millis())
        .bind(package.id)
        .execute(&mut *tx)
        .await?;
        jobs::enqueue(&mut tx, job).await?;
        tx.commit().await?;
        self.reload(package).await
    }
}
