//! The queries of the RubyGems indexes: every live gem of a repository at once (the compact
//! index's `/versions` needs them all), and a one-row stamp that tells whether they changed.

use gantry_db::{Db, Result};
use sqlx::FromRow;

const FORMAT: &str = "rubygems";

/// One live gem file, as the indexes need it.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct GemRow {
    pub id: i64,
    pub primary_sha256: String,
    pub metadata: String,
    pub yanked: i64,
    pub updated_at: i64,
}

/// The queries, on the shared database handle.
pub(crate) trait GemQueries {
    async fn gem_rows(&self, repository_id: i64) -> Result<Vec<GemRow>>;
    async fn gems_stamp(&self, repository_id: i64) -> Result<[i64; 4]>;
}

const LIVE: &str = "repository_id = $1 AND format = $2 AND state = 'available' \
                    AND sync_status = 'completed'";

impl GemQueries for Db {
    /// The available, synced gems of a repository, yanked ones included.
    async fn gem_rows(&self, repository_id: i64) -> Result<Vec<GemRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT id, primary_sha256, metadata, yanked, updated_at FROM packages \
             WHERE {LIVE} ORDER BY id"
        ))
        .bind(repository_id)
        .bind(FORMAT)
        .fetch_all(self.pool())
        .await?)
    }

    /// How many live gems, and sums over their ids, change times and yank flags: any change
    /// that adds, removes, yanks, quarantines or resyncs one changes it. Reads no metadata.
    async fn gems_stamp(&self, repository_id: i64) -> Result<[i64; 4]> {
        let (count, ids, times, yanks): (i64, i64, i64, i64) = sqlx::query_as(&format!(
            // PostgreSQL sums bigints as numeric: cast back.
            "SELECT COUNT(*), CAST(COALESCE(SUM(id), 0) AS BIGINT), \
             CAST(COALESCE(SUM(updated_at), 0) AS BIGINT), \
             CAST(COALESCE(SUM(yanked * id), 0) AS BIGINT) FROM packages WHERE {LIVE}"
        ))
        .bind(repository_id)
        .bind(FORMAT)
        .fetch_one(self.pool())
        .await?;
        Ok([count, ids, times, yanks])
    }
}
