//! This format's own tables and queries: blob links of an image, upload sessions, and lookups
//! of manifests and blobs by digest among an image's packages (a manifest package's files are
//! named by digest). The tables come with this crate's migrations ([`MIGRATIONS`]).

use gantry_core::time::now_millis;
use gantry_db::{Db, DbError, Migration, MigrationSet, NewFile, PackageRow, Result};
use sqlx::FromRow;

/// This format's schema: blob links and upload sessions with their chunks.
pub(crate) const MIGRATIONS: MigrationSet = MigrationSet {
    owner: crate::pure::ID,
    migrations: &[
        Migration {
            version: 1,
            sql: include_str!("../migrations/0001_blob_links_uploads.sql"),
            was_core: None,
        },
        Migration {
            version: 2,
            sql: include_str!("../migrations/0002_components.sql"),
            was_core: None,
        },
    ],
    // Read per request, never cached: nothing for replicas' caches to hear of.
    watched: &[],
    repository_cleanup: &[
        "DELETE FROM oci_components WHERE package_id IN \
         (SELECT id FROM packages WHERE repository_id = $1)",
        "DELETE FROM oci_upload_chunks WHERE upload_id IN \
         (SELECT id FROM oci_uploads WHERE repository_id = $1)",
        "DELETE FROM oci_uploads WHERE repository_id = $1",
        "DELETE FROM oci_blob_links WHERE repository_id = $1",
    ],
};

/// The format id of the packages these queries read.
const FORMAT: &str = crate::pure::ID;

/// A unique-constraint violation as a conflict with `message`.
fn conflict_on_unique(err: sqlx::Error, message: impl FnOnce() -> String) -> DbError {
    match &err {
        sqlx::Error::Database(e) if e.is_unique_violation() => DbError::Conflict(message()),
        _ => DbError::Sqlx(err),
    }
}

/// Blob files of manifest packages carry this content type; manifests carry their media type.
pub(crate) const OCI_BLOB_CONTENT_TYPE: &str = "application/octet-stream";

/// A blob or manifest found by digest in an image.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct OciObject {
    pub(crate) sha256: String,
    pub(crate) size: i64,
    pub(crate) md5: String,
    pub(crate) sha1: String,
    pub(crate) sha512: String,
    pub(crate) content_type: String,
    /// The state of the package it was found in; `None` for a blob link.
    pub(crate) state: Option<String>,
    pub(crate) status_reason: Option<String>,
    pub(crate) slug_perm: Option<String>,
}

impl OciObject {
    /// The object as a file of a new package, named by `digest`.
    pub(crate) fn as_file(&self, digest: &str, content_type: &str) -> NewFile {
        NewFile {
            filename: digest.to_owned(),
            content_type: content_type.to_owned(),
            size: self.size,
            md5: self.md5.clone(),
            sha1: self.sha1.clone(),
            sha256: self.sha256.clone(),
            sha512: self.sha512.clone(),
        }
    }
}

/// An upload session.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct OciUploadRow {
    pub(crate) id: String,
    pub(crate) repository_id: i64,
    pub(crate) name: String,
    pub(crate) size: i64,
    pub(crate) chunks: i64,
}

const OBJECT_SELECT: &str = "SELECT f.blob_sha256 AS sha256, b.size, b.md5, b.sha1, b.sha512, \
     f.content_type, p.state, p.status_reason, p.slug_perm \
     FROM package_files f JOIN packages p ON p.id = f.package_id \
     JOIN blobs b ON b.sha256 = f.blob_sha256 \
     WHERE p.repository_id = $1 AND p.format = $2 AND p.normalized_name = $3 \
     AND p.state <> 'deleted' AND p.sync_status = 'completed' AND f.filename = $4";

/// The live packages of image `name` that meet `condition` (SQL on `p`, which may use `$4`
/// for `arg`), oldest first.
async fn live_image_packages(
    db: &Db,
    repository_id: i64,
    name: &str,
    condition: &str,
    arg: &str,
) -> Result<Vec<PackageRow>> {
    let sql = format!(
        "SELECT p.id FROM packages p WHERE p.repository_id = $1 AND p.format = $2 \
         AND p.normalized_name = $3 AND p.state <> 'deleted' AND {condition} ORDER BY p.id"
    );
    let ids: Vec<(i64,)> = sqlx::query_as(&sql)
        .bind(repository_id)
        .bind(FORMAT)
        .bind(name)
        .bind(arg)
        .fetch_all(db.pool())
        .await?;
    let mut rows = Vec::with_capacity(ids.len());
    for (id,) in ids {
        if let Some(row) = db.get_package_by_id(id).await? {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The file `digest` of image `name` from a live, synced package (an available one first);
/// with `manifest_only`, only a file whose content type is a media type.
async fn first_object(
    db: &Db,
    repository_id: i64,
    name: &str,
    digest: &str,
    manifest_only: bool,
) -> Result<Option<OciObject>> {
    let condition = if manifest_only {
        "AND f.content_type <> $5"
    } else {
        ""
    };
    let sql = format!(
        "{OBJECT_SELECT} {condition} \
         ORDER BY CASE WHEN p.state = 'available' THEN 0 ELSE 1 END, f.position LIMIT 1"
    );
    let mut query = sqlx::query_as(&sql)
        .bind(repository_id)
        .bind(FORMAT)
        .bind(name)
        .bind(digest);
    if manifest_only {
        query = query.bind(OCI_BLOB_CONTENT_TYPE);
    }
    Ok(query.fetch_optional(db.pool()).await?)
}

/// The queries, on the shared database handle.
#[allow(async_fn_in_trait)]
pub(crate) trait OciQueries {
    /// Records that `digest` (of the stored blob `file`) is in image `name`.
    async fn oci_link_blob(
        &self,
        repository_id: i64,
        name: &str,
        digest: &str,
        file: &NewFile,
    ) -> Result<()>;

    /// Removes a blob link; whether there was one.
    async fn oci_unlink_blob(&self, repository_id: i64, name: &str, digest: &str) -> Result<bool>;

    /// A blob of image `name` by digest: from a live manifest package that holds it (an
    /// available one first), else from a link.
    async fn oci_find_blob(
        &self,
        repository_id: i64,
        name: &str,
        digest: &str,
    ) -> Result<Option<OciObject>>;

    /// A manifest of image `name` by digest (a file whose content type is a media type), from
    /// an available package first.
    async fn oci_find_manifest(
        &self,
        repository_id: i64,
        name: &str,
        digest: &str,
    ) -> Result<Option<OciObject>>;

    /// The live packages of image `name` whose own manifest has `digest`.
    async fn oci_packages_by_digest(
        &self,
        repository_id: i64,
        name: &str,
        digest: &str,
    ) -> Result<Vec<PackageRow>>;

    /// The live packages of image `name` whose metadata mentions `text` (a prefilter: the
    /// caller checks the parsed metadata).
    async fn oci_packages_mentioning(
        &self,
        repository_id: i64,
        name: &str,
        text: &str,
    ) -> Result<Vec<PackageRow>>;

    /// The versions of the live packages of image `name` (tags and digests).
    async fn oci_versions(&self, repository_id: i64, name: &str) -> Result<Vec<String>>;

    /// Gives a package another version (a tag moved away leaves its digest as the version).
    async fn oci_set_version(&self, package: &PackageRow, version: &str) -> Result<()>;

    /// Starts an upload session.
    async fn oci_upload_create(&self, id: &str, repository_id: i64, name: &str) -> Result<()>;

    async fn oci_upload_get(&self, id: &str) -> Result<Option<OciUploadRow>>;

    /// Appends a stored chunk to a session that holds `offset` bytes; false when the session
    /// moved on meanwhile (a concurrent chunk won).
    async fn oci_upload_append(
        &self,
        upload: &OciUploadRow,
        sha256: &str,
        size: i64,
    ) -> Result<bool>;

    /// The stored chunks of a session, in order: (sha256, size).
    async fn oci_upload_chunks(&self, id: &str) -> Result<Vec<(String, i64)>>;

    /// Sessions not written to since `before` (milliseconds), oldest first, at most `limit`.
    async fn oci_stale_uploads(&self, before: i64, limit: i64) -> Result<Vec<String>>;

    /// Ends a session; whether it existed.
    async fn oci_upload_delete(&self, id: &str) -> Result<bool>;

    /// Whether anything but upload session `except` still needs the stored object `sha256`
    /// (a package file, a blob link, another session's chunk).
    async fn oci_object_needed(&self, sha256: &str, except: &str) -> Result<bool>;
}

impl OciQueries for Db {
    /// Records that `digest` (of the stored blob `file`) is in image `name`.
    async fn oci_link_blob(
        &self,
        repository_id: i64,
        name: &str,
        digest: &str,
        file: &NewFile,
    ) -> Result<()> {
        let now = now_millis();
        let mut tx = self.pool().begin().await?;
        gantry_db::record_blob(&mut tx, file).await?;
        sqlx::query(
            "INSERT INTO oci_blob_links (repository_id, name, digest, blob_sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (repository_id, name, digest) DO NOTHING",
        )
        .bind(repository_id)
        .bind(name)
        .bind(digest)
        .bind(&file.sha256)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a blob link; whether there was one.
    async fn oci_unlink_blob(&self, repository_id: i64, name: &str, digest: &str) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM oci_blob_links WHERE repository_id = $1 AND name = $2 AND digest = $3",
        )
        .bind(repository_id)
        .bind(name)
        .bind(digest)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A blob of image `name` by digest: from a live manifest package that holds it (an
    /// available one first), else from a link.
    async fn oci_find_blob(
        &self,
        repository_id: i64,
        name: &str,
        digest: &str,
    ) -> Result<Option<OciObject>> {
        let found = first_object(self, repository_id, name, digest, false).await?;
        if found
            .as_ref()
            .is_some_and(|o| o.state.as_deref() == Some("available"))
        {
            return Ok(found);
        }
        let linked: Option<OciObject> = sqlx::query_as(
            "SELECT l.blob_sha256 AS sha256, b.size, b.md5, b.sha1, b.sha512, \
             'application/octet-stream' AS content_type, CAST(NULL AS TEXT) AS state, \
             CAST(NULL AS TEXT) AS status_reason, CAST(NULL AS TEXT) AS slug_perm \
             FROM oci_blob_links l JOIN blobs b ON b.sha256 = l.blob_sha256 \
             WHERE l.repository_id = $1 AND l.name = $2 AND l.digest = $3",
        )
        .bind(repository_id)
        .bind(name)
        .bind(digest)
        .fetch_optional(self.pool())
        .await?;
        // A link alone does not make a blob of a quarantined image downloadable.
        Ok(found.or(linked))
    }

    /// A manifest of image `name` by digest (a file whose content type is a media type), from
    /// an available package first.
    async fn oci_find_manifest(
        &self,
        repository_id: i64,
        name: &str,
        digest: &str,
    ) -> Result<Option<OciObject>> {
        first_object(self, repository_id, name, digest, true).await
    }

    /// The live packages of image `name` whose own manifest has `digest`.
    async fn oci_packages_by_digest(
        &self,
        repository_id: i64,
        name: &str,
        digest: &str,
    ) -> Result<Vec<PackageRow>> {
        // A package's own manifest is its first file.
        let condition = "EXISTS (SELECT 1 FROM package_files f WHERE f.package_id = p.id \
                         AND f.position = 0 AND f.filename = $4)";
        live_image_packages(self, repository_id, name, condition, digest).await
    }

    /// The live packages of image `name` whose metadata mentions `text` (a prefilter: the
    /// caller checks the parsed metadata).
    async fn oci_packages_mentioning(
        &self,
        repository_id: i64,
        name: &str,
        text: &str,
    ) -> Result<Vec<PackageRow>> {
        let pattern = format!("%{}%", text.replace(['%', '_', '\\'], ""));
        live_image_packages(self, repository_id, name, "p.metadata LIKE $4", &pattern).await
    }

    /// The versions of the live packages of image `name` (tags and digests).
    async fn oci_versions(&self, repository_id: i64, name: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT version FROM packages WHERE repository_id = $1 AND format = $2 \
             AND normalized_name = $3 AND state <> 'deleted'",
        )
        .bind(repository_id)
        .bind(FORMAT)
        .bind(name)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(v,)| v).collect())
    }

    /// Gives a package another version (a tag moved away leaves its digest as the version).
    async fn oci_set_version(&self, package: &PackageRow, version: &str) -> Result<()> {
        sqlx::query("UPDATE packages SET version = $1, updated_at = $2 WHERE id = $3")
            .bind(version)
            .bind(now_millis())
            .bind(package.id)
            .execute(self.pool())
            .await
            .map_err(|e| {
                conflict_on_unique(e, || format!("{} {version} already exists", package.name))
            })?;
        Ok(())
    }

    /// Starts an upload session.
    async fn oci_upload_create(&self, id: &str, repository_id: i64, name: &str) -> Result<()> {
        let now = now_millis();
        sqlx::query(
            "INSERT INTO oci_uploads (id, repository_id, name, size, chunks, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, 0, $4, $4)",
        )
        .bind(id)
        .bind(repository_id)
        .bind(name)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn oci_upload_get(&self, id: &str) -> Result<Option<OciUploadRow>> {
        Ok(sqlx::query_as(
            "SELECT id, repository_id, name, size, chunks FROM oci_uploads WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Appends a stored chunk to a session that holds `offset` bytes; false when the session
    /// moved on meanwhile (a concurrent chunk won).
    async fn oci_upload_append(
        &self,
        upload: &OciUploadRow,
        sha256: &str,
        size: i64,
    ) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE oci_uploads SET size = size + $1, chunks = chunks + 1, updated_at = $2 \
             WHERE id = $3 AND size = $4 AND chunks = $5",
        )
        .bind(size)
        .bind(now_millis())
        .bind(&upload.id)
        .bind(upload.size)
        .bind(upload.chunks)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO oci_upload_chunks (upload_id, position, blob_sha256, size) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&upload.id)
        .bind(upload.chunks)
        .bind(sha256)
        .bind(size)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The stored chunks of a session, in order: (sha256, size).
    async fn oci_upload_chunks(&self, id: &str) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT blob_sha256, size FROM oci_upload_chunks WHERE upload_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Sessions not written to since `before` (milliseconds), oldest first, at most `limit`.
    async fn oci_stale_uploads(&self, before: i64, limit: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM oci_uploads WHERE updated_at < $1 ORDER BY updated_at LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Ends a session; whether it existed.
    async fn oci_upload_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM oci_upload_chunks WHERE upload_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM oci_uploads WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Whether anything but upload session `except` still needs the stored object `sha256`
    /// (a package file, a blob link, another session's chunk).
    async fn oci_object_needed(&self, sha256: &str, except: &str) -> Result<bool> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM package_files WHERE blob_sha256 = $1) \
             + (SELECT COUNT(*) FROM oci_blob_links WHERE blob_sha256 = $1) \
             + (SELECT COUNT(*) FROM oci_upload_chunks WHERE blob_sha256 = $1 AND upload_id <> $2)",
        )
        .bind(sha256)
        .bind(except)
        .fetch_one(self.pool())
        .await?;
        Ok(count > 0)
    }
}

/// The loose key components are matched by: OSV names differ from installed names in case
/// and separators in some ecosystems (PyPI), and a few extra rescans cost nothing.
pub(crate) fn name_key(name: &str) -> String {
    name.trim().to_lowercase().replace(['_', '.'], "-")
}

/// Most names per lookup statement.
const NAMES_PER_QUERY: usize = 500;

/// Component records of image packages (see `migrations/0002_components.sql`).
#[allow(async_fn_in_trait)]
pub(crate) trait ComponentQueries {
    /// Replaces what package `package_id` is recorded to contain.
    async fn oci_record_components(
        &self,
        package_id: i64,
        components: &[(String, String)],
    ) -> Result<()>;

    /// Live image packages holding a component named in `touched` (ecosystem, name):
    /// (id, slug_perm).
    async fn oci_packages_containing(
        &self,
        touched: &[(String, String)],
    ) -> Result<Vec<(i64, String)>>;
}

impl ComponentQueries for Db {
    async fn oci_record_components(
        &self,
        package_id: i64,
        components: &[(String, String)],
    ) -> Result<()> {
        let mut keys: Vec<(&str, String)> = components
            .iter()
            .map(|(ecosystem, name)| (ecosystem.as_str(), name_key(name)))
            .collect();
        keys.sort();
        keys.dedup();
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM oci_components WHERE package_id = $1")
            .bind(package_id)
            .execute(&mut *tx)
            .await?;
        for (ecosystem, key) in keys {
            sqlx::query(
                "INSERT INTO oci_components (package_id, ecosystem, name_key) VALUES ($1, $2, $3)",
            )
            .bind(package_id)
            .bind(ecosystem)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn oci_packages_containing(
        &self,
        touched: &[(String, String)],
    ) -> Result<Vec<(i64, String)>> {
        let mut by_ecosystem: std::collections::BTreeMap<&str, Vec<String>> =
            std::collections::BTreeMap::new();
        for (ecosystem, name) in touched {
            by_ecosystem
                .entry(ecosystem.as_str())
                .or_default()
                .push(name_key(name));
        }
        let mut out: Vec<(i64, String)> = Vec::new();
        for (ecosystem, keys) in &by_ecosystem {
            for chunk in keys.chunks(NAMES_PER_QUERY) {
                let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
                let sql = format!(
                    "SELECT DISTINCT p.id, p.slug_perm FROM oci_components c \
                     JOIN packages p ON p.id = c.package_id \
                     WHERE p.state <> 'deleted' AND p.format = $1 AND c.ecosystem = $2 \
                     AND c.name_key IN ({})",
                    marks.join(", ")
                );
                let mut query = sqlx::query_as::<_, (i64, String)>(&sql)
                    .bind(FORMAT)
                    .bind(*ecosystem);
                for key in chunk {
                    query = query.bind(key);
                }
                out.extend(query.fetch_all(self.pool()).await?);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
