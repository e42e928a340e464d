//! Vulnerability exceptions (VEX statements) of a repository.

use gantry_core::time::now_millis;
use sqlx::FromRow;

use crate::bind::Sql;
use crate::events::{self, NewEvent};
use crate::{Db, Result};

/// An exception to store; the API has validated every field.
#[derive(Debug, Clone, FromRow)]
pub struct NewException {
    pub repository_id: i64,
    /// `package`, `name` or `repository`.
    pub scope: String,
    pub slug_perm: Option<String>,
    pub name: Option<String>,
    pub versions: Option<String>,
    pub advisory_id: String,
    /// `not_affected`, `fixed` or `under_investigation`.
    pub status: String,
    pub justification: Option<String>,
    pub impact_statement: Option<String>,
    pub expires_at: Option<i64>,
    pub author: String,
}

/// A stored exception; reads the fields it was made from through it.
#[derive(Debug, Clone, FromRow)]
pub struct ExceptionRow {
    pub id: i64,
    /// `OWNER/REPO`.
    pub repository: String,
    #[sqlx(flatten)]
    pub exception: NewException,
    pub created_at: i64,
    pub expired_at: Option<i64>,
}

impl ExceptionRow {
    /// In force at `now`: not past its expiry.
    pub fn is_active(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

const COLUMNS: &str = "e.id, e.repository_id, n.name || '/' || r.name AS repository, e.scope, \
    e.slug_perm, e.name, e.versions, e.advisory_id, e.status, e.justification, \
    e.impact_statement, e.expires_at, e.author, e.created_at, e.expired_at";
const FROM: &str = "FROM vulnerability_exceptions e JOIN repositories r ON r.id = e.repository_id \
    JOIN namespaces n ON n.id = r.namespace_id";

impl Db {
    /// Stores an exception and its events (the audit record and one per package it names)
    /// in one transaction.
    pub async fn create_exception(
        &self,
        new: &NewException,
        events_to_write: &[NewEvent],
    ) -> Result<ExceptionRow> {
        let mut tx = self.pool.begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO vulnerability_exceptions (repository_id, scope, slug_perm, name, versions, \
             advisory_id, status, justification, impact_statement, expires_at, author, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(new.repository_id)
        .bind(&new.scope)
        .bind(new.slug_perm.clone())
        .bind(new.name.clone())
        .bind(new.versions.clone())
        .bind(&new.advisory_id)
        .bind(&new.status)
        .bind(new.justification.clone())
        .bind(new.impact_statement.clone())
        .bind(new.expires_at)
        .bind(&new.author)
        .bind(now_millis())
        .fetch_one(&mut *tx)
        .await?;
        for event in events_to_write {
            let mut event = event.clone();
            if let Some(o) = event.context.as_object_mut() {
                o.insert("exception_id".into(), id.into());
            }
            events::insert(&mut tx, &event).await?;
        }
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} {FROM} WHERE e.id = "));
        sql.int(id);
        let row = sql.query_as().fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Exceptions of a namespace, or of one repository of it, oldest first.
    pub async fn list_exceptions(
        &self,
        namespace: &str,
        repository: Option<&str>,
    ) -> Result<Vec<ExceptionRow>> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} {FROM} WHERE n.name = "));
        sql.str(namespace);
        if let Some(repo) = repository {
            sql.push(" AND r.name = ").str(repo);
        }
        sql.push(" ORDER BY e.id");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    /// The exceptions of one repository (what a scan of one of its packages consults).
    pub async fn repository_exceptions(&self, repository_id: i64) -> Result<Vec<ExceptionRow>> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} {FROM} WHERE e.repository_id = "));
        sql.int(repository_id).push(" ORDER BY e.id");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    pub async fn get_exception(&self, repository_id: i64, id: i64) -> Result<Option<ExceptionRow>> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} {FROM} WHERE e.repository_id = "));
        sql.int(repository_id).push(" AND e.id = ").int(id);
        Ok(sql.query_as().fetch_optional(&self.pool).await?)
    }

    /// Withdraws an exception, with its events, in one transaction.
    pub async fn delete_exception(&self, id: i64, events_to_write: &[NewEvent]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM vulnerability_exceptions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for event in events_to_write {
            events::insert(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Exceptions past their expiry whose expiry has not been reported yet.
    pub async fn due_exception_expiries(&self, now: i64) -> Result<Vec<ExceptionRow>> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS} {FROM} WHERE e.expired_at IS NULL AND e.expires_at IS NOT NULL \
             AND e.expires_at <= "
        ));
        sql.int(now).push(" ORDER BY e.id LIMIT 500");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    /// The earliest expiry not yet reported, for scheduling the next check.
    pub async fn next_exception_expiry(&self) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> = sqlx::query_as(
            "SELECT MIN(expires_at) FROM vulnerability_exceptions WHERE expired_at IS NULL",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(m,)| m))
    }

    /// Records that an expiry was reported, with its events, once: false when another
    /// worker reported it first.
    pub async fn mark_exception_expired(
        &self,
        id: i64,
        events_to_write: &[NewEvent],
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE vulnerability_exceptions SET expired_at = $1 WHERE id = $2 AND expired_at IS NULL",
        )
        .bind(now_millis())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for event in events_to_write {
            events::insert(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Brings a queued job of `kind` forward to `run_at` if it is due later (an exception
    /// that expires before the next scheduled check).
    pub async fn advance_job(&self, kind: &str, run_at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET run_at = $1 WHERE kind = $2 AND state = 'queued' AND run_at > $1",
        )
        .bind(run_at)
        .bind(kind)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Live packages of a repository as (id, slug_perm, name, normalized_name, version,
    /// format, sha256), for finding the packages an exception covers.
    pub async fn repository_packages_brief(
        &self,
        repository_id: i64,
    ) -> Result<Vec<(i64, String, String, String, String, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, slug_perm, name, normalized_name, version, format, primary_sha256 FROM packages \
             WHERE repository_id = $1 AND state <> 'deleted' ORDER BY id",
        )
        .bind(repository_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

reads_through!(
    ExceptionRow => exception: NewException,
);
