//! The append-only event log.

use gantry_core::EventType;
use sqlx::{AnyConnection, FromRow};

use crate::bind::{Sql, MULTI_ROW_BINDS};
use crate::{Db, Result};

/// Who caused an event and where it happened: the columns an event to record and a
/// recorded event share.
#[derive(Debug, Clone, Default, FromRow)]
pub struct EventPlace {
    pub actor: String,
    pub namespace: Option<String>,
    pub slug_perm: Option<String>,
    pub repository: Option<String>,
    pub source_repository: Option<String>,
    pub destination_repository: Option<String>,
    pub checksum_sha256: Option<String>,
    pub source_address: Option<String>,
}

/// An event to record. Its [`EventPlace`] fields are set through it (`event.repository =
/// …`).
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: EventType,
    pub place: EventPlace,
    pub context: serde_json::Value,
}

impl NewEvent {
    pub fn new(event_type: EventType, actor: &str) -> Self {
        Self {
            event_type,
            place: EventPlace {
                actor: actor.to_owned(),
                ..EventPlace::default()
            },
            context: serde_json::Value::Object(serde_json::Map::new()),
        }
    }
}

impl std::ops::DerefMut for NewEvent {
    fn deref_mut(&mut self) -> &mut EventPlace {
        &mut self.place
    }
}

/// A recorded event; reads its [`EventPlace`] fields through it.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub id: i64,
    pub event_type: String,
    pub occurred_at: i64,
    #[sqlx(flatten)]
    pub place: EventPlace,
    pub context: String,
}

const EVENT_COLUMNS: &str =
    "id, event_type, occurred_at, actor, namespace, slug_perm, repository, \
     source_repository, destination_repository, checksum_sha256, source_address, context";

/// Writes one event on `conn` (normally inside the transaction of the change it records).
pub(crate) async fn insert(conn: &mut AnyConnection, event: &NewEvent) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO events (event_type, occurred_at, actor, namespace, slug_perm, repository, \
         source_repository, destination_repository, checksum_sha256, source_address, context) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(event.event_type.as_str())
    .bind(gantry_core::time::now_millis())
    .bind(&event.actor)
    .bind(event.namespace.clone())
    .bind(event.slug_perm.clone())
    .bind(event.repository.clone())
    .bind(event.source_repository.clone())
    .bind(event.destination_repository.clone())
    .bind(event.checksum_sha256.clone())
    .bind(event.source_address.clone())
    .bind(event.context.to_string())
    .fetch_one(&mut *conn)
    .await?;
    enqueue_dispatch(conn, id, event).await?;
    Ok(id)
}

/// The repositories whose webhooks hear of an event: its own and, for a move, the one the
/// package left (a copy writes an event on each side already).
pub fn audience(
    event_type: &str,
    repository: Option<&str>,
    source_repository: Option<&str>,
) -> Vec<String> {
    let mut repos: Vec<String> = repository.into_iter().map(str::to_owned).collect();
    if event_type == EventType::PackageMoved.as_str() {
        if let Some(source) = source_repository {
            if Some(source) != repository {
                repos.push(source.to_owned());
            }
        }
    }
    repos
}

static FAN_OUT_JOB: std::sync::OnceLock<fn(i64) -> crate::jobs::NewJob> =
    std::sync::OnceLock::new();

/// Names the job that fans a package event out to webhooks, made from the event's id. The
/// server registers it once at start (the job kind lives with its handler); until then no
/// fan-out is queued. Later calls are ignored.
pub fn set_fan_out_job(job: fn(event_id: i64) -> crate::jobs::NewJob) {
    let _ = FAN_OUT_JOB.set(job);
}

/// Queues webhook fan-out for a package event, in the event's transaction, when a webhook
/// of its audience is active.
async fn enqueue_dispatch(conn: &mut AnyConnection, id: i64, event: &NewEvent) -> Result<()> {
    let Some(job) = FAN_OUT_JOB.get() else {
        return Ok(());
    };
    if !event.event_type.as_str().starts_with("package.") {
        return Ok(());
    }
    let repos = audience(
        event.event_type.as_str(),
        event.repository.as_deref(),
        event.source_repository.as_deref(),
    );
    if repos.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new("SELECT id FROM webhooks WHERE is_active = 1 AND repository IN (");
    for (i, repo) in repos.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.str(repo);
    }
    sql.push(") LIMIT 1");
    let any: Option<(i64,)> = sql.query_as().fetch_optional(&mut *conn).await?;
    if any.is_some() {
        crate::jobs::enqueue(conn, &job(id)).await?;
    }
    Ok(())
}

/// Rows per multi-row event insert (11 values a row; see [`MULTI_ROW_BINDS`]).
const EVENTS_PER_INSERT: usize = MULTI_ROW_BINDS / 11;

/// Writes many events on `conn` with multi-row inserts (a batch of rescans records one per
/// package). Which repositories have an active webhook is asked once for all of them; the
/// events those hear of are written one by one, since their fan-out job needs the event id.
pub(crate) async fn insert_many(conn: &mut AnyConnection, list: &[NewEvent]) -> Result<()> {
    let hooked = hooked_repositories(conn, list).await?;
    let heard = |e: &NewEvent| {
        audience(
            e.event_type.as_str(),
            e.repository.as_deref(),
            e.source_repository.as_deref(),
        )
        .iter()
        .any(|r| hooked.contains(r))
    };
    let mut pending: Vec<&NewEvent> = Vec::new();
    for event in list {
        if heard(event) {
            insert_rows(conn, &pending).await?;
            pending.clear();
            insert(conn, event).await?;
        } else {
            pending.push(event);
            if pending.len() == EVENTS_PER_INSERT {
                insert_rows(conn, &pending).await?;
                pending.clear();
            }
        }
    }
    insert_rows(conn, &pending).await
}

/// The repositories among the audiences of package events in `list` that have an active
/// webhook (none until the server has named its fan-out job).
async fn hooked_repositories(
    conn: &mut AnyConnection,
    list: &[NewEvent],
) -> Result<std::collections::HashSet<String>> {
    let mut repos: Vec<String> = Vec::new();
    if FAN_OUT_JOB.get().is_some() {
        for e in list
            .iter()
            .filter(|e| e.event_type.as_str().starts_with("package."))
        {
            repos.extend(audience(
                e.event_type.as_str(),
                e.repository.as_deref(),
                e.source_repository.as_deref(),
            ));
        }
    }
    repos.sort();
    repos.dedup();
    let mut hooked = std::collections::HashSet::new();
    for chunk in repos.chunks(MULTI_ROW_BINDS) {
        let mut sql = Sql::new(
            "SELECT DISTINCT repository FROM webhooks WHERE is_active = 1 AND repository IN ",
        );
        sql.str_list(chunk);
        let rows: Vec<(String,)> = sql.query_as().fetch_all(&mut *conn).await?;
        hooked.extend(rows.into_iter().map(|(r,)| r));
    }
    Ok(hooked)
}

/// One multi-row insert of events that no webhook hears of.
async fn insert_rows(conn: &mut AnyConnection, rows: &[&NewEvent]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let now = gantry_core::time::now_millis();
    let mut sql = Sql::new(
        "INSERT INTO events (event_type, occurred_at, actor, namespace, slug_perm, repository, \
         source_repository, destination_repository, checksum_sha256, source_address, context) VALUES ",
    );
    for (i, e) in rows.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.str(e.event_type.as_str())
            .push(", ")
            .int(now)
            .push(", ");
        sql.str(&e.actor)
            .push(", ")
            .opt_str(e.namespace.as_deref())
            .push(", ");
        sql.opt_str(e.slug_perm.as_deref()).push(", ");
        sql.opt_str(e.repository.as_deref()).push(", ");
        sql.opt_str(e.source_repository.as_deref()).push(", ");
        sql.opt_str(e.destination_repository.as_deref()).push(", ");
        sql.opt_str(e.checksum_sha256.as_deref()).push(", ");
        sql.opt_str(e.source_address.as_deref()).push(", ");
        sql.str(&e.context.to_string()).push(")");
    }
    sql.query().execute(&mut *conn).await?;
    Ok(())
}

/// Deepest chain of copies followed when assembling a trail.
const MAX_TRAIL_DEPTH: usize = 64;

impl Db {
    /// Records an event outside any other change (e.g. repository administration).
    pub async fn record_event(&self, event: &NewEvent) -> Result<i64> {
        let mut conn = self.pool.acquire().await?;
        insert(&mut conn, event).await
    }

    pub async fn get_event(&self, id: i64) -> Result<Option<EventRow>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The whole provenance trail of a package, oldest first: its own events and, for a copy,
    /// the trail of the package it was copied from up to the moment of the copy, recursively.
    pub async fn package_trail(&self, slug_perm: &str) -> Result<Vec<EventRow>> {
        let mut trail = Vec::new();
        let mut current = slug_perm.to_owned();
        let mut came_from: Option<String> = None;
        let mut upto = i64::MAX;
        for _ in 0..MAX_TRAIL_DEPTH {
            let mut sql = Sql::new(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE slug_perm = "
            ));
            sql.str(&current)
                .push(" AND id <= ")
                .int(upto)
                .push(" ORDER BY id");
            let rows: Vec<EventRow> = sql.query_as().fetch_all(&self.pool).await?;
            // A copy's first event names its origin: follow it to the origin's history.
            let origin = rows.iter().find_map(|e| {
                (e.event_type == EventType::PackageCopied.as_str()
                    && e.slug_perm.as_deref() == Some(current.as_str()))
                .then(|| {
                    serde_json::from_str::<serde_json::Value>(&e.context)
                        .ok()
                        .and_then(|c| {
                            c.get("origin_slug_perm")
                                .and_then(|v| v.as_str())
                                .map(|s| (s.to_owned(), e.id))
                        })
                })
                .flatten()
            });
            // The origin's own record of this copy says what the copy's first event says:
            // the timeline shows the copy once.
            trail.extend(rows.into_iter().filter(|e| {
                came_from
                    .as_deref()
                    .is_none_or(|copy| !records_copy_into(e, copy))
            }));
            match origin {
                Some((slug, copy_event_id)) => {
                    came_from = Some(std::mem::replace(&mut current, slug));
                    upto = copy_event_id;
                }
                None => break,
            }
        }
        trail.sort_by_key(|e| e.id);
        trail.dedup_by_key(|e| e.id);
        Ok(trail)
    }
}

/// Whether `event` is a source's record of its copy `copy_slug` (the copy has its own).
fn records_copy_into(event: &EventRow, copy_slug: &str) -> bool {
    event.event_type == EventType::PackageCopied.as_str()
        && serde_json::from_str::<serde_json::Value>(&event.context)
            .ok()
            .is_some_and(|c| c.get("copy_slug_perm").and_then(|v| v.as_str()) == Some(copy_slug))
}

/// Filters of the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Substring of the actor.
    pub actor: Option<String>,
    pub event_type: Option<String>,
    /// Unix ms, inclusive.
    pub since: Option<i64>,
    /// Unix ms, exclusive.
    pub until: Option<i64>,
    /// Only events older than this id (paging backwards).
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Db {
    /// A namespace's events, newest first.
    pub async fn audit_events(
        &self,
        namespace: &str,
        filter: &AuditFilter,
    ) -> Result<Vec<EventRow>> {
        let mut sql = Sql::new(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE namespace = "
        ));
        sql.str(namespace);
        if let Some(actor) = &filter.actor {
            let mut pattern = String::from("%");
            for c in actor.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
            pattern.push('%');
            sql.push(" AND actor LIKE ")
                .str(&pattern)
                .push(" ESCAPE '\\'");
        }
        if let Some(t) = &filter.event_type {
            sql.push(" AND event_type = ").str(t);
        }
        if let Some(since) = filter.since {
            sql.push(" AND occurred_at >= ").int(since);
        }
        if let Some(until) = filter.until {
            sql.push(" AND occurred_at < ").int(until);
        }
        if let Some(before) = filter.before_id {
            sql.push(" AND id < ").int(before);
        }
        sql.push(" ORDER BY id DESC LIMIT ").int(filter.limit);
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }
}

reads_through!(
    NewEvent => place: EventPlace,
    EventRow => place: EventPlace,
);
