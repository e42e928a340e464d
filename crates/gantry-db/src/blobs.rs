//! The `blobs` table as garbage collection and `fsck` see it.
//!
//! A blob is referenced by any row of any table with a `blob_sha256` column: package files
//! (of deleted packages too, which stay restorable), and whatever a format keeps beside them
//! (OCI blob links and upload chunks). The tables are read from the schema, so a format's
//! table that follows the naming keeps its blobs alive without being listed here.
//!
//! `blobs.created_at` is the blob's last write: every upload renews it just before its bytes
//! take their content address ([`Db::mark_blob`]). Removal happens in one transaction that
//! deletes the row only when it is unreferenced and older than the cutoff, and removes the
//! object while that transaction holds the row (PostgreSQL) or the write lock (SQLite); an
//! upload's mark waits for it, and then finds the object gone and places its own.

use sqlx::{AnyConnection, Row};

use crate::{Backend, Db, Result};

/// A `blobs` row: what the metadata store says a blob is.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BlobRow {
    pub sha256: String,
    pub size: i64,
    pub md5: String,
    pub sha1: String,
    pub sha512: String,
    pub created_at: i64,
}

/// The tables whose `blob_sha256` column refers to blobs.
#[derive(Debug, Clone)]
pub struct BlobReferences {
    tables: Vec<String>,
}

impl BlobReferences {
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// `NOT EXISTS` over every referring table for the blob named by `column`.
    fn unreferenced(&self, column: &str) -> String {
        let clauses: Vec<String> = self
            .tables
            .iter()
            .map(|t| format!("NOT EXISTS (SELECT 1 FROM {t} r WHERE r.blob_sha256 = {column})"))
            .collect();
        if clauses.is_empty() {
            "1 = 1".to_owned()
        } else {
            clauses.join(" AND ")
        }
    }
}

/// Table names come from the schema; anything but a plain identifier is refused rather than
/// spliced into SQL.
fn plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

impl Db {
    /// Records that an upload just wrote `sha256`: creates its row, or renews the row's last
    /// write, so garbage collection leaves the blob alone for its grace period.
    pub async fn mark_blob(
        &self,
        sha256: &str,
        size: i64,
        md5: &str,
        sha1: &str,
        sha512: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (sha256) DO UPDATE SET created_at = excluded.created_at, \
             size = excluded.size, md5 = excluded.md5, sha1 = excluded.sha1, \
             sha512 = excluded.sha512",
        )
        .bind(sha256)
        .bind(size)
        .bind(md5)
        .bind(sha1)
        .bind(sha512)
        .bind(gantry_core::time::now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Finds the tables that refer to blobs (see the module documentation).
    pub async fn blob_references(&self) -> Result<BlobReferences> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c \
                 WHERE m.type = 'table' AND c.name = 'blob_sha256' ORDER BY m.name"
            }
            Backend::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.columns \
                 WHERE column_name = 'blob_sha256' AND table_schema = current_schema() \
                 ORDER BY table_name"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.read).await?;
        let mut tables = Vec::new();
        for row in rows {
            let name: String = row.try_get(0)?;
            if !plain_identifier(&name) {
                return Err(crate::DbError::Corrupt(format!(
                    "table name {name:?} is not a plain identifier"
                )));
            }
            tables.push(name);
        }
        Ok(BlobReferences { tables })
    }

    /// Whether any row refers to `sha256`.
    pub async fn blob_in_use(&self, refs: &BlobReferences, sha256: &str) -> Result<bool> {
        for table in &refs.tables {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE blob_sha256 = $1");
            let (count,): (i64,) = sqlx::query_as(&sql)
                .bind(sha256)
                .fetch_one(&self.read)
                .await?;
            if count > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The `blobs` row of `sha256`, if any.
    pub async fn blob_row(&self, sha256: &str) -> Result<Option<BlobRow>> {
        Ok(sqlx::query_as(
            "SELECT sha256, size, md5, sha1, sha512, created_at FROM blobs WHERE sha256 = $1",
        )
        .bind(sha256)
        .fetch_optional(&self.read)
        .await?)
    }

    /// Blob rows after `after` in key order, at most `limit`: `fsck` pages through them.
    pub async fn blob_rows_after(&self, after: &str, limit: i64) -> Result<Vec<BlobRow>> {
        Ok(sqlx::query_as(
            "SELECT sha256, size, md5, sha1, sha512, created_at FROM blobs \
             WHERE sha256 > $1 ORDER BY sha256 LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?)
    }

    /// Rows no table refers to whose last write is before `cutoff` (milliseconds).
    pub async fn unreferenced_blob_rows(
        &self,
        refs: &BlobReferences,
        cutoff: i64,
    ) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT sha256 FROM blobs WHERE created_at < $1 AND {} ORDER BY sha256",
            refs.unreferenced("blobs.sha256")
        );
        let rows: Vec<(String,)> = sqlx::query_as(&sql)
            .bind(cutoff)
            .fetch_all(&self.read)
            .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    /// The slugs (`OWNER/REPO/SLUG`-free: `slug_perm`) of packages with a file on `sha256`.
    pub async fn packages_on_blob(&self, sha256: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT p.slug_perm FROM package_files f JOIN packages p ON p.id = f.package_id \
             WHERE f.blob_sha256 = $1 ORDER BY p.slug_perm",
        )
        .bind(sha256)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    /// Removes the blob `sha256` when nothing refers to it and it was last written before
    /// `cutoff`: deletes its row and calls `remove` for the object, in one transaction (see the
    /// module documentation). Returns whether it was removed; an error from `remove` rolls
    /// the row back.
    pub async fn remove_blob_if_unused<F, Fut, E>(
        &self,
        refs: &BlobReferences,
        sha256: &str,
        cutoff: i64,
        remove: F,
    ) -> Result<Result<bool, E>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), E>>,
    {
        let mut tx = self.pool.begin().await?;
        // An object without a row (an upload that stopped before recording it) gets a
        // placeholder, so there is a row to hold while the object goes.
        placeholder(&mut tx, sha256).await?;
        let sql = format!(
            "DELETE FROM blobs WHERE sha256 = $1 AND created_at < $2 AND {}",
            refs.unreferenced("blobs.sha256")
        );
        let deleted = sqlx::query(&sql)
            .bind(sha256)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            tx.rollback().await?;
            return Ok(Ok(false));
        }
        if let Err(error) = remove().await {
            tx.rollback().await?;
            return Ok(Err(error));
        }
        tx.commit().await?;
        Ok(Ok(true))
    }
}

async fn placeholder(conn: &mut AnyConnection, sha256: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) \
         VALUES ($1, 0, '', '', '', 0) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(sha256)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_plain_identifiers_are_table_names() {
        assert!(super::plain_identifier("oci_upload_chunks"));
        assert!(!super::plain_identifier("x; DROP TABLE blobs"));
        assert!(!super::plain_identifier(""));
        assert!(!super::plain_identifier("Packages"));
    }
}
