//! Schema migrations, written once and rendered for each backend. Applied in order inside one
//! transaction; on PostgreSQL an advisory lock keeps concurrent replicas from racing.

use crate::{Backend, Db, Result};

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
    (9, include_str!("../migrations/0009_npm.sql")),
    (10, include_str!("../migrations/0010_outbound.sql")),
    (11, include_str!("../migrations/0011_oci.sql")),
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

pub(crate) async fn run(db: &Db) -> Result<()> {
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
    tx.commit().await?;
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
