//! npm: the rows a packument is rendered from, and dist-tags.

use gantry_core::time::now_millis;
use sqlx::FromRow;

use crate::{Db, Result};

/// One live, synced version of an npm package with its tarball's digests.
#[derive(Debug, Clone, FromRow)]
pub struct NpmVersionRow {
    pub id: i64,
    pub slug_perm: String,
    pub name: String,
    pub version: String,
    pub filename: String,
    pub uploaded_at: i64,
    pub updated_at: i64,
    pub metadata: String,
    pub yanked: i64,
    pub yank_reason: Option<String>,
    pub sha1: String,
    pub sha512: String,
    pub size: i64,
}

impl Db {
    /// Every available, synced version of `name` in a repository, oldest first, each with its
    /// tarball's digests: one indexed query (by repository and name), one row per version.
    pub async fn npm_versions(&self, repository_id: i64, name: &str) -> Result<Vec<NpmVersionRow>> {
        Ok(sqlx::query_as(
            "SELECT p.id, p.slug_perm, p.name, p.version, p.filename, p.uploaded_at, p.updated_at, \
             p.metadata, p.yanked, p.yank_reason, b.sha1, b.sha512, b.size \
             FROM packages p \
             JOIN package_files f ON f.package_id = p.id AND f.position = 0 \
             JOIN blobs b ON b.sha256 = f.blob_sha256 \
             WHERE p.repository_id = $1 AND p.normalized_name = $2 AND p.format = 'npm' \
             AND p.state = 'available' AND p.sync_status = 'completed' ORDER BY p.id",
        )
        .bind(repository_id)
        .bind(name)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The dist-tags of `name` in a repository: (tag, version), by tag.
    pub async fn npm_dist_tags(
        &self,
        repository_id: i64,
        name: &str,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT tag, version FROM npm_dist_tags WHERE repository_id = $1 AND name = $2 ORDER BY tag",
        )
        .bind(repository_id)
        .bind(name)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn npm_set_dist_tag(
        &self,
        repository_id: i64,
        name: &str,
        tag: &str,
        version: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO npm_dist_tags (repository_id, name, tag, version, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (repository_id, name, tag) \
             DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(repository_id)
        .bind(name)
        .bind(tag)
        .bind(version)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a dist-tag; false when there was none.
    pub async fn npm_delete_dist_tag(
        &self,
        repository_id: i64,
        name: &str,
        tag: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM npm_dist_tags WHERE repository_id = $1 AND name = $2 AND tag = $3",
        )
        .bind(repository_id)
        .bind(name)
        .bind(tag)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
