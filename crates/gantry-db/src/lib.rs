//! Gantry's metadata store. One set of queries runs on SQLite (the embedded default) and on
//! PostgreSQL through sqlx's `Any` driver; the few statements whose syntax differs branch on
//! [`Backend`]. Every mutation that changes a package writes its events in the same
//! transaction, so the provenance trail can never disagree with the data.

mod bind;
mod events;
mod jobs;
mod migrations;
mod packages;
mod policies;
mod principals;
mod repos;
mod tokens;
mod upstreams;
mod vulns;
mod webhooks;

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use events::{audience, set_fan_out_job, AuditFilter, EventRow, NewEvent};
pub use jobs::{
    JobClaim, JobRow, NewJob, PostgresClaim, SqliteClaim, JOB_DEAD, JOB_QUEUED, JOB_RUNNING,
};
pub use migrations::{Migration, MigrationSet};
pub use packages::{
    GateRecord, IndexRow, ListPage, NewFile, NewPackage, PackageFileRow, PackageRow, PromotionMode,
    SyncOutcome,
};
pub use policies::{
    DecisionRow, NewDecision, NewRule, PackageActions, PolicyRow, PolicyUpdate, RuleRow,
};
pub use principals::{GrantRow, PrincipalRow};
pub use repos::{RepoRow, RepoUpdate};
pub use tokens::{NewToken, TokenRow};
pub use upstreams::{NewUpstream, UpstreamRow};
pub use vulns::{FindingRow, ImportOutcome, NewAdvisory, ScanPackageRow, ScanResult};
pub use webhooks::{
    AttemptResult, AttemptRow, DeliveryRow, NewDelivery, NewWebhook, WebhookRow, WebhookUpdate,
};

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

impl DbError {
    /// Maps a unique-constraint violation to [`DbError::Conflict`] with `message`.
    fn conflict_on_unique(err: sqlx::Error, message: impl FnOnce() -> String) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => DbError::Conflict(message()),
            _ => DbError::Sqlx(err),
        }
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
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

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
        let pool = match backend {
            // SQLite allows one writer at a time; a single connection serialises writes in
            // the pool instead of failing them with SQLITE_BUSY, and reads stay sub-millisecond.
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(1)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .connect_with(options)
                    .await?
            }
        };
        let db = Self { pool, backend };
        migrations::run(&db, formats).await?;
        Ok(db)
    }

    /// The SQLite URL of a database file in `dir`.
    pub fn sqlite_url(dir: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", dir.join("gantry.db").display())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
