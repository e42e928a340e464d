//! The one query of the apt protocol: a repository's synced, not deleted `.deb`s with their
//! file's checksums, read at most once per cache epoch.

use gantry_db::{Db, Result};
use sqlx::FromRow;

/// One package as the indexes and the pool need it.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct DebRow {
    pub name: String,
    pub version: String,
    /// The architecture (the identity's qualifier).
    pub qualifier: String,
    pub filename: String,
    pub state: String,
    pub metadata: String,
    pub size: i64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

pub(crate) trait DebQueries {
    async fn deb_packages(&self, repository_id: i64) -> Result<Vec<DebRow>>;
}

impl DebQueries for Db {
    async fn deb_packages(&self, repository_id: i64) -> Result<Vec<DebRow>> {
        Ok(sqlx::query_as(
            "SELECT p.name, p.version, p.qualifier, p.filename, p.state, p.metadata, \
             b.size, b.md5, b.sha1, b.sha256, b.sha512 \
             FROM packages p JOIN package_files f ON f.package_id = p.id AND f.position = 0 \
             JOIN blobs b ON b.sha256 = f.blob_sha256 \
             WHERE p.repository_id = $1 AND p.format = 'deb' AND p.state <> 'deleted' \
             AND p.sync_status = 'completed' ORDER BY p.normalized_name, p.version, p.qualifier, p.id",
        )
        .bind(repository_id)
        .fetch_all(self.pool())
        .await?)
    }
}
