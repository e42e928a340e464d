//! Schema migrations, written once and rendered for each backend. Applied in order inside one
//! transaction; on PostgreSQL an advisory lock keeps concurrent replicas from racing. The
//! core's own come first; then each format crate's ([`MigrationSet`]), numbered per owner.

use crate::{Backend, Result};

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
    /// The format's tables the servers cache from, with the events that change them (as in
    /// [`WATCHED`]): each gets a change-counter trigger.
    pub watched: &'static [(&'static str, &'static str)],
    /// Statements that remove a repository's rows from the format's tables (`$1` is the
    /// repository's id), run in order in the transaction that deletes the repository.
    pub repository_cleanup: &'static [&'static str],
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
    (12, include_str!("../migrations/0012_generation.sql")),
    (
        13,
        include_str!("../migrations/0013_vulnerability_exceptions.sql"),
    ),
    (14, include_str!("../migrations/0014_attestations.sql")),
    (15, include_str!("../migrations/0015_retention.sql")),
    (16, include_str!("../migrations/0016_immutable_tags.sql")),
    (
        17,
        include_str!("../migrations/0017_listing_name_and_stats.sql"),
    ),
    (18, include_str!("../migrations/0018_allow_republish.sql")),
];

/// The change counter's triggers (the counter is core migration 12): every change to a table the servers cache from bumps
/// `gantry_generation`, so each replica sees that its caches may be stale (see
/// `gantry_protocol::caches`). (table, events) — token columns that change on every use
/// (`download_count`, `last_used_at`) are left out so downloads do not empty the caches. A
/// format's table (npm's dist-tags) gets its trigger once that format's migrations made it.
const WATCHED: &[(&str, &str)] = &[
    ("tokens", "UPDATE OF revoked_at, expires_at, privilege, namespace, repository, principal_id, site_admin, kind, max_downloads"),
    ("tokens", "DELETE"),
    ("principals", "UPDATE"),
    ("principals", "DELETE"),
    ("team_members", "INSERT OR UPDATE OR DELETE"),
    ("grants", "INSERT OR UPDATE OR DELETE"),
    ("namespaces", "UPDATE OR DELETE"),
    ("repositories", "UPDATE OR DELETE"),
    ("packages", "INSERT OR UPDATE OR DELETE"),
    ("package_files", "INSERT OR UPDATE OR DELETE"),
    ("upstreams", "INSERT OR UPDATE OR DELETE"),
];

/// The trigger statements for [`WATCHED`]. SQLite has one writer, so a plain trigger is
/// enough. On PostgreSQL the bump is a deferred constraint trigger: the counter row is
/// locked only at commit, after the transaction took all its other locks, so concurrent
/// writers queue briefly there but cannot deadlock on it; a transaction-local setting makes
/// it bump once per transaction.
fn generation_triggers(
    backend: Backend,
    sets: &[MigrationSet],
) -> Vec<(Option<&'static str>, String, String)> {
    let mut out = Vec::new();
    if backend == Backend::Postgres {
        out.push((
            None,
            "gantry_bump_generation".to_owned(),
            "CREATE OR REPLACE FUNCTION gantry_bump_generation() RETURNS trigger LANGUAGE plpgsql AS $body$ \
             BEGIN IF current_setting('gantry.generation_bumped', true) IS DISTINCT FROM 'on' THEN \
             UPDATE gantry_generation SET value = value + 1 WHERE id = 1; \
             PERFORM set_config('gantry.generation_bumped', 'on', true); END IF; RETURN NULL; END $body$"
                .to_owned(),
        ));
    }
    let watched = WATCHED
        .iter()
        .chain(sets.iter().flat_map(|set| set.watched.iter()));
    let mut seen: Vec<&str> = Vec::new();
    for (table, events) in watched {
        // Numbered per table, so a name stays the same whatever else is watched.
        let i = seen.iter().filter(|t| *t == table).count();
        seen.push(table);
        let name = format!("gantry_generation_{table}_{i}");
        match backend {
            // SQLite takes one event per trigger.
            Backend::Sqlite => {
                for (j, event) in events.split(" OR ").enumerate() {
                    let name = format!("{name}_{j}");
                    let sql = format!(
                        "CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN \
                         UPDATE gantry_generation SET value = value + 1 WHERE id = 1; END"
                    );
                    out.push((Some(*table), name, sql));
                }
            }
            Backend::Postgres => {
                let sql = format!(
                    "CREATE CONSTRAINT TRIGGER {name} AFTER {events} ON {table} \
                     DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gantry_bump_generation()"
                );
                out.push((Some(*table), name, sql));
            }
        }
    }
    out
}

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

pub(crate) async fn run_on(
    pool: &sqlx::AnyPool,
    backend: Backend,
    sets: &[MigrationSet],
) -> Result<()> {
    let mut tx = pool.begin().await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PG_MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(&render(
        "CREATE TABLE IF NOT EXISTS gantry_migrations (version {int} PRIMARY KEY, applied_at {int} NOT NULL)",
        backend,
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
        for statement in statements(&render(sql, backend)) {
            sqlx::query(&statement).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO gantry_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(gantry_core::time::now_millis())
            .execute(&mut *tx)
            .await?;
    }
    for set in sets {
        run_set(&mut tx, backend, set, &applied).await?;
    }
    ensure_generation_triggers(&mut tx, backend, sets).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates the missing triggers of [`WATCHED`] on the tables that exist (idempotent: runs on
/// every start, inside the migration transaction).
async fn ensure_generation_triggers(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    sets: &[MigrationSet],
) -> Result<()> {
    let (table_exists, trigger_exists) = match backend {
        Backend::Sqlite => (
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = $1",
        ),
        Backend::Postgres => (
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() \
             AND table_name = $1",
            "SELECT COUNT(*) FROM pg_trigger WHERE tgname = $1",
        ),
    };
    for (table, name, statement) in generation_triggers(backend, sets) {
        let count = |sql: &'static str, value: String| sqlx::query_as::<_, (i64,)>(sql).bind(value);
        if let Some(table) = table {
            let (tables,) = count(table_exists, table.to_owned())
                .fetch_one(&mut *tx)
                .await?;
            let (triggers,) = count(trigger_exists, name.clone())
                .fetch_one(&mut *tx)
                .await?;
            if tables == 0 || triggers > 0 {
                continue;
            }
        }
        sqlx::query(&statement).execute(&mut *tx).await?;
    }
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

    #[test]
    fn every_watched_event_gets_a_trigger() {
        let format = MigrationSet {
            owner: "demo",
            migrations: &[],
            watched: &[("demo_tags", "INSERT OR DELETE")],
            repository_cleanup: &[],
        };
        let sqlite = generation_triggers(Backend::Sqlite, &[format]);
        let events: usize = WATCHED.iter().map(|(_, e)| e.split(" OR ").count()).sum();
        assert_eq!(sqlite.len(), events + 2);
        assert!(sqlite
            .iter()
            .all(|(_, _, s)| s.starts_with("CREATE TRIGGER")));
        let mut names: Vec<&String> = sqlite.iter().map(|(_, n, _)| n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), sqlite.len(), "trigger names are unique");
        let pg = generation_triggers(Backend::Postgres, &[format]);
        assert_eq!(pg.len(), WATCHED.len() + 2);
    }
}
