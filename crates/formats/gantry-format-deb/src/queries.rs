//! The apt protocol's query (a repository's synced, not deleted `.deb`s with their file's
//! checksums, read at most once per cache epoch) and the scan's (whether Debian advisories
//! are imported, the live `.deb`s to rescan after an import).

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

/// A live `.deb` as a rescan after an advisory import needs it.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct LiveDeb {
    pub id: i64,
    pub slug_perm: String,
    pub metadata: String,
}

pub(crate) trait DebAdvisoryQueries {
    /// Whether any advisory of a Debian release (OSV `Debian:<n>`) is imported.
    async fn debian_advisories_imported(&self) -> Result<bool>;

    /// Every live `.deb` (its source package is in its metadata, so the caller picks).
    async fn live_debs(&self) -> Result<Vec<LiveDeb>>;
}

impl DebAdvisoryQueries for Db {
    async fn debian_advisories_imported(&self) -> Result<bool> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM (SELECT 1 FROM advisory_packages \
             WHERE ecosystem LIKE 'Debian:%' LIMIT 1) a",
        )
        .fetch_one(self.read_pool())
        .await?;
        Ok(count > 0)
    }

    async fn live_debs(&self) -> Result<Vec<LiveDeb>> {
        Ok(sqlx::query_as(
            "SELECT id, slug_perm, metadata FROM packages \
             WHERE format = 'deb' AND state <> 'deleted' ORDER BY id",
        )
        .fetch_all(self.read_pool())
        .await?)
    }
}
