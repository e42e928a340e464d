//! Users, teams, service accounts, team membership and privilege grants.

use gantry_core::time::now_millis;
use sqlx::FromRow;

use crate::OrConflict;
use crate::{Db, DbError, Result};

#[derive(Debug, Clone, FromRow)]
pub struct PrincipalRow {
    pub id: i64,
    /// `user`, `team` or `service`.
    pub kind: String,
    /// '' for users.
    pub namespace: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub site_admin: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
}

impl PrincipalRow {
    /// `user:NAME`, `team:OWNER/NAME` or `service:OWNER/NAME`.
    pub fn reference(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}:{}", self.kind, self.name)
        } else {
            format!("{}:{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct GrantRow {
    pub id: i64,
    pub principal_id: i64,
    pub principal_kind: String,
    pub principal_namespace: String,
    pub principal_name: String,
    pub namespace: String,
    /// '' for a namespace-wide grant.
    pub repository: String,
    pub privilege: String,
    pub created_by: Option<String>,
    pub created_at: i64,
}

const PRINCIPAL_COLUMNS: &str =
    "id, kind, namespace, name, password_hash, site_admin, created_by, created_at";
const GRANT_SELECT: &str = "SELECT g.id, g.principal_id, p.kind AS principal_kind, \
     p.namespace AS principal_namespace, p.name AS principal_name, g.namespace, g.repository, \
     g.privilege, g.created_by, g.created_at FROM grants g JOIN principals p ON p.id = g.principal_id";

impl Db {
    pub async fn create_principal(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        password_hash: Option<&str>,
        created_by: &str,
    ) -> Result<PrincipalRow> {
        sqlx::query(
            "INSERT INTO principals (kind, namespace, name, password_hash, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(kind)
        .bind(namespace)
        .bind(name)
        .bind(password_hash.map(str::to_owned))
        .bind(created_by)
        .bind(now_millis())
        .execute(&self.pool)
        .await
        .or_conflict(|| format!("{kind} {name} already exists"))?;
        self.find_principal(kind, namespace, name)
            .await?
            .ok_or(DbError::NotFound("principal"))
    }

    pub async fn find_principal(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<PrincipalRow>> {
        let sql = format!(
            "SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE kind = $1 AND namespace = $2 AND name = $3"
        );
        Ok(sqlx::query_as(&sql)
            .bind(kind)
            .bind(namespace)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn get_principal(&self, id: i64) -> Result<Option<PrincipalRow>> {
        let sql = format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.read)
            .await?)
    }

    /// Teams and service accounts of a namespace.
    pub async fn list_principals(&self, namespace: &str, kind: &str) -> Result<Vec<PrincipalRow>> {
        let sql = format!(
            "SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE namespace = $1 AND kind = $2 ORDER BY name"
        );
        Ok(sqlx::query_as(&sql)
            .bind(namespace)
            .bind(kind)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn list_users(&self) -> Result<Vec<PrincipalRow>> {
        let sql =
            format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE kind = 'user' ORDER BY name");
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    pub async fn set_password(&self, id: i64, password_hash: &str) -> Result<()> {
        sqlx::query("UPDATE principals SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn add_team_member(&self, team_id: i64, user_id: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(team_id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn remove_team_member(&self, team_id: i64, user_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn team_members(&self, team_id: i64) -> Result<Vec<PrincipalRow>> {
        let sql = format!(
            "SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE id IN \
             (SELECT user_id FROM team_members WHERE team_id = $1) ORDER BY name"
        );
        Ok(sqlx::query_as(&sql)
            .bind(team_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Grants `privilege` (replacing an earlier grant on the same scope).
    pub async fn set_grant(
        &self,
        principal_id: i64,
        namespace: &str,
        repository: &str,
        privilege: &str,
        created_by: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO grants (principal_id, namespace, repository, privilege, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (principal_id, namespace, repository) \
             DO UPDATE SET privilege = excluded.privilege, created_by = excluded.created_by",
        )
        .bind(principal_id)
        .bind(namespace)
        .bind(repository)
        .bind(privilege)
        .bind(created_by)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_grant(
        &self,
        principal_id: i64,
        namespace: &str,
        repository: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM grants WHERE principal_id = $1 AND namespace = $2 AND repository = $3",
        )
        .bind(principal_id)
        .bind(namespace)
        .bind(repository)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Grants on a namespace and its repositories.
    pub async fn list_grants(&self, namespace: &str) -> Result<Vec<GrantRow>> {
        let sql = format!("{GRANT_SELECT} WHERE g.namespace = $1 ORDER BY g.repository, g.id");
        Ok(sqlx::query_as(&sql)
            .bind(namespace)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Every grant that applies to a principal: its own and its teams'.
    pub async fn effective_grants(
        &self,
        principal_id: i64,
    ) -> Result<Vec<(String, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT namespace, repository, privilege FROM grants WHERE principal_id = $1 \
             OR principal_id IN (SELECT team_id FROM team_members WHERE user_id = $1)",
        )
        .bind(principal_id)
        .fetch_all(&self.read)
        .await?)
    }
}

impl Db {
    pub async fn set_site_admin(&self, id: i64, site_admin: bool) -> Result<()> {
        sqlx::query("UPDATE principals SET site_admin = $1 WHERE id = $2")
            .bind(i64::from(site_admin))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
