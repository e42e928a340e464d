//! Maven's own table (deploys in progress) and its queries, and the reads of packages that
//! `maven-metadata.xml` is written from. The table comes with this crate's migrations
//! ([`MIGRATIONS`]).

use gantry_core::time::now_millis;
use gantry_db::{Db, Migration, MigrationSet, Result};
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

/// A file of a live package, for the version-level metadata of a SNAPSHOT.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct BuildFile {
    pub(crate) qualifier: String,
    pub(crate) uploaded_at: i64,
    pub(crate) filename: String,
}

pub(crate) trait MavenQueries {
    /// Stages a stored file of a deploy (a file sent again replaces the earlier one).
    async fn maven_stage(
        &self,
        key: &StageKey<'_>,
        file: &StagedFile,
        digests: &gantry_blobs::Digests,
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

    /// The versions of the available, synced packages of an artifact, with the time each was
    /// last published. Versions this repository (`repo_slug`) cached from its upstreams are
    /// left out: for those the upstreams' own metadata is served.
    async fn maven_versions(
        &self,
        repo_slug: &str,
        repository_id: i64,
        name: &str,
    ) -> Result<Vec<(String, i64)>>;

    /// The files of the available, synced builds of a SNAPSHOT version (but those this
    /// repository cached from its upstreams).
    async fn maven_build_files(
        &self,
        repo_slug: &str,
        repository_id: i64,
        name: &str,
        version: &str,
    ) -> Result<Vec<BuildFile>>;

    /// Names and metadata of the available plugins whose group is `group`.
    async fn maven_group_plugins(
        &self,
        repository_id: i64,
        group: &str,
    ) -> Result<Vec<(String, String)>>;

    /// Slugs of the live builds of a SNAPSHOT version, oldest first.
    async fn maven_live_builds(
        &self,
        repository_id: i64,
        name: &str,
        version: &str,
    ) -> Result<Vec<(String, String)>>;
}

impl MavenQueries for Db {
    async fn maven_stage(
        &self,
        key: &StageKey<'_>,
        file: &StagedFile,
        digests: &gantry_blobs::Digests,
    ) -> Result<()> {
        let now = now_millis();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&digests.sha256)
        .bind(i64::try_from(digests.size).unwrap_or(i64::MAX))
        .bind(&digests.md5)
        .bind(&digests.sha1)
        .bind(&digests.sha512)
        .bind(now)
        .execute(&mut *tx)
        .await?;
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
        .bind(&digests.sha256)
        .bind(i64::try_from(digests.size).unwrap_or(i64::MAX))
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

    async fn maven_versions(
        &self,
        repo_slug: &str,
        repository_id: i64,
        name: &str,
    ) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT version, MAX(uploaded_at) FROM packages WHERE repository_id = $1 \
             AND format = $2 AND normalized_name = $3 AND state = 'available' \
             AND sync_status = 'completed' \
             AND NOT (source = 'upstream' AND origin_repository = $4) GROUP BY version",
        )
        .bind(repository_id)
        .bind(ID)
        .bind(name)
        .bind(repo_slug)
        .fetch_all(self.pool())
        .await?)
    }

    async fn maven_build_files(
        &self,
        repo_slug: &str,
        repository_id: i64,
        name: &str,
        version: &str,
    ) -> Result<Vec<BuildFile>> {
        Ok(sqlx::query_as(
            "SELECT p.qualifier, p.uploaded_at, f.filename FROM packages p \
             JOIN package_files f ON f.package_id = p.id WHERE p.repository_id = $1 \
             AND p.format = $2 AND p.normalized_name = $3 AND p.version = $4 \
             AND p.state = 'available' AND p.sync_status = 'completed' \
             AND NOT (p.source = 'upstream' AND p.origin_repository = $5)",
        )
        .bind(repository_id)
        .bind(ID)
        .bind(name)
        .bind(version)
        .bind(repo_slug)
        .fetch_all(self.pool())
        .await?)
    }

    async fn maven_group_plugins(
        &self,
        repository_id: i64,
        group: &str,
    ) -> Result<Vec<(String, String)>> {
        let prefix = format!("{group}:");
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT normalized_name, metadata FROM packages WHERE repository_id = $1 \
             AND format = $2 AND state = 'available' AND sync_status = 'completed' \
             AND SUBSTR(normalized_name, 1, CAST($3 AS INTEGER)) = $4 AND metadata LIKE '%\"plugin_prefix\":\"%'",
        )
        .bind(repository_id)
        .bind(ID)
        .bind(i64::try_from(prefix.len()).unwrap_or(i64::MAX))
        .bind(&prefix)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    async fn maven_live_builds(
        &self,
        repository_id: i64,
        name: &str,
        version: &str,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT slug_perm, qualifier FROM packages WHERE repository_id = $1 AND format = $2 \
             AND normalized_name = $3 AND version = $4 AND state <> 'deleted' ORDER BY qualifier",
        )
        .bind(repository_id)
        .bind(ID)
        .bind(name)
        .bind(version)
        .fetch_all(self.pool())
        .await?)
    }
}
