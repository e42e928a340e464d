//! Promotion: copying or moving packages into another repository through the gate.

use gantry_core::time::now_millis;
use gantry_core::EventType;
use sqlx::AnyConnection;

use super::{adjust_count, clear_identity, GateRecord, PackageRow, PromotionMode, PACKAGE_SELECT};
use crate::bind::Sql;
use crate::events::{self, NewEvent};
use crate::jobs::{self, NewJob};
use crate::repos::RepoRow;
use crate::{Db, DbError, Result};

/// Logs the gate's decisions and applies their actions to the promoted package `id`.
async fn gate_in(
    conn: &mut AnyConnection,
    id: i64,
    gate: &GateRecord,
    actor: &NewEvent,
) -> Result<()> {
    for d in &gate.decisions {
        crate::policies::insert_decision(conn, d).await?;
    }
    if gate.actions.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(PACKAGE_SELECT);
    sql.push(" WHERE p.id = ").int(id);
    let promoted: PackageRow = sql.query_as().fetch_one(&mut *conn).await?;
    let mut template = actor.clone();
    template.context = serde_json::json!({ "policy": "promotion gate" });
    crate::policies::apply_actions_in(conn, id, &promoted, &gate.actions, &template).await?;
    Ok(())
}

/// Where and how packages are promoted: what a single and a bulk promotion share.
#[derive(Debug, Clone, Copy)]
pub struct Promotion<'a> {
    pub dest: &'a RepoRow,
    pub mode: PromotionMode,
    /// Replace a package of the same identity in `dest` (see [`clear_identity`]).
    pub republish: bool,
    /// The event each promotion records (its type and actor), completed per package.
    pub actor: &'a NewEvent,
}

impl Db {
    /// Copies or moves a package into `dest` in one transaction. A copy is a new row (new
    /// `slug_perm`) pointing at the same blobs; a move changes the row's repository. Neither
    /// touches bytes. `followups` are jobs queued with a copy (its scan); `gate` holds the
    /// policy decisions that allowed the promotion, logged in the same transaction, and the
    /// actions they asked for, applied to the promoted package.
    pub async fn promote(
        &self,
        to: Promotion<'_>,
        package: &PackageRow,
        new_slug: &str,
        followups: &[NewJob],
        gate: &GateRecord,
    ) -> Result<PackageRow> {
        // Concurrent promotions of one identity into one repository collide on PostgreSQL
        // (a unique violation or a deadlock when both replace it); the transaction is rolled
        // back, so running it again is safe, and one of them wins.
        let id = rerun_on_contention(|| async {
            let mut tx = self.pool.begin().await?;
            let id = promote_in(&mut tx, to, package, new_slug).await?;
            queue_copy_followups(&mut tx, to.mode, id, followups).await?;
            gate_in(&mut tx, id, gate, to.actor).await?;
            tx.commit().await?;
            Ok(id)
        })
        .await?;
        self.get_package_by_id(id)
            .await?
            .ok_or(DbError::NotFound("package"))
    }

    /// Promotes several packages into `dest` in one transaction: all or none. Returns the
    /// promoted packages' ids, or every package's refusal. With `dry_run` the transaction is
    /// rolled back after every check ran, so the answer is exactly what a real run would do.
    pub async fn promote_many(
        &self,
        to: Promotion<'_>,
        items: &[(PackageRow, String, Vec<NewJob>, GateRecord)],
        dry_run: bool,
    ) -> Result<std::result::Result<Vec<i64>, Vec<(String, String)>>> {
        rerun_on_contention(|| self.promote_many_once(to, items, dry_run)).await
    }

    /// One attempt of [`Db::promote_many`].
    async fn promote_many_once(
        &self,
        to: Promotion<'_>,
        items: &[(PackageRow, String, Vec<NewJob>, GateRecord)],
        dry_run: bool,
    ) -> Result<std::result::Result<Vec<i64>, Vec<(String, String)>>> {
        let mut tx = self.pool.begin().await?;
        let mut ids = Vec::new();
        let mut refused = Vec::new();
        for (package, new_slug, followups, gate) in items {
            match promote_in(&mut tx, to, package, new_slug).await {
                Ok(id) => {
                    queue_copy_followups(&mut tx, to.mode, id, followups).await?;
                    gate_in(&mut tx, id, gate, to.actor).await?;
                    ids.push(id);
                }
                Err(DbError::Conflict(reason)) => refused.push((package.slug_perm.clone(), reason)),
                Err(DbError::NotFound(what)) => {
                    refused.push((package.slug_perm.clone(), format!("{what} not found")));
                }
                Err(other) => return Err(other),
            }
        }
        if !refused.is_empty() {
            tx.rollback().await?;
            return Ok(Err(refused));
        }
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(Ok(ids))
    }
}

/// A copy is a new package: its follow-ups (its scan) are queued with it, and it awaits them.
async fn queue_copy_followups(
    conn: &mut AnyConnection,
    mode: PromotionMode,
    id: i64,
    followups: &[NewJob],
) -> Result<()> {
    if mode != PromotionMode::Copy || followups.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE packages SET scan_status = 'awaiting_scan' WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for job in followups {
        jobs::enqueue(&mut *conn, job).await?;
    }
    Ok(())
}

async fn promote_in(
    conn: &mut AnyConnection,
    to: Promotion<'_>,
    package: &PackageRow,
    new_slug: &str,
) -> Result<i64> {
    let Promotion {
        dest,
        mode,
        republish,
        actor,
    } = to;
    if package.repository_id == dest.id && mode == PromotionMode::Move {
        return Err(DbError::Conflict(format!(
            "package {} is already in {}",
            package.slug_perm,
            dest.slug()
        )));
    }
    // Re-read the state inside the transaction: a concurrent move or delete must not be lost.
    let current: Option<(i64, String)> =
        sqlx::query_as("SELECT repository_id, state FROM packages WHERE id = $1")
            .bind(package.id)
            .fetch_optional(&mut *conn)
            .await?;
    match current {
        Some((repo_id, state)) if repo_id == package.repository_id && state != "deleted" => {}
        _ => return Err(DbError::NotFound("package")),
    }
    clear_identity(
        conn,
        dest,
        &package.format,
        &package.normalized_name,
        &package.version,
        &package.qualifier,
        republish,
        actor,
    )
    .await?;
    let source_slug = package.repository_slug();
    let mut event = actor.clone();
    event.namespace = Some(dest.namespace.clone());
    event.repository = Some(dest.slug());
    event.source_repository = Some(source_slug.clone());
    event.destination_repository = Some(dest.slug());
    event.checksum_sha256 = Some(package.primary_sha256.clone());
    let now = now_millis();
    let id = match mode {
        PromotionMode::Move => {
            sqlx::query("UPDATE packages SET repository_id = $1, updated_at = $2 WHERE id = $3")
                .bind(dest.id)
                .bind(now)
                .bind(package.id)
                .execute(&mut *conn)
                .await?;
            adjust_count(conn, package.repository_id, package.id, -1).await?;
            event.event_type = EventType::PackageMoved;
            event.slug_perm = Some(package.slug_perm.clone());
            events::insert(conn, &event).await?;
            package.id
        }
        PromotionMode::Copy => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO packages (slug_perm, repository_id, format, name, normalized_name, \
                 version, qualifier, filename, sync_status, sync_progress, state, status_reason, size, \
                 primary_sha256, uploader, uploaded_at, updated_at, origin_repository, origin_slug, \
                 origin_slug_repository, scan_status, max_severity, num_vulnerabilities, metadata, declared, \
                 yanked, yank_reason, source, upstream_name) \
                 SELECT $1, $2, format, name, normalized_name, version, qualifier, filename, \
                 sync_status, sync_progress, state, status_reason, size, primary_sha256, uploader, \
                 uploaded_at, $3, origin_repository, slug_perm, $4, scan_status, max_severity, \
                 num_vulnerabilities, metadata, declared, yanked, yank_reason, source, upstream_name \
                 FROM packages WHERE id = $5 RETURNING id",
            )
            .bind(new_slug)
            .bind(dest.id)
            .bind(now)
            .bind(&source_slug)
            .bind(package.id)
            .fetch_one(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO package_files (package_id, position, filename, blob_sha256, content_type) \
                 SELECT $1, position, filename, blob_sha256, content_type FROM package_files \
                 WHERE package_id = $2",
            )
            .bind(id)
            .bind(package.id)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO package_tags (package_id, tag) SELECT $1, tag FROM package_tags WHERE package_id = $2",
            )
            .bind(id)
            .bind(package.id)
            .execute(&mut *conn)
            .await?;
            event.event_type = EventType::PackageCopied;
            // The source's trail records where its copy went …
            let mut on_source = event.clone();
            on_source.slug_perm = Some(package.slug_perm.clone());
            on_source.repository = Some(source_slug.clone());
            on_source.context = serde_json::json!({ "copy_slug_perm": new_slug });
            events::insert(conn, &on_source).await?;
            // … and the copy's trail starts from its origin.
            event.slug_perm = Some(new_slug.to_owned());
            event.context = serde_json::json!({ "origin_slug_perm": package.slug_perm });
            events::insert(conn, &event).await?;
            id
        }
    };
    adjust_count(conn, dest.id, id, 1).await?;
    Ok(id)
}

/// Runs a promotion transaction again while it collides with concurrent ones (it was rolled
/// back, so a rerun is safe), up to [`PROMOTE_ATTEMPTS`] times; then a conflict.
async fn rerun_on_contention<T, F, Fut>(mut run: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 0u64;
    loop {
        match run().await {
            Err(DbError::Sqlx(err)) if is_contention(&err) => {
                attempt += 1;
                if attempt >= PROMOTE_ATTEMPTS {
                    return Err(DbError::Conflict(
                        "a concurrent promotion changed the destination; retry".into(),
                    ));
                }
                contention_pause(attempt).await;
            }
            other => return other,
        }
    }
}

/// Tries of one promotion transaction that collides with concurrent ones.
const PROMOTE_ATTEMPTS: u64 = 8;

/// A short pause before a rerun, growing with the attempt, jittered so that colliding
/// transactions do not meet again.
async fn contention_pause(attempt: u64) {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()) % 40);
    tokio::time::sleep(std::time::Duration::from_millis(10 * attempt + jitter)).await;
}

/// Whether an error is a collision with a concurrent transaction, which a rerun resolves: a
/// unique violation on insert, a deadlock (40P01) or a serialisation failure (40001).
fn is_contention(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() || matches!(db.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}
