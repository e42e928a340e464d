//! Namespaces and repositories.

use gantry_core::time::now_millis;
use gantry_core::UpdateRepository;
use sqlx::FromRow;

use crate::bind::Sql;
use crate::OrConflict;
use crate::{Db, DbError, Result};

/// A repository with its namespace's name.
#[derive(Debug, Clone, FromRow)]
pub struct RepoRow {
    pub id: i64,
    pub namespace: String,
    pub name: String,
    pub description: String,
    pub private: i64,
    pub package_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// JSON array of CIDR networks; empty allows every address.
    pub ip_allowlist: String,
    /// JSON array of CIDR networks refused even when allow-listed.
    pub ip_denylist: String,
    /// JSON object: operation name → minimum privilege, overriding the defaults.
    pub permissions: String,
    /// Non-zero: an existing tag may not be pointed at other content.
    pub immutable_tags: i64,
    /// Non-zero: a native deploy of a published release replaces it.
    pub allow_republish: i64,
}

impl RepoRow {
    /// `OWNER/REPO`.
    pub fn slug(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn is_private(&self) -> bool {
        self.private != 0
    }

    pub fn tags_immutable(&self) -> bool {
        self.immutable_tags != 0
    }

    pub fn republish_allowed(&self) -> bool {
        self.allow_republish != 0
    }
}

const REPO_SELECT: &str = "SELECT r.id, n.name AS namespace, r.name, r.description, r.private, \
     r.package_count, r.created_at, r.updated_at, r.ip_allowlist, r.ip_denylist, r.permissions, \
     r.immutable_tags, r.allow_republish \
     FROM repositories r JOIN namespaces n ON n.id = r.namespace_id";

impl Db {
    pub async fn namespace_exists(&self, namespace: &str) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM namespaces WHERE name = $1")
            .bind(namespace)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Creates the namespace if it does not exist.
    pub async fn ensure_namespace(&self, namespace: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO namespaces (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(namespace)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn create_repo(
        &self,
        namespace: &str,
        name: &str,
        description: &str,
        private: bool,
    ) -> Result<RepoRow> {
        let now = now_millis();
        let ns: Option<(i64,)> = sqlx::query_as("SELECT id FROM namespaces WHERE name = $1")
            .bind(namespace)
            .fetch_optional(&self.pool)
            .await?;
        let (ns_id,) = ns.ok_or(DbError::NotFound("namespace"))?;
        sqlx::query(
            "INSERT INTO repositories (namespace_id, name, description, private, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(ns_id)
        .bind(name)
        .bind(description)
        .bind(i64::from(private))
        .bind(now)
        .execute(&self.pool)
        .await
        .or_conflict(|| format!("repository {namespace}/{name} already exists"))?;
        self.get_repo(namespace, name)
            .await?
            .ok_or(DbError::NotFound("repository"))
    }

    pub async fn get_repo(&self, namespace: &str, name: &str) -> Result<Option<RepoRow>> {
        let sql = format!("{REPO_SELECT} WHERE n.name = $1 AND r.name = $2");
        Ok(sqlx::query_as(&sql)
            .bind(namespace)
            .bind(name)
            .fetch_optional(&self.read)
            .await?)
    }

    pub async fn get_repo_by_id(&self, id: i64) -> Result<Option<RepoRow>> {
        let sql = format!("{REPO_SELECT} WHERE r.id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.read)
            .await?)
    }

    pub async fn list_repos(&self, namespace: &str) -> Result<Vec<RepoRow>> {
        let sql = format!("{REPO_SELECT} WHERE n.name = $1 ORDER BY r.name");
        Ok(sqlx::query_as(&sql)
            .bind(namespace)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Live packages and their bytes per format of each repository in `ids`: (repository
    /// id, format, packages, bytes), from the counters kept with the packages.
    pub async fn repository_format_totals(
        &self,
        ids: &[i64],
    ) -> Result<Vec<(i64, String, i64, i64)>> {
        let mut rows = Vec::new();
        for chunk in ids.chunks(500) {
            let mut sql = Sql::new(
                "SELECT repository_id, format, package_count, total_size FROM repository_format_stats \
                 WHERE package_count > 0 AND repository_id IN ",
            );
            sql.int_list(chunk);
            sql.push(" ORDER BY repository_id, package_count DESC, format");
            rows.extend(sql.query_as().fetch_all(&self.pool).await?);
        }
        Ok(rows)
    }

    pub async fn update_repo(&self, id: i64, update: &UpdateRepository) -> Result<RepoRow> {
        let json_list =
            |l: &Option<Vec<String>>| l.as_ref().map(|l| serde_json::json!(l).to_string());
        sqlx::query(
            "UPDATE repositories SET description = COALESCE($1, description), \
             private = COALESCE($2, private), ip_allowlist = COALESCE($3, ip_allowlist), \
             ip_denylist = COALESCE($4, ip_denylist), permissions = COALESCE($5, permissions), \
             immutable_tags = COALESCE($6, immutable_tags), \
             allow_republish = COALESCE($7, allow_republish), updated_at = $8 WHERE id = $9",
        )
        .bind(update.description.clone())
        .bind(update.private.map(i64::from))
        .bind(json_list(&update.ip_allowlist))
        .bind(json_list(&update.ip_denylist))
        .bind(
            update
                .permissions
                .as_ref()
                .map(serde_json::Value::to_string),
        )
        .bind(update.immutable_tags.map(i64::from))
        .bind(update.allow_republish.map(i64::from))
        .bind(now_millis())
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.get_repo_by_id(id)
            .await?
            .ok_or(DbError::NotFound("repository"))
    }

    /// Deletes a repository. While it holds packages (deleted ones included, since they
    /// can still be restored) this is refused unless `force`; forcing removes the package
    /// rows, leaving their blobs to garbage collection and their events in the audit log.
    pub async fn delete_repo(&self, id: i64, force: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM packages WHERE repository_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if count > 0 && !force {
            return Err(DbError::Conflict(format!(
                "repository holds {count} package(s); delete them first or force the deletion"
            )));
        }
        let (namespace, name): (String, String) = sqlx::query_as(
            "SELECT n.name, r.name FROM repositories r JOIN namespaces n ON n.id = r.namespace_id WHERE r.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        // Tokens and grants scoped to the repository must not come back to life if a
        // repository of the same name is created later.
        sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE namespace = $2 AND repository = $3 AND revoked_at IS NULL",
        )
        .bind(now_millis())
        .bind(&namespace)
        .bind(&name)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM grants WHERE namespace = $1 AND repository = $2")
            .bind(&namespace)
            .bind(&name)
            .execute(&mut *tx)
            .await?;
        for sql in self.repository_cleanup.iter() {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        for sql in [
            "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.repository_id = $1)",
            "DELETE FROM webhook_deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE repository_id = $1)",
            "DELETE FROM webhooks WHERE repository_id = $1",
            "DELETE FROM upstream_cache WHERE upstream_id IN (SELECT id FROM upstreams WHERE repository_id = $1)",
            "DELETE FROM upstreams WHERE repository_id = $1",
            "DELETE FROM vulnerability_exceptions WHERE repository_id = $1",
            "DELETE FROM package_vulnerabilities WHERE package_id IN (SELECT id FROM packages WHERE repository_id = $1)",
            "DELETE FROM package_files WHERE package_id IN (SELECT id FROM packages WHERE repository_id = $1)",
            "DELETE FROM package_tags WHERE package_id IN (SELECT id FROM packages WHERE repository_id = $1)",
            "DELETE FROM packages WHERE repository_id = $1",
            "DELETE FROM repository_format_stats WHERE repository_id = $1",
            "DELETE FROM repositories WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
