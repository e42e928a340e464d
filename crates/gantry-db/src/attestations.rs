//! The site's signing keys and the packages' signed attestations.

use gantry_core::time::now_millis;
use sqlx::FromRow;

use crate::{Db, Result};

#[derive(Debug, Clone, FromRow)]
pub struct SigningKeyRow {
    pub keyid: String,
    pub algorithm: String,
    pub public_key: String,
    /// The private key (base64); never leaves the server.
    pub secret: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

#[derive(Debug, Clone, FromRow)]
pub struct AttestationRow {
    pub id: i64,
    pub slug_perm: String,
    /// `upload`, `copy` or `move`.
    pub step: String,
    /// For a copy: the package it was copied from.
    pub origin_slug: Option<String>,
    pub keyid: String,
    pub envelope: String,
}

const KEY_COLUMNS: &str = "keyid, algorithm, public_key, secret, created_at, retired_at";
const ATTESTATION_COLUMNS: &str = "id, slug_perm, step, origin_slug, keyid, envelope";

impl Db {
    /// The key in use, if one was made.
    pub async fn active_signing_key(&self) -> Result<Option<SigningKeyRow>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM signing_keys WHERE active = 1");
        Ok(sqlx::query_as(&sql).fetch_optional(&self.pool).await?)
    }

    /// Every key, oldest first (public parts are what callers show).
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM signing_keys ORDER BY id");
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    /// Stores `key` as the active key unless another replica made one first; `false` then.
    pub async fn insert_first_signing_key(&self, key: &SigningKeyRow) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO signing_keys (keyid, algorithm, public_key, secret, active, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&key.keyid)
        .bind(&key.algorithm)
        .bind(&key.public_key)
        .bind(&key.secret)
        .bind(key.created_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Retires the active key and makes `key` the active one, in one transaction.
    pub async fn rotate_signing_key(&self, key: &SigningKeyRow) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE signing_keys SET active = NULL, retired_at = $1 WHERE active = 1")
            .bind(key.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO signing_keys (keyid, algorithm, public_key, secret, active, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5)",
        )
        .bind(&key.keyid)
        .bind(&key.algorithm)
        .bind(&key.public_key)
        .bind(&key.secret)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a step's envelope. An upload is recorded once per package: a second one is
    /// ignored (`false`).
    pub async fn insert_attestation(
        &self,
        slug_perm: &str,
        step: &str,
        origin_slug: Option<&str>,
        keyid: &str,
        envelope: &str,
    ) -> Result<bool> {
        let upload_of = (step == "upload").then_some(slug_perm);
        let done = sqlx::query(
            "INSERT INTO attestations (slug_perm, step, origin_slug, upload_of, keyid, envelope, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(slug_perm)
        .bind(step)
        .bind(origin_slug)
        .bind(upload_of)
        .bind(keyid)
        .bind(envelope)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A package's own attestations with ids up to `upto`, oldest first.
    pub async fn attestations_of(&self, slug_perm: &str, upto: i64) -> Result<Vec<AttestationRow>> {
        let sql = format!(
            "SELECT {ATTESTATION_COLUMNS} FROM attestations WHERE slug_perm = $1 AND id <= $2 ORDER BY id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(slug_perm)
            .bind(upto)
            .fetch_all(&self.pool)
            .await?)
    }
}
