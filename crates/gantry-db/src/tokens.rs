//! API tokens. Only the sha256 of a token is stored; the secret is shown once at creation.

use gantry_core::time::now_millis;
use sha2::{Digest, Sha256};
use sqlx::FromRow;

use crate::{Db, Result};

#[derive(Debug, Clone)]
pub struct NewToken {
    pub secret: String,
    pub description: String,
    pub site_admin: bool,
    pub namespace: Option<String>,
    pub repository: Option<String>,
    pub privilege: String,
    pub expires_at: Option<i64>,
    pub created_by: Option<String>,
    pub principal_id: Option<i64>,
    /// `api` or `entitlement`.
    pub kind: String,
    pub max_downloads: Option<i64>,
}

#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub prefix: String,
    pub description: String,
    pub site_admin: i64,
    pub namespace: Option<String>,
    pub repository: Option<String>,
    pub privilege: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub principal_id: Option<i64>,
    pub kind: String,
    pub max_downloads: Option<i64>,
    pub download_count: i64,
    pub created_by: Option<String>,
}

impl TokenRow {
    /// Neither revoked nor expired at `now` (milliseconds), as [`Db::find_token`] requires.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// Hex sha256 of a token secret: tokens carry 256 random bits, so a fast hash is enough
/// to make a leaked table useless.
pub(crate) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

const TOKEN_COLUMNS: &str = "id, prefix, description, site_admin, namespace, repository, \
     privilege, created_at, expires_at, revoked_at, principal_id, kind, max_downloads, \
     download_count, created_by";

impl Db {
    pub async fn create_token(&self, token: &NewToken) -> Result<i64> {
        let prefix: String = token.secret.chars().take(12).collect();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO tokens (token_hash, prefix, description, site_admin, namespace, repository, \
             privilege, created_at, expires_at, created_by, principal_id, kind, max_downloads) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(hash_secret(&token.secret))
        .bind(prefix)
        .bind(&token.description)
        .bind(i64::from(token.site_admin))
        .bind(token.namespace.clone())
        .bind(token.repository.clone())
        .bind(&token.privilege)
        .bind(now_millis())
        .bind(token.expires_at)
        .bind(token.created_by.clone())
        .bind(token.principal_id)
        .bind(&token.kind)
        .bind(token.max_downloads)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// The live (not revoked, not expired) token with this secret.
    pub async fn find_token(&self, secret: &str) -> Result<Option<TokenRow>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)"
        );
        Ok(sqlx::query_as(&sql)
            .bind(hash_secret(secret))
            .bind(now_millis())
            .fetch_optional(&self.read)
            .await?)
    }

    pub async fn has_site_admin_token(&self) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM tokens WHERE site_admin = 1 AND revoked_at IS NULL LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Makes sure a site-admin token with this secret exists (for `GANTRY_ADMIN_TOKEN`).
    pub async fn ensure_site_admin_token(&self, secret: &str) -> Result<()> {
        if self.find_token(secret).await?.is_some() {
            return Ok(());
        }
        self.create_token(&NewToken {
            secret: secret.to_owned(),
            description: "admin".into(),
            site_admin: true,
            namespace: None,
            repository: None,
            privilege: "admin".into(),
            expires_at: None,
            created_by: Some("bootstrap".into()),
            principal_id: None,
            kind: "api".into(),
            max_downloads: None,
        })
        .await?;
        Ok(())
    }
}

impl Db {
    /// Tokens (live and revoked) scoped to a namespace, or of one repository's scope.
    pub async fn list_tokens(
        &self,
        namespace: &str,
        repository: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Vec<TokenRow>> {
        let mut sql = crate::bind::Sql::new(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE namespace = "
        ));
        sql.str(namespace);
        if let Some(repo) = repository {
            sql.push(" AND repository = ").str(repo);
        }
        if let Some(kind) = kind {
            sql.push(" AND kind = ").str(kind);
        }
        sql.push(" ORDER BY id");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    /// Tokens that belong to a principal.
    pub async fn list_principal_tokens(&self, principal_id: i64) -> Result<Vec<TokenRow>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE principal_id = $1 ORDER BY id");
        Ok(sqlx::query_as(&sql)
            .bind(principal_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn get_token(&self, id: i64) -> Result<Option<TokenRow>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Revokes a token; false when it was already revoked.
    pub async fn revoke_token(&self, id: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_millis())
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Counts one download against a token's budget; false when the budget is spent.
    pub async fn consume_download(&self, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE tokens SET download_count = download_count + 1 WHERE id = $1 \
             AND (max_downloads IS NULL OR download_count < max_downloads)",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
