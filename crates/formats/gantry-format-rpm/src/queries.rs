//! The reads the repodata is written from: the available, synced RPMs of a repository with
//! their stored metadata, and a cheap fingerprint of that set.

use gantry_db::{Db, Result};
use sqlx::FromRow;

/// One listed package: where its file is and what its headers said.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct ListedRow {
    pub(crate) slug_perm: String,
    pub(crate) filename: String,
    pub(crate) sha256: String,
    pub(crate) size: i64,
    pub(crate) uploaded_at: i64,
    pub(crate) metadata: String,
}

const LIVE: &str = "p.repository_id = $1 AND p.format = 'rpm' AND p.state = 'available' \
     AND p.sync_status = 'completed' AND p.yanked = 0";

pub(crate) trait RpmQueries {
    /// Every package the repodata lists, in a stable order.
    async fn rpm_listed(&self, repository_id: i64) -> Result<Vec<ListedRow>>;

    /// (count, newest `updated_at`, sum of ids, sum of `updated_at`): changes whenever the
    /// listed set or any member changes (every change stamps `updated_at`).
    async fn rpm_fingerprint(&self, repository_id: i64) -> Result<(i64, i64, i64, i64)>;

    /// (name, version, arch) of every package of the repository but the deleted: an
    /// upstream's package of the same identity is not listed (the local one is, or — when
    /// quarantined or yanked — neither is).
    async fn rpm_identities(&self, repository_id: i64) -> Result<Vec<(String, String, String)>>;
}

impl RpmQueries for Db {
    async fn rpm_listed(&self, repository_id: i64) -> Result<Vec<ListedRow>> {
        let sql = format!(
            "SELECT p.slug_perm, p.filename, p.primary_sha256 AS sha256, p.size, \
             p.uploaded_at, p.metadata FROM packages p WHERE {LIVE} \
             ORDER BY p.normalized_name, p.version, p.qualifier, p.id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(repository_id)
            .fetch_all(self.read_pool())
            .await?)
    }

    async fn rpm_identities(&self, repository_id: i64) -> Result<Vec<(String, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT name, version, qualifier FROM packages WHERE repository_id = $1 \
             AND format = 'rpm' AND state <> 'deleted'",
        )
        .bind(repository_id)
        .fetch_all(self.read_pool())
        .await?)
    }

    async fn rpm_fingerprint(&self, repository_id: i64) -> Result<(i64, i64, i64, i64)> {
        let sql = format!(
            "SELECT COUNT(*), CAST(COALESCE(MAX(p.updated_at), 0) AS BIGINT), \
             CAST(COALESCE(SUM(p.id), 0) AS BIGINT), \
             CAST(COALESCE(SUM(p.updated_at), 0) AS BIGINT) FROM packages p WHERE {LIVE}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(repository_id)
            .fetch_one(self.read_pool())
            .await?)
    }
}

/// Advisories of the RPM distributions' ecosystems (OSV writes `Red Hat:<product>`).
const RPM_ECOSYSTEMS: &str = "ecosystem LIKE 'Red Hat:%'";

pub(crate) trait RpmAdvisoryQueries {
    /// Whether any advisory of an RPM distribution is imported.
    async fn rpm_advisories_imported(&self) -> Result<bool>;

    /// The RPM distributions' ecosystems (with their release) that have advisories naming
    /// `name`.
    async fn rpm_ecosystems_naming(&self, name: &str) -> Result<Vec<String>>;

    /// Live RPMs named by any of `names`: (id, slug_perm), to be rescanned.
    async fn rpm_packages_named(&self, names: &[&str]) -> Result<Vec<(i64, String)>>;
}

impl RpmAdvisoryQueries for Db {
    async fn rpm_advisories_imported(&self) -> Result<bool> {
        let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM advisory_packages WHERE {RPM_ECOSYSTEMS} LIMIT 1) a");
        let (count,): (i64,) = sqlx::query_as(&sql).fetch_one(self.read_pool()).await?;
        Ok(count > 0)
    }

    async fn rpm_ecosystems_naming(&self, name: &str) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT DISTINCT ecosystem FROM advisory_packages WHERE name = $1 AND {RPM_ECOSYSTEMS} \
             ORDER BY ecosystem"
        );
        let rows: Vec<(String,)> = sqlx::query_as(&sql)
            .bind(name)
            .fetch_all(self.read_pool())
            .await?;
        Ok(rows.into_iter().map(|(e,)| e).collect())
    }

    async fn rpm_packages_named(&self, names: &[&str]) -> Result<Vec<(i64, String)>> {
        let mut out = Vec::new();
        // In chunks: a statement's bind parameters are limited.
        for chunk in names.chunks(500) {
            let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, slug_perm FROM packages WHERE format = 'rpm' AND state <> 'deleted' \
                 AND name IN ({})",
                params.join(", ")
            );
            let mut query = sqlx::query_as(&sql);
            for name in chunk {
                query = query.bind(*name);
            }
            let rows: Vec<(i64, String)> = query.fetch_all(self.read_pool()).await?;
            out.extend(rows);
        }
        Ok(out)
    }
}
