//! The few queries of the cargo protocol that need less than whole package rows: a sparse
//! index file reads one indexed range of `packages` (by repository and normalised name) and
//! nothing else, so a crate with thousands of versions costs one query.

use gantry_db::{Db, Result};
use sqlx::FromRow;

/// One live version of a crate, as an index file needs it.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct CrateVersionRow {
    pub id: i64,
    pub name: String,
    pub version: String,
    /// The `.crate`'s sha256 (the index's `cksum`).
    pub primary_sha256: String,
    pub metadata: String,
    pub yanked: i64,
    pub uploader: String,
    pub updated_at: i64,
}

const FORMAT: &str = "cargo";

fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The queries, on the shared database handle.
pub(crate) trait CargoQueries {
    async fn crate_versions(
        &self,
        repository_id: i64,
        normalized_name: &str,
    ) -> Result<Vec<CrateVersionRow>>;
    async fn crate_index_stamp(
        &self,
        repository_id: i64,
        normalized_name: &str,
    ) -> Result<[i64; 4]>;
    async fn crate_search(
        &self,
        repository_id: i64,
        needle: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, String, String, i64)>>;
}

impl CargoQueries for Db {
    /// The live, synced versions of one crate in a repository, in publish order (a copy keeps
    /// its original upload time).
    async fn crate_versions(
        &self,
        repository_id: i64,
        normalized_name: &str,
    ) -> Result<Vec<CrateVersionRow>> {
        Ok(sqlx::query_as(
            "SELECT id, name, version, primary_sha256, metadata, yanked, uploader, updated_at \
             FROM packages WHERE repository_id = $1 AND normalized_name = $2 AND format = $3 \
             AND state = 'available' AND sync_status = 'completed' ORDER BY uploaded_at, id",
        )
        .bind(repository_id)
        .bind(normalized_name)
        .bind(FORMAT)
        .fetch_all(self.pool())
        .await?)
    }

    /// What identifies the current state of a crate's index file, in one row: how many live
    /// versions it has and sums over their ids, change times and yank flags. Any change that
    /// adds, removes, yanks, resyncs or re-states a version changes it (a new row has a new
    /// id; a change sets `updated_at` to now or flips `yanked`). It reads no metadata, so it is
    /// cheap to check on every request.
    async fn crate_index_stamp(
        &self,
        repository_id: i64,
        normalized_name: &str,
    ) -> Result<[i64; 4]> {
        let (count, ids, times, yanks): (i64, i64, i64, i64) = sqlx::query_as(
            // PostgreSQL sums bigints as numeric: cast back.
            "SELECT COUNT(*), CAST(COALESCE(SUM(id), 0) AS BIGINT), \
             CAST(COALESCE(SUM(updated_at), 0) AS BIGINT), \
             CAST(COALESCE(SUM(yanked * id), 0) AS BIGINT) FROM packages WHERE repository_id = $1 \
             AND normalized_name = $2 AND format = $3 AND state = 'available' \
             AND sync_status = 'completed'",
        )
        .bind(repository_id)
        .bind(normalized_name)
        .bind(FORMAT)
        .fetch_one(self.pool())
        .await?;
        Ok([count, ids, times, yanks])
    }

    /// Versions of the crates whose normalised name contains `needle` (already normalised),
    /// at most `limit` rows, by name: (name, normalised name, version, metadata, yanked).
    async fn crate_search(
        &self,
        repository_id: i64,
        needle: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT name, normalized_name, version, metadata, yanked FROM packages \
             WHERE repository_id = $1 AND format = $2 AND normalized_name LIKE $3 ESCAPE '\\' \
             AND state = 'available' AND sync_status = 'completed' \
             ORDER BY normalized_name, id LIMIT $4",
        )
        .bind(repository_id)
        .bind(FORMAT)
        .bind(like_pattern(needle))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
