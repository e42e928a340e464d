//! Bounded in-memory caches of what the hot path reads on every request — the caller behind
//! a token, repositories, packages with their file rows, validators of install-index pages —
//! and of small blobs. Correct under change by one rule: every entry carries the *epoch* it
//! was read in, and only entries of the current epoch are served.
//!
//! The epoch moves on
//! - at once on this server after every request that may write (any method but GET, HEAD
//!   and OPTIONS) and after every job this process ran ([`Caches::invalidate`]);
//! - when the database's change counter moved (`gantry_generation`, advanced by triggers in
//!   the writing transaction, so also by other replicas and by `gantry worker`s), read every
//!   [`POLL`] by [`Caches::watch`].
//!
//! If the counter cannot be read for [`FRESH_FOR`], nothing is served from the caches until
//! it can: a replica never serves data older than that bound. Blobs are keyed by their
//! sha256 and so never stale; they are bounded by total bytes.

use std::any::Any;
use std::hash::Hash;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gantry_core::Privilege;
use gantry_db::{Db, PackageRow, PrincipalRow, RepoRow, TokenRow};
use moka::sync::Cache;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// How often each server reads the change counter.
pub const POLL: Duration = Duration::from_millis(250);
/// How long after the start of the last successful read of the counter cached entries may be
/// served: the bound on how stale another replica's change can be seen here.
pub const FRESH_FOR: Duration = Duration::from_millis(900);
/// Blobs up to this size are kept in memory whole.
pub const SMALL_BLOB: u64 = 1024 * 1024;

/// The caller behind a token: the token, its principal and the principal's grants.
#[derive(Debug, Clone)]
pub struct Identity {
    pub token: TokenRow,
    pub owner: Option<PrincipalRow>,
    pub grants: Vec<(String, String, Privilege)>,
}

#[derive(Clone)]
struct Tagged<V> {
    epoch: u64,
    value: V,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    result: &'static str,
}

/// One epoch-tagged cache with its hit and miss counters.
struct Tier<K, V> {
    name: &'static str,
    entries: Cache<K, Tagged<V>>,
}

impl<K, V> Tier<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(name: &'static str, capacity: u64) -> Self {
        Self {
            name,
            entries: Cache::new(capacity),
        }
    }
}

pub struct Caches {
    epoch: AtomicU64,
    /// The database's change counter as last read (-1: never).
    generation: AtomicI64,
    /// Milliseconds since `started` until which the epoch is known to be current.
    fresh_until: AtomicU64,
    started: Instant,
    callers: Tier<[u8; 32], Arc<Identity>>,
    repos: Tier<(String, String), Arc<RepoRow>>,
    packages: Tier<(i64, String), Arc<PackageRow>>,
    memos: Tier<String, Arc<dyn Any + Send + Sync>>,
    blobs: Cache<String, Bytes>,
    counts: Family<CacheLabels, Counter>,
    watching: OnceLock<()>,
}

impl Caches {
    pub fn new() -> Self {
        Self {
            epoch: AtomicU64::new(0),
            generation: AtomicI64::new(-1),
            fresh_until: AtomicU64::new(0),
            started: Instant::now(),
            callers: Tier::new("callers", 10_000),
            repos: Tier::new("repositories", 10_000),
            packages: Tier::new("packages", 50_000),
            memos: Tier::new("derived", 50_000),
            // Bounded by bytes: 64 MiB of small files, weighed by their length.
            blobs: Cache::builder()
                .max_capacity(64 * 1024 * 1024)
                .weigher(|_k: &String, v: &Bytes| u32::try_from(v.len()).unwrap_or(u32::MAX))
                .build(),
            counts: Family::default(),
            watching: OnceLock::new(),
        }
    }

    /// Registers the hit and miss counters (`gantry_cache_lookups_total`).
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "cache_lookups",
            "In-memory cache lookups by cache and result (hit, miss)",
            self.counts.clone(),
        );
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The epoch entries must carry to be served, or `None` while the change counter has not
    /// been read recently enough to trust any entry.
    pub fn epoch(&self) -> Option<u64> {
        (self.now_ms() < self.fresh_until.load(Ordering::Acquire))
            .then(|| self.epoch.load(Ordering::Acquire))
    }

    /// Forgets every cached row on this server: called after anything that may have written.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        // Frees the memory; correctness does not depend on it (old epochs are never served).
        self.callers.entries.invalidate_all();
        self.repos.entries.invalidate_all();
        self.packages.entries.invalidate_all();
        self.memos.entries.invalidate_all();
    }

    /// Reads the change counter once: a changed value invalidates, a successful read extends
    /// the time entries may be served.
    pub async fn check(&self, db: &Db) -> Result<(), gantry_db::DbError> {
        let start = self.now_ms();
        let value = db.generation().await?;
        if self.generation.swap(value, Ordering::AcqRel) != value {
            self.invalidate();
        }
        self.fresh_until.fetch_max(
            start + u64::try_from(FRESH_FOR.as_millis()).unwrap_or(0),
            Ordering::AcqRel,
        );
        Ok(())
    }

    /// Reads the change counter every [`POLL`] for as long as the process runs (once per
    /// process: later calls do nothing).
    pub fn watch(self: &Arc<Self>, db: Db) {
        if self.watching.set(()).is_err() {
            return;
        }
        let caches = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(caches) = caches.upgrade() else {
                    return;
                };
                if let Err(err) = caches.check(&db).await {
                    tracing::warn!(error = %err, "cannot read the change counter; caches are bypassed until it can be read");
                }
            }
        });
    }

    fn count(&self, cache: &'static str, hit: bool) {
        self.counts
            .get_or_create(&CacheLabels {
                cache,
                result: if hit { "hit" } else { "miss" },
            })
            .inc();
    }

    fn get<K, V>(&self, tier: &Tier<K, V>, key: &K) -> Option<V>
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let epoch = self.epoch();
        let found = epoch
            .and_then(|e| tier.entries.get(key).filter(|t| t.epoch == e))
            .map(|t| t.value);
        self.count(tier.name, found.is_some());
        found
    }

    fn put<K, V>(tier: &Tier<K, V>, epoch: Option<u64>, key: K, value: V)
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if let Some(epoch) = epoch {
            tier.entries.insert(key, Tagged { epoch, value });
        }
    }

    /// The identity behind the token with this sha256, if cached and not expired.
    pub fn caller(&self, token_hash: &[u8; 32], now_ms: i64) -> Option<Arc<Identity>> {
        self.get(&self.callers, token_hash)
            .filter(|i| !matches!(i.token.expires_at, Some(at) if at <= now_ms))
    }

    /// Keeps an identity read in `epoch` (taken with [`Self::epoch`] before the read).
    pub fn keep_caller(&self, epoch: Option<u64>, token_hash: [u8; 32], identity: Arc<Identity>) {
        Self::put(&self.callers, epoch, token_hash, identity);
    }

    pub fn repo(&self, owner: &str, name: &str) -> Option<Arc<RepoRow>> {
        self.get(&self.repos, &(owner.to_owned(), name.to_owned()))
    }

    pub fn keep_repo(&self, epoch: Option<u64>, row: Arc<RepoRow>) {
        Self::put(
            &self.repos,
            epoch,
            (row.namespace.clone(), row.name.clone()),
            row,
        );
    }

    /// A package of a repository by slug (or another key), with its file rows.
    pub fn package(&self, repository_id: i64, slug: &str) -> Option<Arc<PackageRow>> {
        self.get(&self.packages, &(repository_id, slug.to_owned()))
    }

    /// Keeps a package of a repository under `key` (its slug, or another unique lookup key).
    pub fn keep_package_as(
        &self,
        epoch: Option<u64>,
        repository_id: i64,
        key: String,
        row: Arc<PackageRow>,
    ) {
        Self::put(&self.packages, epoch, (repository_id, key), row);
    }

    /// A value derived from the database in the current epoch (an install index's validator,
    /// a repository's upstreams), by a key that names what it is.
    pub fn memo<T: Any + Send + Sync>(&self, key: &str) -> Option<Arc<T>> {
        self.get(&self.memos, &key.to_owned())
            .and_then(|v| v.downcast::<T>().ok())
    }

    pub fn keep_memo<T: Any + Send + Sync>(&self, epoch: Option<u64>, key: String, value: Arc<T>) {
        Self::put(&self.memos, epoch, key, value as Arc<dyn Any + Send + Sync>);
    }

    /// A small blob's bytes by sha256.
    pub fn blob(&self, sha256: &str) -> Option<Bytes> {
        let found = self.blobs.get(sha256);
        self.count("blobs", found.is_some());
        found
    }

    pub fn keep_blob(&self, sha256: &str, bytes: Bytes) {
        if bytes.len() as u64 <= SMALL_BLOB {
            self.blobs.insert(sha256.to_owned(), bytes);
        }
    }
}

impl Default for Caches {
    fn default() -> Self {
        Self::new()
    }
}

/// `compute`'s value, computed at most once per epoch under `key` (see [`Caches::memo`]).
pub async fn memoized<T, F, Fut>(
    app: &crate::app::App,
    key: String,
    compute: F,
) -> crate::error::AppResult<Arc<T>>
where
    T: Any + Send + Sync,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = crate::error::AppResult<T>>,
{
    if let Some(value) = app.caches.memo::<T>(&key) {
        return Ok(value);
    }
    let epoch = app.caches.epoch();
    let value = Arc::new(compute().await?);
    app.caches.keep_memo(epoch, key, Arc::clone(&value));
    Ok(value)
}

/// A repository's upstreams of one format, from memory when current.
pub async fn upstreams(
    app: &crate::app::App,
    repository_id: i64,
    format: &'static str,
) -> crate::error::AppResult<Arc<Vec<gantry_db::UpstreamRow>>> {
    memoized(
        app,
        format!("upstreams|{repository_id}|{format}"),
        || async { Ok(app.db.list_upstreams(repository_id, Some(format)).await?) },
    )
    .await
}

/// The upstreams asked for one name: all of the format's, but not those that keep names this
/// repository holds to itself (`local_names_only`) when `held_here`.
pub async fn upstreams_for_name(
    app: &crate::app::App,
    repository_id: i64,
    format: &'static str,
    held_here: bool,
) -> crate::error::AppResult<Vec<gantry_db::UpstreamRow>> {
    let all = upstreams(app, repository_id, format).await?;
    Ok(all
        .iter()
        .filter(|u| !(held_here && u.local_names_only != 0))
        .cloned()
        .collect())
}

/// Middleware: after a request that may have written (any method but GET, HEAD and
/// OPTIONS), this server forgets its cached rows before the response leaves, so the client
/// that made a change never sees the state before it here.
pub async fn invalidate_after_writes(
    axum::extract::State(app): axum::extract::State<Arc<crate::app::App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let response = next.run(request).await;
    if !safe {
        app.caches.invalidate();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(caches: &Caches) {
        caches.fresh_until.store(u64::MAX, Ordering::Release);
    }

    #[test]
    fn entries_of_an_old_epoch_are_not_served() {
        let caches = Caches::new();
        // Never read the counter: nothing is trusted, nothing kept.
        assert_eq!(caches.epoch(), None);
        caches.keep_memo(caches.epoch(), "k".into(), Arc::new(1u8));
        fresh(&caches);
        assert_eq!(caches.memo::<u8>("k"), None);
        let epoch = caches.epoch();
        caches.keep_memo(epoch, "k".into(), Arc::new(1u8));
        assert_eq!(caches.memo::<u8>("k").as_deref(), Some(&1));
        // Another type under the key is a miss, not a panic.
        assert_eq!(caches.memo::<String>("k"), None);
        caches.invalidate();
        assert_eq!(caches.memo::<u8>("k"), None);
        // A read that began before the invalidation keeps nothing usable.
        caches.keep_memo(epoch, "k".into(), Arc::new(2u8));
        assert_eq!(caches.memo::<u8>("k"), None);
    }

    #[test]
    fn stale_counter_bypasses_the_caches() {
        let caches = Caches::new();
        fresh(&caches);
        caches.keep_memo(caches.epoch(), "k".into(), Arc::new(1u8));
        assert!(caches.memo::<u8>("k").is_some());
        caches.fresh_until.store(0, Ordering::Release);
        assert!(caches.memo::<u8>("k").is_none());
    }

    #[test]
    fn only_small_blobs_are_kept() {
        let caches = Caches::new();
        caches.keep_blob("a", Bytes::from_static(b"abc"));
        caches.keep_blob("b", Bytes::from(vec![0; SMALL_BLOB as usize + 1]));
        assert_eq!(caches.blob("a").as_deref(), Some(&b"abc"[..]));
        assert!(caches.blob("b").is_none());
    }
}
