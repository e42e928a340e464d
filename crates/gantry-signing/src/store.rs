//! Repository keys in the database: made on first use (once, across replicas), read through
//! the hot-path caches, rotated on request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gantry_db::{Db, Migration, MigrationSet, RepoRow};
use gantry_protocol::app::App;
use gantry_protocol::error::{AppError, AppResult};
use serde::Serialize;

use crate::key::{KeyError, RepositoryKey};

/// The signing keys' table, applied after the formats' migrations.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    owner: "signing",
    migrations: &[Migration {
        version: 1,
        sql: include_str!("../migrations/0001_repository_keys.sql"),
        was_core: None,
    }],
    // A rotation on one replica must reach the others' caches (the fingerprint memo below).
    watched: &[("repository_signing_keys", "INSERT OR UPDATE OR DELETE")],
    repository_cleanup: &["DELETE FROM repository_signing_keys WHERE repository_id = $1"],
};

/// The environment variable holding the passphrase that protects new keys at rest, and
/// unlocks stored ones.
pub const PASSPHRASE_ENV: &str = "GANTRY_SIGNING_PASSPHRASE";

/// A key as the API shows it: never its secret part.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct KeyInfo {
    /// 40 upper-case hex digits.
    pub fingerprint: String,
    /// The armored public key.
    pub public_key: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// When it was rotated out (milliseconds); `None` for the active key.
    pub retired_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct SecretRow {
    fingerprint: String,
    secret_key: String,
}

fn passphrase() -> Option<String> {
    std::env::var(PASSPHRASE_ENV).ok().filter(|p| !p.is_empty())
}

fn user_id(repo: &RepoRow) -> String {
    format!("Gantry repository {}/{}", repo.namespace, repo.name)
}

fn key_error(err: KeyError) -> AppError {
    AppError::internal(err)
}

/// Unlocked keys by fingerprint: a row never changes its key, so an entry is never stale, and
/// the passphrase's key derivation runs once per key and process.
fn unlocked() -> &'static Mutex<HashMap<String, Arc<RepositoryKey>>> {
    static KEYS: std::sync::OnceLock<Mutex<HashMap<String, Arc<RepositoryKey>>>> =
        std::sync::OnceLock::new();
    KEYS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn remember(key: RepositoryKey) -> Arc<RepositoryKey> {
    let key = Arc::new(key);
    if let Ok(mut keys) = unlocked().lock() {
        // Rotated-out keys are dropped with the rest past this bound; they are read again
        // if ever needed.
        if keys.len() >= 4096 {
            keys.clear();
        }
        keys.insert(key.fingerprint(), Arc::clone(&key));
    }
    key
}

fn recall(fingerprint: &str) -> Option<Arc<RepositoryKey>> {
    unlocked().lock().ok()?.get(fingerprint).cloned()
}

async fn active_row(db: &Db, repository_id: i64) -> Result<Option<SecretRow>, gantry_db::DbError> {
    Ok(sqlx::query_as(
        "SELECT fingerprint, secret_key FROM repository_signing_keys \
         WHERE repository_id = $1 AND active = 1",
    )
    .bind(repository_id)
    .fetch_optional(db.pool())
    .await?)
}

async fn insert<'e, E>(
    exec: E,
    repository_id: i64,
    key: &RepositoryKey,
    now: i64,
    conflict: &str,
) -> AppResult<bool>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!(
        "INSERT INTO repository_signing_keys \
         (repository_id, fingerprint, public_key, secret_key, protected, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6){conflict}"
    );
    let done = sqlx::query(&sql)
        .bind(repository_id)
        .bind(key.fingerprint())
        .bind(key.public_armored().map_err(key_error)?)
        .bind(key.secret_armored().map_err(key_error)?)
        .bind(i64::from(passphrase().is_some()))
        .bind(now)
        .execute(exec)
        .await
        .map_err(gantry_db::DbError::from)?;
    Ok(done.rows_affected() == 1)
}

/// The repository's active key, made now if it has none. Reads the database at most once per
/// cache epoch.
pub async fn active_key(app: &App, repo: &RepoRow) -> AppResult<Arc<RepositoryKey>> {
    let memo_key = format!("signing-key:{}", repo.id);
    let fingerprint = gantry_protocol::caches::memoized(app, memo_key, || async {
        Ok(load_or_make(app, repo).await?.fingerprint())
    })
    .await?;
    match recall(&fingerprint) {
        Some(key) => Ok(key),
        None => load_or_make(app, repo).await,
    }
}

async fn load_or_make(app: &App, repo: &RepoRow) -> AppResult<Arc<RepositoryKey>> {
    if let Some(row) = active_row(&app.db, repo.id).await? {
        return unlock(row);
    }
    let fresh =
        RepositoryKey::generate(&user_id(repo), passphrase().as_deref()).map_err(key_error)?;
    let now = gantry_core::time::now_millis();
    if insert(
        app.db.pool(),
        repo.id,
        &fresh,
        now,
        " ON CONFLICT DO NOTHING",
    )
    .await?
    {
        tracing::info!(repository = %format!("{}/{}", repo.namespace, repo.name),
            fingerprint = %fresh.fingerprint(), "made the repository's signing key");
        return Ok(remember(fresh));
    }
    // Another replica made it first: sign with theirs.
    let row = active_row(&app.db, repo.id)
        .await?
        .ok_or_else(|| AppError::internal("no active signing key after making one"))?;
    unlock(row)
}

fn unlock(row: SecretRow) -> AppResult<Arc<RepositoryKey>> {
    if let Some(key) = recall(&row.fingerprint) {
        return Ok(key);
    }
    let key =
        RepositoryKey::from_armored(&row.secret_key, passphrase().as_deref()).map_err(key_error)?;
    Ok(remember(key))
}

/// Every key the repository has had, the active one first, then the retired ones, newest
/// first. Makes the first key if there is none, so the key can be fetched before anything
/// was signed.
pub async fn keys(app: &App, repo: &RepoRow) -> AppResult<Vec<KeyInfo>> {
    active_key(app, repo).await?;
    Ok(sqlx::query_as(
        "SELECT fingerprint, public_key, created_at, retired_at FROM repository_signing_keys \
         WHERE repository_id = $1 ORDER BY active IS NULL, id DESC",
    )
    .bind(repo.id)
    .fetch_all(app.db.pool())
    .await
    .map_err(gantry_db::DbError::from)?)
}

/// The active key's armored public key (what `signing-key.asc` serves).
pub async fn public_key(app: &App, repo: &RepoRow) -> AppResult<String> {
    active_key(app, repo)
        .await?
        .public_armored()
        .map_err(key_error)
}

/// Retires the repository's active key (if any) and makes a new one, in one transaction.
/// What the old key signed stays verifiable with it; metadata signed from now on uses the
/// new one. Returns the new key.
pub async fn rotate(app: &App, repo: &RepoRow) -> AppResult<KeyInfo> {
    let fresh =
        RepositoryKey::generate(&user_id(repo), passphrase().as_deref()).map_err(key_error)?;
    let now = gantry_core::time::now_millis();
    let public_key = fresh.public_armored().map_err(key_error)?;
    let mut tx = app
        .db
        .pool()
        .begin()
        .await
        .map_err(gantry_db::DbError::from)?;
    sqlx::query(
        "UPDATE repository_signing_keys SET active = NULL, retired_at = $1 \
         WHERE repository_id = $2 AND active = 1",
    )
    .bind(now)
    .bind(repo.id)
    .execute(&mut *tx)
    .await
    .map_err(gantry_db::DbError::from)?;
    insert(&mut *tx, repo.id, &fresh, now, "").await?;
    tx.commit().await.map_err(gantry_db::DbError::from)?;
    let fingerprint = fresh.fingerprint();
    remember(fresh);
    app.caches.invalidate();
    Ok(KeyInfo {
        fingerprint,
        public_key,
        created_at: now,
        retired_at: None,
    })
}
