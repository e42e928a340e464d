//! The reads the repodata is written from: the available, synced RPMs of a repository with
//! their stored metadata, and a cheap fingerprint of that set.

use gantry_db::{Db, Result};
use sqlx::FromRow;

/// One listed package: where its file is and what its headers said.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct ListedRow {
    pub(crate) slug_perm: String,
    pub(crate) filename: String,
    pub(crate) sha256: String,
    pub(crate) size: i64,
    pub(crate) uploaded_at: i64,
    pub(crate) metadata: String,
}

const LIVE: &str = "p.repository_id = $1 AND p.format = 'rpm' AND p.state = 'available' \
     AND p.sync_status = 'completed' AND p.yanked = 0";

pub(crate) trait RpmQueries {
    /// Every package the repodata lists, in a stable order.
    async fn rpm_listed(&self, repository_id: i64) -> Result<Vec<ListedRow>>;

    /// (count, newest `updated_at`, sum of ids, sum of `updated_at`): changes whenever the
    /// listed set or any member changes (every change stamps `updated_at`).
    async fn rpm_fingerprint(&self, repository_id: i64) -> Result<(i64, i64, i64, i64)>;
}

impl RpmQueries for Db {
    async fn rpm_listed(&self, repository_id: i64) -> Result<Vec<ListedRow>> {
        let sql = format!(
            "SELECT p.slug_perm, p.filename, p.primary_sha256 AS sha256, p.size, \
             p.uploaded_at, p.metadata FROM packages p WHERE {LIVE} \
             ORDER BY p.normalized_name, p.version, p.qualifier, p.id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(repository_id)
            .fetch_all(self.read_pool())
            .await?)
    }

    async fn rpm_fingerprint(&self, repository_id: i64) -> Result<(i64, i64, i64, i64)> {
        let sql = format!(
            "SELECT COUNT(*), CAST(COALESCE(MAX(p.updated_at), 0) AS BIGINT), \
             CAST(COALESCE(SUM(p.id), 0) AS BIGINT), \
             CAST(COALESCE(SUM(p.updated_at), 0) AS BIGINT) FROM packages p WHERE {LIVE}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(repository_id)
            .fetch_one(self.read_pool())
            .await?)
    }
}
