//! Gantry's metadata store. One set of queries runs on SQLite (the embedded default) and on
//! PostgreSQL through sqlx's `Any` driver; the few statements whose syntax differs branch on
//! [`Backend`]. Every mutation that changes a package writes its events in the same
//! transaction, so the provenance trail can never disagree with the data.

/// Lets a type read the fields of a struct it embeds as its own (`row.name` for
/// `row.spec.name`): rows and the values they are made from share one column struct instead
/// of two copies of its field list.
macro_rules! reads_through {
    ($($outer:ty => $field:ident: $inner:ty),* $(,)?) => {$(
        impl std::ops::Deref for $outer {
            type Target = $inner;

            fn deref(&self) -> &$inner {
                &self.$field
            }
        }
    )*};
}

mod attestations;
mod bind;
mod blobs;
mod events;
mod exceptions;
mod jobs;
mod migrations;
mod packages;
mod policies;
mod principals;
mod repos;
mod retention;
mod scans;
mod tokens;
mod upstreams;
mod vulns;
mod webhooks;

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use attestations::{AttestationRow, SigningKeyRow};
pub use events::{audience, set_fan_out_job, AuditFilter, EventPlace, EventRow, NewEvent};
pub use exceptions::{ExceptionRow, NewException};
pub use jobs::{
    JobClaim, JobRow, NewJob, PostgresClaim, SqliteClaim, JOB_DEAD, JOB_QUEUED, JOB_RUNNING,
};
pub use migrations::{Migration, MigrationSet};
pub use packages::{
    record_blob, GateRecord, IndexRow, ListPage, NewFile, NewPackage, PackageFileRow, PackageRow,
    Promotion, PromotionMode, SyncOutcome,
};
pub use policies::{
    DecisionRow, DecisionSubject, NewDecision, NewRule, PackageActions, PolicyRow, PolicyUpdate,
    RuleRow, RuleSpec,
};
pub use principals::{GrantRow, PrincipalRow};
pub use repos::RepoRow;
pub use retention::{NewRetentionRule, RetentionRuleRow};
pub use tokens::{NewToken, TokenRow};
pub use upstreams::{NewUpstream, UpstreamRow, UpstreamSpec};
pub use vulns::{FindingRow, ImportOutcome, NewAdvisory, ScanPackageRow, ScanResult};
pub use webhooks::{
    AttemptResult, AttemptRow, DeliveryRow, NewDelivery, NewWebhook, WebhookRow, WebhookUpdate,
};

// What garbage collection and fsck read (see `blobs`).
pub use blobs::{BlobReferences, BlobRow};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("unsupported database URL '{0}' (use sqlite:PATH or postgres://…)")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

/// Reads a unique-constraint violation of a statement as [`DbError::Conflict`] with a message
/// for the user (`a policy named … already exists`); other errors stay database errors.
pub trait OrConflict<T> {
    fn or_conflict(self, message: impl FnOnce() -> String) -> Result<T>;
}

impl<T> OrConflict<T> for std::result::Result<T, sqlx::Error> {
    fn or_conflict(self, message: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => DbError::Conflict(message()),
            _ => DbError::Sqlx(err),
        })
    }
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the metadata store; cheap to clone.
///
/// Two pools: `pool` takes every write and every transaction; `read` serves the hot path's
/// plain reads. On SQLite, WAL lets readers run beside the one writer, and a plain read on a
/// reader connection sees every transaction committed before it starts, so moving a read
/// there never loses a write the same request made. On PostgreSQL both are sized pools.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    read: AnyPool,
    backend: Backend,
    /// The formats' statements that go with a repository's deletion.
    repository_cleanup: std::sync::Arc<[&'static str]>,
}

/// Reader connections on SQLite: enough to keep both cores busy while the writer commits.
const SQLITE_READERS: u32 = 8;
/// Connections per pool on PostgreSQL (a replica holds at most twice this many).
const POSTGRES_CONNECTIONS: u32 = 16;

impl Db {
    /// Connects and applies the core's pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &[]).await
    }

    /// Connects and applies pending migrations: the core's, then each format crate's.
    pub async fn connect_with(url: &str, formats: &[MigrationSet]) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };
        let options = AnyConnectOptions::from_str(url)?;
        let (pool, read) = match backend {
            // SQLite allows one writer at a time; a single connection serialises writes in
            // the pool instead of failing them with SQLITE_BUSY. Readers are separate
            // connections (WAL), opened after the migrations so the file and schema exist.
            Backend::Sqlite => {
                let writer = sqlite_pool(1, false).connect_with(options.clone()).await?;
                migrations::run_on(&writer, backend, formats).await?;
                // An in-memory database is private to its connection: readers would see
                // another, empty one.
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let read = if in_memory {
                    writer.clone()
                } else {
                    sqlite_pool(SQLITE_READERS, true)
                        .connect_with(options)
                        .await?
                };
                (writer, read)
            }
            Backend::Postgres => {
                let writer = AnyPoolOptions::new()
                    .max_connections(POSTGRES_CONNECTIONS)
                    .connect_with(options.clone())
                    .await?;
                migrations::run_on(&writer, backend, formats).await?;
                let read = AnyPoolOptions::new()
                    .max_connections(POSTGRES_CONNECTIONS)
                    .connect_with(options)
                    .await?;
                (writer, read)
            }
        };
        let repository_cleanup = formats
            .iter()
            .flat_map(|set| set.repository_cleanup.iter().copied())
            .collect();
        Ok(Self {
            pool,
            read,
            backend,
            repository_cleanup,
        })
    }

    /// The SQLite URL of a database file in `dir`.
    pub fn sqlite_url(dir: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", dir.join("gantry.db").display())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The writer pool: writes, transactions and reads that are not on the hot path.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The reader pool, for plain reads outside a transaction.
    pub fn read_pool(&self) -> &AnyPool {
        &self.read
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.pool.close().await;
    }
}

/// Pool options for SQLite. Readers are `query_only`, so a write sent to the wrong pool fails
/// loudly instead of contending with the writer.
fn sqlite_pool(size: u32, readers: bool) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                )
                .await?;
                if readers {
                    conn.execute("PRAGMA query_only = ON;").await?;
                }
                Ok(())
            })
        })
}

impl Db {
    /// The change counter every write to cached data advances (migration 11); servers read
    /// it to tell whether their caches may be stale.
    pub async fn generation(&self) -> Result<i64> {
        let (value,): (i64,) =
            sqlx::query_as("SELECT CAST(value AS BIGINT) FROM gantry_generation WHERE id = 1")
                .fetch_one(&self.read)
                .await?;
        Ok(value)
    }
}
