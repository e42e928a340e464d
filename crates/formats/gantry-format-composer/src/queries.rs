//! The queries of the repository protocol that need less than whole package rows: the
//! versions of one package (its metadata files) and the names a repository serves
//! (`packages.json`), each one indexed range of `packages`.

use gantry_db::{Db, Result};
use sqlx::FromRow;

const FORMAT: &str = "composer";

/// One live version of a package, as a metadata file needs it.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct VersionRow {
    pub version: String,
    pub metadata: String,
    pub yanked: i64,
    pub uploaded_at: i64,
    pub state: String,
}

/// The queries, on the shared database handle.
pub(crate) trait ComposerQueries {
    async fn composer_versions(&self, repository_id: i64, name: &str) -> Result<Vec<VersionRow>>;
    async fn composer_names(&self, repository_id: i64) -> Result<Vec<String>>;
}

impl ComposerQueries for Db {
    /// The synced versions of a package that are not deleted (quarantined ones too: they
    /// hide an upstream's copy), in upload order (a copy keeps its original upload time).
    async fn composer_versions(&self, repository_id: i64, name: &str) -> Result<Vec<VersionRow>> {
        Ok(sqlx::query_as(
            "SELECT version, metadata, yanked, uploaded_at, state FROM packages \
             WHERE repository_id = $1 AND normalized_name = $2 AND format = $3 \
             AND state <> 'deleted' AND sync_status = 'completed' ORDER BY uploaded_at, id",
        )
        .bind(repository_id)
        .bind(name)
        .bind(FORMAT)
        .fetch_all(self.pool())
        .await?)
    }

    /// The names with at least one available, synced, unyanked version, sorted.
    async fn composer_names(&self, repository_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT normalized_name FROM packages WHERE repository_id = $1 \
             AND format = $2 AND state = 'available' AND sync_status = 'completed' \
             AND yanked = 0 ORDER BY normalized_name",
        )
        .bind(repository_id)
        .bind(FORMAT)
        .fetch_all(self.pool())
        .await?)
    }
}
