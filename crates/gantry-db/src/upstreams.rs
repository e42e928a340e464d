//! Upstreams of repositories and the cache of their index pages.

use gantry_core::time::now_millis;
use gantry_core::FormatId;
use sqlx::FromRow;

use crate::OrConflict;
use crate::{Db, DbError, Result};

/// Where an upstream is and how it is used: the columns an upstream to create and a stored
/// one share.
#[derive(Debug, Clone, FromRow)]
pub struct UpstreamSpec {
    pub repository_id: i64,
    #[sqlx(try_from = "String")]
    pub format: FormatId,
    pub name: String,
    pub url: String,
    pub priority: i64,
    /// `proxy` or `cache`.
    pub mode: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub index_ttl_seconds: i64,
}

/// An upstream to create; reads its [`UpstreamSpec`] fields through it.
#[derive(Debug, Clone)]
pub struct NewUpstream {
    pub spec: UpstreamSpec,
    pub local_names_only: bool,
    pub created_by: String,
}

/// A stored upstream; reads its [`UpstreamSpec`] fields through it.
#[derive(Debug, Clone, FromRow)]
pub struct UpstreamRow {
    pub id: i64,
    #[sqlx(flatten)]
    pub spec: UpstreamSpec,
    pub local_names_only: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, repository_id, format, name, url, priority, mode, username, password, \
     index_ttl_seconds, local_names_only, created_by, created_at";

impl Db {
    pub async fn create_upstream(&self, new: &NewUpstream) -> Result<UpstreamRow> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO upstreams (repository_id, format, name, url, priority, mode, username, \
             password, index_ttl_seconds, local_names_only, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(new.repository_id)
        .bind(new.format.as_str())
        .bind(&new.name)
        .bind(&new.url)
        .bind(new.priority)
        .bind(&new.mode)
        .bind(new.username.clone())
        .bind(new.password.clone())
        .bind(new.index_ttl_seconds)
        .bind(i64::from(new.local_names_only))
        .bind(&new.created_by)
        .bind(now_millis())
        .fetch_one(&self.pool)
        .await
        .or_conflict(|| {
            format!(
                "a {} upstream named {} already exists",
                new.format, new.name
            )
        })?;
        self.get_upstream(id)
            .await?
            .ok_or(DbError::NotFound("upstream"))
    }

    pub async fn get_upstream(&self, id: i64) -> Result<Option<UpstreamRow>> {
        let sql = format!("SELECT {COLUMNS} FROM upstreams WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A repository's upstreams (of one format, when given), highest priority (lowest
    /// number) first.
    pub async fn list_upstreams(
        &self,
        repository_id: i64,
        format: Option<&str>,
    ) -> Result<Vec<UpstreamRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM upstreams WHERE repository_id = $1 AND ($2 = '' OR format = $2) \
             ORDER BY priority, id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(repository_id)
            .bind(format.unwrap_or("").to_owned())
            .fetch_all(&self.read)
            .await?)
    }

    /// Replaces upstream `id`'s settings (its repository stays). Its cached index pages were
    /// fetched from what it was, so they go.
    pub async fn update_upstream(
        &self,
        id: i64,
        spec: &UpstreamSpec,
        local_names_only: bool,
    ) -> Result<UpstreamRow> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE upstreams SET format = $1, name = $2, url = $3, priority = $4, mode = $5, \
             username = $6, password = $7, index_ttl_seconds = $8, local_names_only = $9 \
             WHERE id = $10",
        )
        .bind(spec.format.as_str())
        .bind(&spec.name)
        .bind(&spec.url)
        .bind(spec.priority)
        .bind(&spec.mode)
        .bind(spec.username.clone())
        .bind(spec.password.clone())
        .bind(spec.index_ttl_seconds)
        .bind(i64::from(local_names_only))
        .bind(id)
        .execute(&mut *tx)
        .await
        .or_conflict(|| {
            format!(
                "a {} upstream named {} already exists",
                spec.format, spec.name
            )
        })?;
        sqlx::query("DELETE FROM upstream_cache WHERE upstream_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.get_upstream(id)
            .await?
            .ok_or(DbError::NotFound("upstream"))
    }

    pub async fn delete_upstream(&self, id: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM upstream_cache WHERE upstream_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM upstreams WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A cached index page and when it was fetched.
    pub async fn upstream_cache_get(
        &self,
        upstream_id: i64,
        key: &str,
    ) -> Result<Option<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT body, fetched_at FROM upstream_cache WHERE upstream_id = $1 AND cache_key = $2",
        )
        .bind(upstream_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn upstream_cache_put(&self, upstream_id: i64, key: &str, body: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO upstream_cache (upstream_id, cache_key, body, fetched_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (upstream_id, cache_key) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at",
        )
        .bind(upstream_id)
        .bind(key)
        .bind(body)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

reads_through!(
    NewUpstream => spec: UpstreamSpec,
    UpstreamRow => spec: UpstreamSpec,
);
