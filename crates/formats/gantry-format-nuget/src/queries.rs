//! The queries of the NuGet protocol that need less than whole package rows: the versions of
//! one id (flat container, registrations) and the repository's packages for search. Both are
//! read at most once per cache epoch by the routes.

use gantry_db::{Db, Result};
use sqlx::FromRow;

const FORMAT: &str = "nuget";
/// Most package rows a search reads (the newest first).
const MAX_SEARCH_ROWS: i64 = 50_000;

/// One live version of a package, as the feed documents need it.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct VersionRow {
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub metadata: String,
    pub yanked: i64,
    pub yank_reason: Option<String>,
    pub uploaded_at: i64,
    /// `available` or `quarantined`.
    pub state: String,
}

/// The queries, on the shared database handle.
pub(crate) trait NuGetQueries {
    async fn nuget_versions(&self, repository_id: i64, id: &str) -> Result<Vec<VersionRow>>;
    async fn nuget_packages(&self, repository_id: i64) -> Result<Vec<VersionRow>>;
}

const COLUMNS: &str =
    "SELECT name, normalized_name, version, metadata, yanked, yank_reason, uploaded_at, \
     state FROM packages WHERE repository_id = $1 AND format = $2 AND qualifier = '' \
     AND sync_status = 'completed'";

impl NuGetQueries for Db {
    /// The synced versions of one id (lower case), available or quarantined (a client asking
    /// for a quarantined one by version is told why it is refused), symbol packages left out.
    async fn nuget_versions(&self, repository_id: i64, id: &str) -> Result<Vec<VersionRow>> {
        Ok(
            sqlx::query_as(&format!(
                "{COLUMNS} AND state IN ('available', 'quarantined') AND normalized_name = $3 ORDER BY id"
            ))
                .bind(repository_id)
                .bind(FORMAT)
                .bind(id)
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// Every available, synced package version of the repository, for search.
    async fn nuget_packages(&self, repository_id: i64) -> Result<Vec<VersionRow>> {
        Ok(sqlx::query_as(&format!(
            "{COLUMNS} AND state = 'available' ORDER BY id DESC LIMIT $3"
        ))
        .bind(repository_id)
        .bind(FORMAT)
        .bind(MAX_SEARCH_ROWS)
        .fetch_all(self.pool())
        .await?)
    }
}
