//! The sessions table: one row per signed-in browser, keyed by the sha256 of the cookie's
//! secret so that a leaked table opens no session.

use gantry_db::{Db, Migration, MigrationSet};
use sha2::{Digest, Sha256};

/// The web interface's tables.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    owner: "web",
    migrations: &[Migration {
        version: 1,
        sql: include_str!("../migrations/0001_sessions.sql"),
        was_core: None,
    }],
    watched: &[],
    repository_cleanup: &[],
};

/// A session as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SessionRow {
    pub(crate) token_id: i64,
    pub(crate) owns_token: i64,
    pub(crate) last_seen_at: i64,
}

pub(crate) fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub(crate) async fn create(
    db: &Db,
    secret: &str,
    token_id: i64,
    owns_token: bool,
    now: i64,
    expires_at: i64,
) -> Result<(), gantry_db::DbError> {
    sqlx::query(
        "INSERT INTO web_sessions (id_hash, token_id, owns_token, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(hash(secret))
    .bind(token_id)
    .bind(i64::from(owns_token))
    .bind(now)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The unexpired session with this secret.
pub(crate) async fn find(
    db: &Db,
    secret: &str,
    now: i64,
) -> Result<Option<SessionRow>, gantry_db::DbError> {
    Ok(sqlx::query_as(
        "SELECT token_id, owns_token, last_seen_at FROM web_sessions \
         WHERE id_hash = $1 AND expires_at > $2",
    )
    .bind(hash(secret))
    .bind(now)
    .fetch_optional(db.read_pool())
    .await?)
}

pub(crate) async fn touch(db: &Db, secret: &str, now: i64) -> Result<(), gantry_db::DbError> {
    sqlx::query("UPDATE web_sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(now)
        .bind(hash(secret))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Ends a session; also drops every expired one, so the table stays small without a job.
pub(crate) async fn delete(db: &Db, secret: &str, now: i64) -> Result<(), gantry_db::DbError> {
    sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1 OR expires_at <= $2")
        .bind(hash(secret))
        .bind(now)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Deletes every session that can no longer be used: past its end, or idle for longer than
/// the idle limit. Sign-ins and sign-outs never visit a session nobody comes back to; the
/// periodic sweep does, so the table holds only live sessions. A token the session minted at
/// a password sign-in is revoked with it, as a sign-out would (nobody holds its secret, but it
/// would stay listed among the user's tokens, active, until its own end).
pub async fn sweep_expired(db: &Db, now: i64) -> Result<u64, gantry_db::DbError> {
    let idle_since = now - crate::session::IDLE_MINUTES * 60_000;
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "UPDATE tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND id IN \
         (SELECT token_id FROM web_sessions WHERE owns_token = 1 \
          AND (expires_at <= $1 OR last_seen_at < $2))",
    )
    .bind(now)
    .bind(idle_since)
    .execute(&mut *tx)
    .await?;
    let done = sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1 OR last_seen_at < $2")
        .bind(now)
        .bind(idle_since)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use gantry_db::Db;

    use super::{create, find, sweep_expired, MIGRATIONS};
    use crate::session::IDLE_MINUTES;

    /// The table's rows by secret, on SQLite, or on the PostgreSQL database of
    /// `GANTRY_TEST_DATABASE_URL` when set (the secrets are this test's own).
    #[tokio::test]
    async fn the_sweep_removes_expired_and_idle_sessions_only(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = std::env::var("GANTRY_TEST_DATABASE_URL")
            .unwrap_or_else(|_| Db::sqlite_url(dir.path()));
        let db = Db::connect_with(&url, &[MIGRATIONS]).await?;
        let now = gantry_core::time::now_millis();
        let tag = crate::session::random_secret();
        let secret = |n: &str| format!("{n}-{tag}");
        let hour = 3_600_000;
        let token = |n: &str| gantry_db::NewToken {
            secret: secret(n),
            description: "web session".into(),
            site_admin: false,
            namespace: None,
            repository: None,
            privilege: "read".into(),
            expires_at: Some(now + 24 * hour),
            created_by: None,
            principal_id: None,
            kind: "api".into(),
            max_downloads: None,
        };
        // The idle session minted its token; the expired one signed in with a token of the
        // user's, which must outlive it.
        let minted = db.create_token(&token("minted")).await?;
        let borrowed = db.create_token(&token("borrowed")).await?;
        let own = db.create_token(&token("own")).await?;
        create(&db, &secret("live"), own, true, now, now + hour).await?;
        create(
            &db,
            &secret("expired"),
            borrowed,
            false,
            now - 2 * hour,
            now - 1,
        )
        .await?;
        let idle_start = now - IDLE_MINUTES * 60_000 - 1;
        create(&db, &secret("idle"), minted, true, idle_start, now + hour).await?;
        let removed = sweep_expired(&db, now).await?;
        assert!(removed >= 2, "removed {removed}");
        assert!(find(&db, &secret("live"), now).await?.is_some());
        let revoked = |id| {
            let db = db.clone();
            async move {
                Ok::<_, gantry_db::DbError>(db.get_token(id).await?.and_then(|t| t.revoked_at))
            }
        };
        assert!(
            revoked(minted).await?.is_some(),
            "a minted token outlived its session"
        );
        assert!(
            revoked(borrowed).await?.is_none(),
            "a borrowed token was revoked"
        );
        // `find` ignores expired rows itself: look for the rows even past their end.
        for gone in ["expired", "idle"] {
            assert!(
                find(&db, &secret(gone), i64::MIN).await?.is_none(),
                "{gone} is still stored"
            );
        }
        Ok(())
    }
}
