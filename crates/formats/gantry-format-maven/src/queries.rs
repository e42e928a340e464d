//! Maven's own table (deploys in progress) and its queries, and the one read of packages the
//! shared package queries do not answer (a group's plugins). The table comes with this
//! crate's migrations ([`MIGRATIONS`]).

use gantry_core::time::now_millis;
use gantry_db::{Db, Migration, MigrationSet, NewFile, Result};
use sqlx::FromRow;

use crate::pure::ID;

pub(crate) const MIGRATIONS: MigrationSet = MigrationSet {
    owner: ID,
    migrations: &[Migration {
        version: 1,
        sql: include_str!("../migrations/0001_staged_files.sql"),
        was_core: None,
    }],
    // Staged files are never served or cached: nothing for replicas' caches to hear of.
    watched: &[],
    repository_cleanup: &["DELETE FROM maven_staged_files WHERE repository_id = $1"],
};

/// A file of a deploy in progress, with its blob's digests.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct StagedFile {
    pub(crate) version: String,
    pub(crate) filename: String,
    pub(crate) build: String,
    pub(crate) sha256: String,
    pub(crate) size: i64,
    pub(crate) md5: String,
    pub(crate) sha1: String,
    pub(crate) sha512: String,
    pub(crate) uploader: String,
    pub(crate) source_address: Option<String>,
    pub(crate) updated_at: i64,
}

impl StagedFile {
    pub(crate) fn digest(&self, algorithm: crate::pure::path::Checksum) -> &str {
        use crate::pure::path::Checksum;
        match algorithm {
            Checksum::Md5 => &self.md5,
            Checksum::Sha1 => &self.sha1,
            Checksum::Sha256 => &self.sha256,
            Checksum::Sha512 => &self.sha512,
        }
    }
}

const STAGED_SELECT: &str = "SELECT s.version, s.filename, s.build, \
     s.blob_sha256 AS sha256, b.size, b.md5, b.sha1, b.sha512, s.uploader, s.source_address, \
     s.updated_at FROM maven_staged_files s JOIN blobs b ON b.sha256 = s.blob_sha256";

/// Where a deploy's files are staged: the repository and the artifact.
pub(crate) struct StageKey<'a> {
    pub(crate) repository_id: i64,
    pub(crate) group_id: &'a str,
    pub(crate) artifact_id: &'a str,
}

pub(crate) trait MavenQueries {
    /// Stages a stored file of a deploy (`blob`: its stored bytes; a file sent again
    /// replaces the earlier one).
    async fn maven_stage(
        &self,
        key: &StageKey<'_>,
        file: &StagedFile,
        blob: &NewFile,
    ) -> Result<()>;

    /// The staged files of an artifact.
    async fn maven_staged(&self, key: &StageKey<'_>) -> Result<Vec<StagedFile>>;

    /// Removes staged files of an artifact: one file, or all of a version when `filename`
    /// is `None`.
    async fn maven_unstage(
        &self,
        key: &StageKey<'_>,
        version: &str,
        filename: Option<&str>,
    ) -> Result<()>;

    /// Artifacts with staged files none of which changed since `before`.
    async fn maven_idle_artifacts(&self, before: i64) -> Result<Vec<(i64, String, String)>>;

    /// Names and metadata of the available Maven plugins of a repository (`repo` by id and
    /// slug), but those it cached from its upstreams.
    async fn maven_plugins(&self, repo: (i64, &str)) -> Result<Vec<(String, String)>>;
}

impl MavenQueries for Db {
    async fn maven_stage(
        &self,
        key: &StageKey<'_>,
        file: &StagedFile,
        blob: &NewFile,
    ) -> Result<()> {
        let now = now_millis();
        let mut tx = self.pool().begin().await?;
        gantry_db::record_blob(&mut tx, blob).await?;
        sqlx::query(
            "INSERT INTO maven_staged_files (repository_id, group_id, artifact_id, version, \
             filename, build, blob_sha256, size, uploader, source_address, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (repository_id, group_id, artifact_id, version, filename) DO UPDATE SET \
             blob_sha256 = excluded.blob_sha256, size = excluded.size, uploader = excluded.uploader, \
             source_address = excluded.source_address, updated_at = excluded.updated_at",
        )
        .bind(key.repository_id)
        .bind(key.group_id)
        .bind(key.artifact_id)
        .bind(&file.version)
        .bind(&file.filename)
        .bind(&file.build)
        .bind(&blob.sha256)
        .bind(blob.size)
        .bind(&file.uploader)
        .bind(&file.source_address)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn maven_staged(&self, key: &StageKey<'_>) -> Result<Vec<StagedFile>> {
        let sql = format!(
            "{STAGED_SELECT} WHERE s.repository_id = $1 AND s.group_id = $2 AND s.artifact_id = $3 \
             ORDER BY s.version, s.build, s.filename"
        );
        Ok(sqlx::query_as(&sql)
            .bind(key.repository_id)
            .bind(key.group_id)
            .bind(key.artifact_id)
            .fetch_all(self.pool())
            .await?)
    }

    async fn maven_unstage(
        &self,
        key: &StageKey<'_>,
        version: &str,
        filename: Option<&str>,
    ) -> Result<()> {
        let base = "DELETE FROM maven_staged_files WHERE repository_id = $1 AND group_id = $2 \
                    AND artifact_id = $3 AND version = $4";
        let mut q = match filename {
            Some(_) => sqlx::query(
                "DELETE FROM maven_staged_files WHERE repository_id = $1 AND group_id = $2 \
                 AND artifact_id = $3 AND version = $4 AND filename = $5",
            ),
            None => sqlx::query(base),
        }
        .bind(key.repository_id)
        .bind(key.group_id)
        .bind(key.artifact_id)
        .bind(version);
        if let Some(filename) = filename {
            q = q.bind(filename);
        }
        q.execute(self.pool()).await?;
        Ok(())
    }

    async fn maven_idle_artifacts(&self, before: i64) -> Result<Vec<(i64, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT repository_id, group_id, artifact_id FROM maven_staged_files \
             GROUP BY repository_id, group_id, artifact_id HAVING MAX(updated_at) < $1 LIMIT 100",
        )
        .bind(before)
        .fetch_all(self.pool())
        .await?)
    }

    async fn maven_plugins(&self, (id, slug): (i64, &str)) -> Result<Vec<(String, String)>> {
        // The few plugins of a repository; their groups are matched by the caller.
        Ok(sqlx::query_as(
            "SELECT normalized_name, metadata FROM packages WHERE repository_id = $1 \
             AND format = $2 AND state = 'available' AND sync_status = 'completed' \
             AND metadata LIKE '%\"plugin_prefix\":\"%' \
             AND NOT (source = 'upstream' AND origin_repository = $3)",
        )
        .bind(id)
        .bind(ID)
        .bind(slug)
        .fetch_all(self.pool())
        .await?)
    }
}
