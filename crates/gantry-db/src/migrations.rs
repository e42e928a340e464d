//! Schema migrations, written once and rendered for each backend. Applied in order inside one
//! transaction; on PostgreSQL an advisory lock keeps concurrent replicas from racing. The
//! core's own come first; then each format crate's ([`MigrationSet`]), numbered per owner.

use crate::{Backend, Db, Result};

/// One schema change of a format crate.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
    /// The core migration that applied this same change before formats brought their own:
    /// a database where it ran records this one as applied instead of running it again.
    pub was_core: Option<i64>,
}

/// The migrations a format crate brings, under its owner name (its format id).
#[derive(Debug, Clone, Copy)]
pub struct MigrationSet {
    pub owner: &'static str,
    pub migrations: &'static [Migration],
}

/// (version, SQL). `{id}` and `{int}` are replaced per backend; statements end with `;` at
/// the end of a line.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_jobs_webhooks.sql")),
    (3, include_str!("../migrations/0003_access_control.sql")),
    (4, include_str!("../migrations/0004_yank.sql")),
    (5, include_str!("../migrations/0005_upstreams.sql")),
    (6, include_str!("../migrations/0006_vulnerabilities.sql")),
    (7, include_str!("../migrations/0007_listing_index.sql")),
    (8, include_str!("../migrations/0008_policies.sql")),
    // 9 was a format's own tables, now brought by that format (see `Migration::was_core`).
    (10, include_str!("../migrations/0010_outbound.sql")),
    (11, include_str!("../migrations/0011_format_migrations.sql")),
];

const PG_MIGRATION_LOCK: i64 = 0x6761_6e74_7279;

fn render(sql: &str, backend: Backend) -> String {
    let (id, int) = match backend {
        Backend::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER"),
        Backend::Postgres => ("BIGSERIAL PRIMARY KEY", "BIGINT"),
    };
    sql.replace("{id}", id).replace("{int}", int)
}

fn statements(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split(";\n")
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.trim().is_empty())
}

pub(crate) async fn run(db: &Db, sets: &[MigrationSet]) -> Result<()> {
    let mut tx = db.pool.begin().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PG_MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(&render(
        "CREATE TABLE IF NOT EXISTS gantry_migrations (version {int} PRIMARY KEY, applied_at {int} NOT NULL)",
        db.backend,
    ))
    .execute(&mut *tx)
    .await?;
    let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM gantry_migrations")
        .fetch_all(&mut *tx)
        .await?;
    for (version, sql) in MIGRATIONS {
        if applied.iter().any(|(v,)| v == version) {
            continue;
        }
        tracing::info!(version, "applying database migration");
        for statement in statements(&render(sql, db.backend)) {
            sqlx::query(&statement).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO gantry_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(gantry_core::time::now_millis())
            .execute(&mut *tx)
            .await?;
    }
    for set in sets {
        run_set(&mut tx, db.backend, set, &applied).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn run_set(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    set: &MigrationSet,
    core_applied: &[(i64,)],
) -> Result<()> {
    let applied: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM gantry_format_migrations WHERE owner = $1")
            .bind(set.owner)
            .fetch_all(&mut *tx)
            .await?;
    for migration in set.migrations {
        if applied.iter().any(|(v,)| *v == migration.version) {
            continue;
        }
        let ran_as_core = migration
            .was_core
            .is_some_and(|core| core_applied.iter().any(|(v,)| *v == core));
        if !ran_as_core {
            tracing::info!(
                owner = set.owner,
                version = migration.version,
                "applying database migration"
            );
            for statement in statements(&render(migration.sql, backend)) {
                sqlx::query(&statement).execute(&mut *tx).await?;
            }
        }
        sqlx::query(
            "INSERT INTO gantry_format_migrations (owner, version, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(set.owner)
        .bind(migration.version)
        .bind(gantry_core::time::now_millis())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_splits() {
        let sql = "-- c\nCREATE TABLE a (id {id});\nCREATE TABLE b (x {int});\n";
        let pg: Vec<_> = statements(&render(sql, Backend::Postgres)).collect();
        assert_eq!(pg.len(), 2);
        assert!(pg[0].contains("BIGSERIAL"));
        assert!(!pg[0].contains("--"));
    }
}
