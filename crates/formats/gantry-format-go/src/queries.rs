//! The one query of the proxy protocol that needs less than whole package rows: the versions
//! of a module a repository serves, for `@v/list` and `@latest`.

use gantry_db::{Db, Result};

const FORMAT: &str = "go";

/// The queries, on the shared database handle.
pub(crate) trait GoQueries {
    async fn module_versions(&self, repository_id: i64, path: &str) -> Result<Vec<(String, i64)>>;
}

impl GoQueries for Db {
    /// (version, yanked) of every available, synced version of a module.
    async fn module_versions(&self, repository_id: i64, path: &str) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT version, yanked FROM packages WHERE repository_id = $1 \
             AND normalized_name = $2 AND format = $3 AND state = 'available' \
             AND sync_status = 'completed' ORDER BY id",
        )
        .bind(repository_id)
        .bind(path)
        .bind(FORMAT)
        .fetch_all(self.pool())
        .await?)
    }
}
