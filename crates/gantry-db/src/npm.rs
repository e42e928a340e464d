//! npm: the rows a packument is rendered from, and dist-tags.

use gantry_core::time::now_millis;
use sqlx::FromRow;

use crate::{Db, Result};

/// One live, synced version of an npm package with its tarball's digests and, once stored,
/// its version document.
#[derive(Debug, Clone, FromRow)]
pub struct NpmVersionRow {
    pub id: i64,
    pub slug_perm: String,
    pub name: String,
    pub version: String,
    pub filename: String,
    pub uploaded_at: i64,
    pub updated_at: i64,
    pub yanked: i64,
    pub yank_reason: Option<String>,
    pub sha256: String,
    pub sha1: String,
    pub sha512: String,
    /// The full or abbreviated document, as asked for; `None` until stored.
    pub doc: Option<String>,
    pub description: Option<String>,
    pub file_count: Option<i64>,
    pub unpacked_size: Option<i64>,
    /// The package's metadata, only when the document is not stored yet.
    pub metadata: Option<String>,
}

/// The documents of one tarball.
#[derive(Debug, Clone)]
pub struct NpmDocument {
    pub sha256: String,
    pub sha1: String,
    pub sha512: String,
    pub manifest: String,
    pub abbreviated: String,
    pub description: Option<String>,
    pub file_count: Option<i64>,
    pub unpacked_size: Option<i64>,
}

impl Db {
    /// Every available, synced version of `name` in a repository, oldest first, each with its
    /// tarball's digests and its full (or `abbreviated`) document: one indexed query by
    /// repository and name, one row per version.
    pub async fn npm_versions(
        &self,
        repository_id: i64,
        name: &str,
        abbreviated: bool,
    ) -> Result<Vec<NpmVersionRow>> {
        let doc = if abbreviated {
            "d.abbreviated"
        } else {
            "d.manifest"
        };
        let sql = format!(
            "SELECT p.id, p.slug_perm, p.name, p.version, p.filename, p.uploaded_at, p.updated_at, \
             p.yanked, p.yank_reason, p.primary_sha256 AS sha256, \
             COALESCE(d.sha1, b.sha1) AS sha1, COALESCE(d.sha512, b.sha512) AS sha512, \
             {doc} AS doc, d.description, d.file_count, d.unpacked_size, \
             CASE WHEN d.sha256 IS NULL THEN p.metadata ELSE NULL END AS metadata \
             FROM packages p \
             LEFT JOIN npm_documents d ON d.sha256 = p.primary_sha256 \
             LEFT JOIN blobs b ON d.sha256 IS NULL AND b.sha256 = p.primary_sha256 \
             WHERE p.repository_id = $1 AND p.normalized_name = $2 AND p.format = 'npm' \
             AND p.state = 'available' AND p.sync_status = 'completed' ORDER BY p.id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(repository_id)
            .bind(name)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Stores version documents (a document already stored for a tarball stays).
    pub async fn npm_put_documents(&self, documents: &[NpmDocument]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for d in documents {
            sqlx::query(
                "INSERT INTO npm_documents (sha256, sha1, sha512, manifest, abbreviated, description, \
                 file_count, unpacked_size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&d.sha256)
            .bind(&d.sha1)
            .bind(&d.sha512)
            .bind(&d.manifest)
            .bind(&d.abbreviated)
            .bind(d.description.clone())
            .bind(d.file_count)
            .bind(d.unpacked_size)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What identifies the current state of `name`'s versions, without their documents:
    /// (id, version, updated_at, yanked), oldest first. Deprecating, syncing again or moving a
    /// version changes its `updated_at` or the set of ids.
    pub async fn npm_version_stamps(
        &self,
        repository_id: i64,
        name: &str,
    ) -> Result<Vec<(i64, String, i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT p.id, p.version, p.updated_at, p.yanked FROM packages p \
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
