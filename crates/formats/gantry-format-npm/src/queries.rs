//! npm's own tables and queries: the rows a packument is rendered from, and dist-tags. The
//! tables come with this crate's migrations ([`MIGRATIONS`]).

use gantry_core::time::now_millis;
use gantry_db::{Backend, Db, Migration, MigrationSet, Result};
use sqlx::FromRow;

/// This format's schema: the dist-tags and version-document tables, and the packument index.
pub(crate) const MIGRATIONS: MigrationSet = MigrationSet {
    owner: "npm",
    migrations: &[Migration {
        version: 1,
        sql: include_str!("../migrations/0001_dist_tags_documents.sql"),
        was_core: Some(9),
    }],
    // Dist-tags change what a packument says: replicas' caches must hear of it.
    watched: &[("npm_dist_tags", "INSERT OR UPDATE OR DELETE")],
    repository_cleanup: &["DELETE FROM npm_dist_tags WHERE repository_id = $1"],
};

/// One live, synced version of an npm package with its tarball's digests and, once stored,
/// its version document.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct NpmVersionRow {
    pub id: i64,
    pub slug_perm: String,
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
pub(crate) struct NpmDocument {
    pub sha256: String,
    pub sha1: String,
    pub sha512: String,
    pub manifest: String,
    pub abbreviated: String,
    pub description: Option<String>,
    pub file_count: Option<i64>,
    pub unpacked_size: Option<i64>,
}

/// The queries, on the shared database handle.
pub(crate) trait NpmQueries {
    async fn npm_versions(
        &self,
        repository_id: i64,
        name: &str,
        abbreviated: bool,
    ) -> Result<Vec<NpmVersionRow>>;
    async fn npm_fingerprint(&self, repository_id: i64, name: &str)
        -> Result<(i64, i64, i64, i64)>;
    async fn npm_put_documents(&self, documents: &[NpmDocument]) -> Result<()>;
    async fn npm_dist_tags(&self, repository_id: i64, name: &str) -> Result<Vec<(String, String)>>;
    async fn npm_set_dist_tag(
        &self,
        repository_id: i64,
        name: &str,
        tag: &str,
        version: &str,
    ) -> Result<()>;
    async fn npm_delete_dist_tag(&self, repository_id: i64, name: &str, tag: &str) -> Result<bool>;
}

impl NpmQueries for Db {
    /// Every available, synced version of `name` in a repository, oldest first, each with its
    /// tarball's digests and its full (or `abbreviated`) document. The database joins the
    /// rows into one text value (fields and rows split by ASCII unit and record separators,
    /// which JSON text cannot hold unescaped): the drivers' cost is per row, and a packument
    /// reads thousands. Should a field hold a separator, the rows are read one by one instead.
    async fn npm_versions(
        &self,
        repository_id: i64,
        name: &str,
        abbreviated: bool,
    ) -> Result<Vec<NpmVersionRow>> {
        let doc = document_column(abbreviated);
        let (unit, record, agg) = match self.backend() {
            Backend::Sqlite => ("char(31)", "char(30)", "group_concat"),
            Backend::Postgres => ("chr(31)", "chr(30)", "string_agg"),
        };
        let fields = [
            "CAST(p.id AS TEXT)".to_owned(),
            "p.slug_perm".into(),
            "p.version".into(),
            "p.filename".into(),
            "CAST(p.uploaded_at AS TEXT)".into(),
            "CAST(p.updated_at AS TEXT)".into(),
            "CAST(p.yanked AS TEXT)".into(),
            "COALESCE(p.yank_reason, '')".into(),
            "p.primary_sha256".into(),
            "COALESCE(d.sha1, b.sha1, '')".into(),
            "COALESCE(d.sha512, b.sha512, '')".into(),
            "CASE WHEN d.sha256 IS NULL THEN '0' ELSE '1' END".into(),
            "COALESCE(d.description, '')".into(),
            "CAST(COALESCE(d.file_count, -1) AS TEXT)".into(),
            "CAST(COALESCE(d.unpacked_size, -1) AS TEXT)".into(),
            format!("CASE WHEN d.sha256 IS NULL THEN p.metadata ELSE {doc} END"),
        ];
        let line = fields.join(&format!(" || {unit} || "));
        // Rows are put in order after splitting: sorting inside the aggregate costs more.
        let sql =
            format!("SELECT {agg}(line, {record}) FROM (SELECT {line} AS line {VERSIONS_FROM}) v");
        let joined: Option<(Option<String>,)> = sqlx::query_as(&sql)
            .bind(repository_id)
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        let Some(text) = joined.and_then(|(t,)| t) else {
            return Ok(Vec::new());
        };
        if let Some(rows) = split_versions(&text) {
            return Ok(rows);
        }
        npm_version_rows(self, repository_id, name, abbreviated).await
    }

    /// A summary that changes whenever the set of available versions of `name` or any of
    /// them changes (each change stamps `updated_at` with the time): (count, newest
    /// `updated_at`, sum of ids, sum of `updated_at`). Read from the index alone.
    async fn npm_fingerprint(
        &self,
        repository_id: i64,
        name: &str,
    ) -> Result<(i64, i64, i64, i64)> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(MAX(p.updated_at), 0) AS BIGINT), \
             CAST(COALESCE(SUM(p.id), 0) AS BIGINT), CAST(COALESCE(SUM(p.updated_at), 0) AS BIGINT) \
             FROM packages p WHERE p.repository_id = $1 AND p.normalized_name = $2 \
             AND p.format = 'npm' AND p.state = 'available' AND p.sync_status = 'completed'",
        )
        .bind(repository_id)
        .bind(name)
        .fetch_one(self.pool())
        .await?)
    }

    /// Stores version documents (a document already stored for a tarball stays).
    async fn npm_put_documents(&self, documents: &[NpmDocument]) -> Result<()> {
        let mut tx = self.pool().begin().await?;
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

    /// The dist-tags of `name` in a repository: (tag, version), by tag.
    async fn npm_dist_tags(&self, repository_id: i64, name: &str) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT tag, version FROM npm_dist_tags WHERE repository_id = $1 AND name = $2 ORDER BY tag",
        )
        .bind(repository_id)
        .bind(name)
        .fetch_all(self.pool())
        .await?)
    }

    async fn npm_set_dist_tag(
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
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes a dist-tag; false when there was none.
    async fn npm_delete_dist_tag(&self, repository_id: i64, name: &str, tag: &str) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM npm_dist_tags WHERE repository_id = $1 AND name = $2 AND tag = $3",
        )
        .bind(repository_id)
        .bind(name)
        .bind(tag)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// [`NpmQueries::npm_versions`], one row at a time.
async fn npm_version_rows(
    db: &Db,
    repository_id: i64,
    name: &str,
    abbreviated: bool,
) -> Result<Vec<NpmVersionRow>> {
    let doc = document_column(abbreviated);
    let sql = format!(
        "SELECT p.id, p.slug_perm, p.version, p.filename, p.uploaded_at, p.updated_at, \
         p.yanked, p.yank_reason, p.primary_sha256 AS sha256, \
         COALESCE(d.sha1, b.sha1) AS sha1, COALESCE(d.sha512, b.sha512) AS sha512, \
         {doc} AS doc, d.description, d.file_count, d.unpacked_size, \
         CASE WHEN d.sha256 IS NULL THEN p.metadata ELSE NULL END AS metadata \
         {VERSIONS_FROM} ORDER BY p.id"
    );
    Ok(sqlx::query_as(&sql)
        .bind(repository_id)
        .bind(name)
        .fetch_all(db.pool())
        .await?)
}

/// The stored version document a packument shows: full or abbreviated.
fn document_column(abbreviated: bool) -> &'static str {
    if abbreviated {
        "d.abbreviated"
    } else {
        "d.manifest"
    }
}

/// The tables and conditions of a packument's versions: the covering index
/// `packages_npm_versions` serves them; blobs are read only for tarballs without documents.
const VERSIONS_FROM: &str = "FROM packages p \
     LEFT JOIN npm_documents d ON d.sha256 = p.primary_sha256 \
     LEFT JOIN blobs b ON d.sha256 IS NULL AND b.sha256 = p.primary_sha256 \
     WHERE p.repository_id = $1 AND p.normalized_name = $2 AND p.format = 'npm' \
     AND p.state = 'available' AND p.sync_status = 'completed'";

/// Splits [`NpmQueries::npm_versions`]' joined text; `None` when it does not have the expected shape.
fn split_versions(text: &str) -> Option<Vec<NpmVersionRow>> {
    let mut rows = Vec::new();
    for record in text.split('\u{1e}') {
        let f: Vec<&str> = record.splitn(16, '\u{1f}').collect();
        let [id, slug_perm, version, filename, uploaded_at, updated_at, yanked, yank_reason, sha256, sha1, sha512, has_doc, description, file_count, unpacked_size, body] =
            f.as_slice()
        else {
            return None;
        };
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let count = |s: &str| s.parse::<i64>().ok().filter(|n| *n >= 0);
        let stored = *has_doc == "1";
        rows.push(NpmVersionRow {
            id: id.parse().ok()?,
            slug_perm: (*slug_perm).to_owned(),
            version: (*version).to_owned(),
            filename: (*filename).to_owned(),
            uploaded_at: uploaded_at.parse().ok()?,
            updated_at: updated_at.parse().ok()?,
            yanked: yanked.parse().ok()?,
            yank_reason: non_empty(yank_reason),
            sha256: (*sha256).to_owned(),
            sha1: (*sha1).to_owned(),
            sha512: (*sha512).to_owned(),
            doc: stored.then(|| (*body).to_owned()),
            description: non_empty(description),
            file_count: count(file_count),
            unpacked_size: count(unpacked_size),
            metadata: (!stored).then(|| (*body).to_owned()),
        });
    }
    rows.sort_by_key(|r| r.id);
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_joined_versions() {
        let row = |id: &str, doc: &str| {
            [
                id,
                "SLUG",
                "1.0.0",
                "a-1.0.0.tgz",
                "5",
                "6",
                "1",
                "old",
                "s256",
                "s1",
                "s512",
                "1",
                "",
                "3",
                "-1",
                doc,
            ]
            .join("\u{1f}")
        };
        let text = [row("2", "{\"x\":1}"), row("1", "{}")].join("\u{1e}");
        let rows = split_versions(&text).unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, 1);
        assert_eq!(rows[1].doc.as_deref(), Some("{\"x\":1}"));
        assert_eq!(rows[0].yank_reason.as_deref(), Some("old"));
        assert_eq!((rows[0].file_count, rows[0].unpacked_size), (Some(3), None));
        assert!(rows[0].description.is_none() && rows[0].metadata.is_none());
        assert!(split_versions("1\u{1f}short").is_none());
    }
}
