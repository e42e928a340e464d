//! The durable job queue. Jobs are rows: enqueued in the transaction of the change that
//! causes them, claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite runs the
//! claim as one statement under its single-writer lock), and deleted when done. A job whose
//! worker died becomes claimable again when its lease runs out.

use gantry_core::time::now_millis;
use sqlx::{AnyConnection, FromRow};

use crate::{Backend, Db, DbError, Result};

/// Job states kept in the table (finished jobs are deleted).
pub const JOB_QUEUED: &str = "queued";
pub const JOB_RUNNING: &str = "running";
pub const JOB_DEAD: &str = "dead";

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    pub max_attempts: i64,
    /// When the job may first run (Unix ms); now when `None`.
    pub run_at: Option<i64>,
}

impl NewJob {
    pub fn new(kind: &str, payload: serde_json::Value, max_attempts: i64) -> Self {
        Self {
            kind: kind.to_owned(),
            payload,
            max_attempts,
            run_at: None,
        }
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub locked_by: Option<String>,
    pub locked_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const JOB_COLUMNS: &str = "id, kind, payload, state, attempts, max_attempts, run_at, locked_by, \
     locked_until, last_error, created_at, updated_at";

/// Enqueues on `conn`, normally inside the transaction of the change that causes the job.
pub(crate) async fn enqueue(conn: &mut AnyConnection, job: &NewJob) -> Result<i64> {
    let now = now_millis();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_at, created_at, updated_at) \
         VALUES ($1, $2, 'queued', 0, $3, $4, $5, $5) RETURNING id",
    )
    .bind(&job.kind)
    .bind(job.payload.to_string())
    .bind(job.max_attempts.max(1))
    .bind(job.run_at.unwrap_or(now))
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Finishes a job inside the transaction that applies its effect, so the effect and the
/// job's completion commit together: a job re-run after a crash cannot apply twice. Fails
/// with a conflict when the worker no longer holds the job's lease.
pub(crate) async fn complete_in(conn: &mut AnyConnection, id: i64, worker: &str) -> Result<()> {
    let done =
        sqlx::query("DELETE FROM jobs WHERE id = $1 AND locked_by = $2 AND state = 'running'")
            .bind(id)
            .bind(worker)
            .execute(conn)
            .await?;
    if done.rows_affected() == 0 {
        return Err(DbError::Conflict(format!(
            "job {id} is no longer held by worker {worker}"
        )));
    }
    Ok(())
}

/// How one backend claims the next runnable job: the one place the queue differs by backend.
/// The claim itself is one statement pair for both; a backend says how it locks the
/// candidate row.
pub trait JobClaim: Send + Sync {
    /// Appended to the query that picks the candidate row.
    fn lock_clause(&self) -> &'static str;

    fn claim<'a>(
        &'a self,
        pool: &'a sqlx::AnyPool,
        worker: &'a str,
        lease_ms: i64,
    ) -> futures::future::BoxFuture<'a, Result<Option<JobRow>>> {
        Box::pin(claim_with(pool, worker, lease_ms, self.lock_clause()))
    }
}

/// PostgreSQL: the candidate row is locked with `FOR UPDATE SKIP LOCKED`, so replicas claiming
/// at the same moment take different jobs instead of waiting on each other.
pub struct PostgresClaim;

/// SQLite: one statement under the database's single writer lock is already exclusive.
pub struct SqliteClaim;

impl JobClaim for PostgresClaim {
    fn lock_clause(&self) -> &'static str {
        " FOR UPDATE SKIP LOCKED"
    }
}

impl JobClaim for SqliteClaim {
    fn lock_clause(&self) -> &'static str {
        ""
    }
}

async fn claim_with(
    pool: &sqlx::AnyPool,
    worker: &str,
    lease_ms: i64,
    lock: &str,
) -> Result<Option<JobRow>> {
    let now = now_millis();
    // Two indexed lookups rather than one OR, which would sort every ready job per claim:
    // due queued jobs first, then jobs whose worker's lease ran out.
    for candidates in [
        "state = 'queued' AND run_at <= $3 ORDER BY run_at, id",
        "state = 'running' AND locked_until < $3 ORDER BY locked_until, id",
    ] {
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1, \
             locked_until = $2, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE {candidates} LIMIT 1{lock}) \
             RETURNING {JOB_COLUMNS}"
        );
        let claimed: Option<JobRow> = sqlx::query_as(&sql)
            .bind(worker)
            .bind(now + lease_ms)
            .bind(now)
            .fetch_optional(pool)
            .await?;
        if claimed.is_some() {
            return Ok(claimed);
        }
    }
    Ok(None)
}

/// Serialises scheduling of singleton jobs across replicas on PostgreSQL.
const PG_SCHEDULE_LOCK: i64 = 0x6761_6e74_7273;

impl Db {
    /// Enqueues `job` unless a job of its kind is queued or running (other than `except`, the
    /// job doing the scheduling): periodic work then has exactly one outstanding job, which
    /// one worker of one replica claims. Returns whether it was enqueued.
    pub async fn schedule_job(&self, job: &NewJob, except: Option<i64>) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_SCHEDULE_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let (outstanding,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND state IN ('queued', 'running') \
             AND id <> $2",
        )
        .bind(&job.kind)
        .bind(except.unwrap_or(-1))
        .fetch_one(&mut *tx)
        .await?;
        if outstanding > 0 {
            return Ok(false);
        }
        enqueue(&mut tx, job).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn enqueue_job(&self, job: &NewJob) -> Result<i64> {
        let mut conn = self.pool.acquire().await?;
        enqueue(&mut conn, job).await
    }

    /// Claims the next runnable job for `worker` for `lease_ms`: a queued job that is due,
    /// or a running job whose lease expired (its worker is gone).
    pub async fn claim_job(&self, worker: &str, lease_ms: i64) -> Result<Option<JobRow>> {
        let claim: &dyn JobClaim = match self.backend {
            Backend::Postgres => &PostgresClaim,
            Backend::Sqlite => &SqliteClaim,
        };
        claim.claim(&self.pool, worker, lease_ms).await
    }

    /// Extends the lease; false when the job is no longer held by `worker`.
    pub async fn heartbeat_job(&self, id: i64, worker: &str, lease_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND state = 'running'",
        )
        .bind(now_millis() + lease_ms)
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Hands the jobs `worker` holds back to the queue, due now, without counting the attempt
    /// (a worker shutting down stopped them); returns how many.
    pub async fn release_jobs_of(&self, worker: &str) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', run_at = $1, locked_by = NULL, \
             locked_until = NULL, attempts = attempts - 1, updated_at = $1 \
             WHERE locked_by = $2 AND state = 'running'",
        )
        .bind(now_millis())
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Completes a job whose handler had no transaction of its own to complete it in.
    pub async fn complete_job(&self, id: i64, worker: &str) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        complete_in(&mut conn, id, worker).await
    }

    /// Records a failed attempt: queued again at `retry_at`, or dead when `None`.
    pub async fn fail_job(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<()> {
        let (state, run_at) = match retry_at {
            Some(at) => (JOB_QUEUED, at),
            None => (JOB_DEAD, now_millis()),
        };
        sqlx::query(
            "UPDATE jobs SET state = $1, run_at = $2, last_error = $3, locked_by = NULL, \
             locked_until = NULL, updated_at = $4 WHERE id = $5 AND locked_by = $6",
        )
        .bind(state)
        .bind(run_at)
        .bind(error.chars().take(2000).collect::<String>())
        .bind(now_millis())
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Jobs in the given states, oldest first.
    pub async fn list_jobs(&self, states: &[&str], limit: i64) -> Result<Vec<JobRow>> {
        let mut sql =
            crate::bind::Sql::new(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ("));
        for (i, state) in states.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.str(state);
        }
        sql.push(") ORDER BY id LIMIT ").int(limit);
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    pub async fn get_job(&self, id: i64) -> Result<Option<JobRow>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Jobs per state, for metrics.
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
