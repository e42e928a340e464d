//! Packages, their files and tags; promotion (copy and move); soft delete and restore.

use gantry_core::time::now_millis;
use gantry_core::{EventType, PackageQuery, PackageState, QueryField, SyncStatus};
use sqlx::{AnyConnection, FromRow};

use crate::bind::Sql;
use crate::events::{self, NewEvent};
use crate::jobs::{self, NewJob};
use crate::repos::RepoRow;
use crate::{Db, DbError, Result};

/// A file of a package being created; its blob row is created if missing.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

#[derive(Debug, Clone)]
pub struct NewPackage {
    pub slug_perm: String,
    pub repository_id: i64,
    pub format: String,
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub qualifier: String,
    pub sync_status: SyncStatus,
    pub status_reason: Option<String>,
    pub uploader: String,
    pub origin_repository: String,
    pub metadata: serde_json::Value,
    /// What the client declared at upload; kept so that a resync can re-run processing.
    pub declared: serde_json::Value,
    /// The first file is the package's primary file.
    pub files: Vec<NewFile>,
    /// `not_scanned`, or `awaiting_scan` when a scan job is queued with it.
    pub scan_status: String,
    /// `upload`, or `upstream` with the upstream's name.
    pub source: String,
    pub upstream_name: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct PackageFileRow {
    pub package_id: i64,
    pub filename: String,
    pub content_type: String,
    pub sha256: String,
    pub size: i64,
    pub md5: String,
    pub sha1: String,
    pub sha512: String,
}

/// A package's entry in an install index (see [`Db::project_index`]).
#[derive(Debug, Clone, FromRow)]
pub struct IndexRow {
    pub slug_perm: String,
    pub name: String,
    pub version: String,
    pub filename: String,
    pub primary_sha256: String,
    pub size: i64,
    pub yanked: i64,
    pub yank_reason: Option<String>,
    pub uploaded_at: i64,
    pub metadata: String,
    /// sha256 of the `<filename>.metadata` file, when the package has one.
    pub sidecar_sha256: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct PackageRow {
    pub id: i64,
    pub slug_perm: String,
    pub repository_id: i64,
    pub namespace: String,
    pub repository_name: String,
    pub format: String,
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub qualifier: String,
    pub filename: String,
    pub sync_status: String,
    pub sync_progress: i64,
    pub state: String,
    pub status_reason: Option<String>,
    pub size: i64,
    pub primary_sha256: String,
    pub uploader: String,
    pub uploaded_at: i64,
    pub updated_at: i64,
    pub origin_repository: String,
    pub origin_slug: Option<String>,
    pub origin_slug_repository: Option<String>,
    pub scan_status: String,
    pub max_severity: Option<String>,
    pub num_vulnerabilities: i64,
    pub metadata: String,
    pub declared: String,
    pub yanked: i64,
    pub yank_reason: Option<String>,
    /// `upload` or `upstream`.
    pub source: String,
    pub upstream_name: Option<String>,
    pub scanned_at: Option<i64>,
    pub scan_reason: Option<String>,
    #[sqlx(skip)]
    pub files: Vec<PackageFileRow>,
    #[sqlx(skip)]
    pub tags: Vec<String>,
}

impl PackageRow {
    /// `OWNER/REPO` the package is in.
    pub fn repository_slug(&self) -> String {
        format!("{}/{}", self.namespace, self.repository_name)
    }

    pub fn state(&self) -> PackageState {
        PackageState::parse(&self.state).unwrap_or(PackageState::Available)
    }

    pub fn primary_file(&self) -> Option<&PackageFileRow> {
        self.files.first()
    }
}

/// The result of processing a package.
#[derive(Debug, Clone)]
pub enum SyncOutcome {
    Completed {
        metadata: serde_json::Value,
        content_type: String,
    },
    Failed {
        reason: String,
    },
}

/// Writes `event` for `package`, filling in the package's slug, repository and checksum.
pub(crate) async fn insert_package_event(
    conn: &mut AnyConnection,
    package: &PackageRow,
    event: &NewEvent,
) -> Result<i64> {
    let mut event = event.clone();
    event.slug_perm = Some(package.slug_perm.clone());
    event.repository = Some(package.repository_slug());
    event.namespace = Some(package.namespace.clone());
    event.checksum_sha256 = Some(package.primary_sha256.clone());
    events::insert(conn, &event).await
}

/// The gate's record of a promotion: decisions to log and the actions they asked for.
#[derive(Debug, Clone, Default)]
pub struct GateRecord {
    pub decisions: Vec<crate::policies::NewDecision>,
    pub actions: crate::policies::PackageActions,
}

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

/// One page of a listing and the number of packages matching overall.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub packages: Vec<PackageRow>,
    pub total: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromotionMode {
    Copy,
    Move,
}

const PACKAGE_SELECT: &str = "SELECT p.id, p.slug_perm, p.repository_id, n.name AS namespace, \
     r.name AS repository_name, p.format, p.name, p.normalized_name, p.version, p.qualifier, \
     p.filename, p.sync_status, p.sync_progress, p.state, p.status_reason, p.size, \
     p.primary_sha256, p.uploader, p.uploaded_at, p.updated_at, p.origin_repository, \
     p.origin_slug, p.origin_slug_repository, p.scan_status, p.max_severity, \
     p.num_vulnerabilities, p.metadata, p.declared, p.yanked, p.yank_reason, p.source, \
     p.upstream_name, p.scanned_at, p.scan_reason \
     FROM packages p JOIN repositories r ON r.id = p.repository_id \
     JOIN namespaces n ON n.id = r.namespace_id";

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

async fn adjust_count(conn: &mut AnyConnection, repository_id: i64, delta: i64) -> Result<()> {
    sqlx::query("UPDATE repositories SET package_count = package_count + $1 WHERE id = $2")
        .bind(delta)
        .bind(repository_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The live package in `repository_id` with the identity of `(format, name, version,
/// qualifier)`, if any: its id, slug and state.
async fn live_conflict(
    conn: &mut AnyConnection,
    repository_id: i64,
    format: &str,
    normalized_name: &str,
    version: &str,
    qualifier: &str,
) -> Result<Option<(i64, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, slug_perm, state FROM packages WHERE repository_id = $1 AND format = $2 \
         AND normalized_name = $3 AND version = $4 AND qualifier = $5 AND state <> 'deleted'",
    )
    .bind(repository_id)
    .bind(format)
    .bind(normalized_name)
    .bind(version)
    .bind(qualifier)
    .fetch_optional(conn)
    .await?)
}

/// Refuses, or with `republish` soft-deletes, a live package that has the same identity in
/// the destination. A quarantined package is never replaced: republishing over it would hand
/// its bytes back to every client under a new, available package, so whoever may release the
/// quarantine has to release it first.
#[allow(clippy::too_many_arguments)]
async fn clear_identity(
    conn: &mut AnyConnection,
    dest: &RepoRow,
    format: &str,
    normalized_name: &str,
    version: &str,
    qualifier: &str,
    republish: bool,
    actor: &NewEvent,
) -> Result<()> {
    let Some((id, slug, state)) =
        live_conflict(conn, dest.id, format, normalized_name, version, qualifier).await?
    else {
        return Ok(());
    };
    let what = if qualifier.is_empty() || qualifier == version {
        format!("{format} package {normalized_name} {version}")
    } else {
        format!("{format} package {normalized_name} {version} ({qualifier})")
    };
    if state == PackageState::Quarantined.as_str() {
        return Err(DbError::Conflict(format!(
            "{what} in {} is quarantined as {slug}; it cannot be replaced until the quarantine \
             is released",
            dest.slug()
        )));
    }
    if !republish {
        return Err(DbError::Conflict(format!(
            "{what} already exists in {} as {slug}; set republish to replace it",
            dest.slug()
        )));
    }
    sqlx::query(
        "UPDATE packages SET state = 'deleted', status_reason = $1, updated_at = $2 WHERE id = $3",
    )
    .bind("replaced by a republished package")
    .bind(now_millis())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    adjust_count(conn, dest.id, -1).await?;
    let mut event = actor.clone();
    event.event_type = EventType::PackageDeleted;
    event.slug_perm = Some(slug);
    event.repository = Some(dest.slug());
    event.namespace = Some(dest.namespace.clone());
    event.context = serde_json::json!({ "reason": "republished" });
    events::insert(conn, &event).await?;
    Ok(())
}

async fn insert_files(conn: &mut AnyConnection, package_id: i64, files: &[NewFile]) -> Result<()> {
    let now = now_millis();
    for (position, file) in files.iter().enumerate() {
        sqlx::query(
            "INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&file.sha256)
        .bind(file.size)
        .bind(&file.md5)
        .bind(&file.sha1)
        .bind(&file.sha512)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO package_files (package_id, position, filename, blob_sha256, content_type) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(package_id)
        .bind(position as i64)
        .bind(&file.filename)
        .bind(&file.sha256)
        .bind(&file.content_type)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_tags(conn: &mut AnyConnection, package_id: i64, tags: &[String]) -> Result<()> {
    for tag in tags {
        sqlx::query(
            "INSERT INTO package_tags (package_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(package_id)
        .bind(tag)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Db {
    /// Creates a package with its files, tags and events in one transaction. Events get the
    /// package's slug and repository filled in where they have none.
    pub async fn insert_package(
        &self,
        new: &NewPackage,
        repo: &RepoRow,
        events_to_write: &[NewEvent],
        republish: bool,
        jobs_to_enqueue: &[NewJob],
    ) -> Result<PackageRow> {
        let primary = new
            .files
            .first()
            .ok_or_else(|| DbError::Corrupt("a package needs at least one file".into()))?;
        // The package's size is its artifact's; derived files (a wheel's METADATA) are extra.
        let size: i64 = primary.size;
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        if let Some(first) = events_to_write.first() {
            clear_identity(
                &mut tx,
                repo,
                &new.format,
                &new.normalized_name,
                &new.version,
                &new.qualifier,
                republish,
                first,
            )
            .await?;
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO packages (slug_perm, repository_id, format, name, normalized_name, version, \
             qualifier, filename, sync_status, sync_progress, state, status_reason, size, \
             primary_sha256, uploader, uploaded_at, updated_at, origin_repository, metadata, declared, \
             source, upstream_name, scan_status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'available', $11, $12, $13, $14, $15, \
             $15, $16, $17, $18, $19, $20, $21) RETURNING id",
        )
        .bind(&new.slug_perm)
        .bind(new.repository_id)
        .bind(&new.format)
        .bind(&new.name)
        .bind(&new.normalized_name)
        .bind(&new.version)
        .bind(&new.qualifier)
        .bind(&primary.filename)
        .bind(new.sync_status.as_str())
        .bind(if new.sync_status == SyncStatus::Completed { 100_i64 } else { 0 })
        .bind(new.status_reason.clone())
        .bind(size)
        .bind(&primary.sha256)
        .bind(&new.uploader)
        .bind(now)
        .bind(&new.origin_repository)
        .bind(new.metadata.to_string())
        .bind(new.declared.to_string())
        .bind(&new.source)
        .bind(new.upstream_name.clone())
        .bind(&new.scan_status)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            DbError::conflict_on_unique(e, || {
                format!(
                    "{} package {} {} already exists in {}",
                    new.format,
                    new.name,
                    new.version,
                    repo.slug()
                )
            })
        })?;
        insert_files(&mut tx, id, &new.files).await?;
        insert_tags(&mut tx, id, &new.tags).await?;
        adjust_count(&mut tx, repo.id, 1).await?;
        for event in events_to_write {
            let mut event = event.clone();
            event.slug_perm.get_or_insert_with(|| new.slug_perm.clone());
            event.repository.get_or_insert_with(|| repo.slug());
            event
                .namespace
                .get_or_insert_with(|| repo.namespace.clone());
            event
                .checksum_sha256
                .get_or_insert_with(|| primary.sha256.clone());
            events::insert(&mut tx, &event).await?;
        }
        for job in jobs_to_enqueue {
            jobs::enqueue(&mut tx, job).await?;
        }
        tx.commit().await?;
        self.get_package_by_id(id)
            .await?
            .ok_or(DbError::NotFound("package"))
    }

    /// Marks a package `syncing` with its event, at the start of a sync job.
    pub async fn start_sync(&self, package: &PackageRow, event: &NewEvent) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE packages SET sync_status = 'syncing', sync_progress = 10, status_reason = NULL, \
             updated_at = $1 WHERE id = $2",
        )
        .bind(now_millis())
        .bind(package.id)
        .execute(&mut *tx)
        .await?;
        insert_package_event(&mut tx, package, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the end of a sync job: the package's new status, metadata and event, and the
    /// job's completion, in one transaction. `scan_queued` says whether `followups` hold a
    /// scan (the package then awaits it); other follow-ups (policy evaluation) leave the scan
    /// status alone, so a format without a scanner stays `not_supported`.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_sync(
        &self,
        package: &PackageRow,
        outcome: &SyncOutcome,
        event: &NewEvent,
        job_id: i64,
        worker: &str,
        followups: &[NewJob],
        scan_queued: bool,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        jobs::complete_in(&mut tx, job_id, worker).await?;
        let now = now_millis();
        if matches!(outcome, SyncOutcome::Completed { .. }) {
            if scan_queued {
                sqlx::query("UPDATE packages SET scan_status = 'awaiting_scan' WHERE id = $1")
                    .bind(package.id)
                    .execute(&mut *tx)
                    .await?;
            }
            for job in followups {
                jobs::enqueue(&mut tx, job).await?;
            }
        }
        match outcome {
            SyncOutcome::Completed {
                metadata,
                content_type,
            } => {
                sqlx::query(
                    "UPDATE packages SET sync_status = 'completed', sync_progress = 100, \
                     status_reason = NULL, metadata = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(metadata.to_string())
                .bind(now)
                .bind(package.id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE package_files SET content_type = $1 WHERE package_id = $2 AND position = 0",
                )
                .bind(content_type)
                .bind(package.id)
                .execute(&mut *tx)
                .await?;
            }
            SyncOutcome::Failed { reason } => {
                sqlx::query(
                    "UPDATE packages SET sync_status = 'failed', sync_progress = 0, \
                     status_reason = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(reason)
                .bind(now)
                .bind(package.id)
                .execute(&mut *tx)
                .await?;
            }
        }
        insert_package_event(&mut tx, package, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Queues processing again. Refused while a sync is pending or running.
    pub async fn request_resync(&self, package: &PackageRow, job: &NewJob) -> Result<PackageRow> {
        let mut tx = self.pool.begin().await?;
        // Refused only while a sync job for the package is alive: a package whose job died
        // (or was skipped while it was deleted) can always be synced again.
        let pattern = format!("%\"slug_perm\":\"{}\"%", package.slug_perm);
        let live: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM jobs WHERE kind = $1 AND state IN ('queued', 'running') \
             AND payload LIKE $2 LIMIT 1",
        )
        .bind(&job.kind)
        .bind(pattern)
        .fetch_optional(&mut *tx)
        .await?;
        if live.is_some() {
            return Err(DbError::Conflict(format!(
                "package {} is already being synced",
                package.slug_perm
            )));
        }
        sqlx::query(
            "UPDATE packages SET sync_status = 'awaiting_sync', sync_progress = 0, \
             status_reason = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(now_millis())
        .bind(package.id)
        .execute(&mut *tx)
        .await?;
        jobs::enqueue(&mut tx, job).await?;
        tx.commit().await?;
        self.get_package_by_id(package.id)
            .await?
            .ok_or(DbError::NotFound("package"))
    }

    /// Yanks or un-yanks a package, with its event.
    pub async fn set_yanked(
        &self,
        package: &PackageRow,
        yanked: bool,
        reason: Option<&str>,
        event: &NewEvent,
    ) -> Result<PackageRow> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE packages SET yanked = $1, yank_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(i64::from(yanked))
        .bind(
            reason
                .filter(|r| yanked && !r.trim().is_empty())
                .map(str::to_owned),
        )
        .bind(now_millis())
        .bind(package.id)
        .execute(&mut *tx)
        .await?;
        insert_package_event(&mut tx, package, event).await?;
        tx.commit().await?;
        self.get_package_by_id(package.id)
            .await?
            .ok_or(DbError::NotFound("package"))
    }

    /// Live, synced packages of one format and normalised name in a repository, oldest
    /// first, with their files (an index page's data).
    pub async fn project_packages(
        &self,
        repository_id: i64,
        format: &str,
        normalized_name: &str,
    ) -> Result<Vec<PackageRow>> {
        let mut sql = Sql::new(PACKAGE_SELECT);
        sql.push(" WHERE p.repository_id = ")
            .int(repository_id)
            .push(" AND p.normalized_name = ")
            .str(normalized_name)
            .push(" AND p.format = ")
            .str(format)
            .push(" AND p.state = 'available' AND p.sync_status = 'completed' ORDER BY p.id");
        let mut rows: Vec<PackageRow> = sql.query_as().fetch_all(&self.pool).await?;
        self.load_children(&mut rows).await?;
        Ok(rows)
    }

    /// The files of one project as an install index lists them: one row per live package with
    /// its primary file and, when there is one, its `<filename>.metadata` sidecar. One indexed
    /// query without per-package child lookups, so a project with thousands of files stays fast.
    pub async fn project_index(
        &self,
        repository_id: i64,
        format: &str,
        normalized_name: &str,
    ) -> Result<Vec<IndexRow>> {
        Ok(sqlx::query_as(
            "SELECT p.slug_perm, p.name, p.version, p.filename, p.primary_sha256, p.size, p.yanked, \
             p.yank_reason, p.uploaded_at, p.metadata, \
             (SELECT mf.blob_sha256 FROM package_files mf WHERE mf.package_id = p.id \
              AND mf.filename = p.filename || '.metadata' ORDER BY mf.position LIMIT 1) AS sidecar_sha256 \
             FROM packages p WHERE p.repository_id = $1 AND p.normalized_name = $2 AND p.format = $3 \
             AND p.state = 'available' AND p.sync_status = 'completed' ORDER BY p.id",
        )
        .bind(repository_id)
        .bind(normalized_name)
        .bind(format)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A summary of the rows [`Db::project_index`] would return that changes whenever any of
    /// them does (every package change sets `updated_at`): a cached index page is reused only
    /// while this is unchanged.
    pub async fn project_index_validator(
        &self,
        repository_id: i64,
        format: &str,
        normalized_name: &str,
    ) -> Result<String> {
        let (count, ids, updated, yanked): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(id), 0) AS BIGINT), \
             CAST(COALESCE(MAX(updated_at), 0) AS BIGINT), \
             CAST(COALESCE(SUM(yanked), 0) AS BIGINT) FROM packages WHERE repository_id = $1 \
             AND normalized_name = $2 AND format = $3 AND state = 'available' \
             AND sync_status = 'completed'",
        )
        .bind(repository_id)
        .bind(normalized_name)
        .bind(format)
        .fetch_one(&self.pool)
        .await?;
        Ok(format!("{count}-{ids}-{updated}-{yanked}"))
    }

    /// Names of the projects of one format in a repository: (normalized, display).
    pub async fn project_names(
        &self,
        repository_id: i64,
        format: &str,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT normalized_name, MIN(name) FROM packages WHERE repository_id = $1 AND format = $2 \
             AND state = 'available' AND sync_status = 'completed' GROUP BY normalized_name \
             ORDER BY normalized_name",
        )
        .bind(repository_id)
        .bind(format)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A package by `slug_perm` in whatever repository it is now.
    pub async fn get_package_by_slug(&self, slug_perm: &str) -> Result<Option<PackageRow>> {
        let mut sql = Sql::new(PACKAGE_SELECT);
        sql.push(" WHERE p.slug_perm = ").str(slug_perm);
        self.fetch_one_package(sql).await
    }

    async fn load_children(&self, packages: &mut [PackageRow]) -> Result<()> {
        if packages.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = packages.iter().map(|p| p.id).collect();
        let mut sql = Sql::new(
            "SELECT f.package_id, f.filename, f.content_type, b.sha256, b.size, b.md5, b.sha1, b.sha512 \
             FROM package_files f JOIN blobs b ON b.sha256 = f.blob_sha256 WHERE f.package_id IN ",
        );
        sql.int_list(&ids)
            .push(" ORDER BY f.package_id, f.position");
        let files: Vec<PackageFileRow> = sql.query_as().fetch_all(&self.pool).await?;
        let mut sql = Sql::new("SELECT package_id, tag FROM package_tags WHERE package_id IN ");
        sql.int_list(&ids).push(" ORDER BY tag");
        let tags: Vec<(i64, String)> = sql.query_as().fetch_all(&self.pool).await?;
        let mut files_of: std::collections::HashMap<i64, Vec<PackageFileRow>> =
            std::collections::HashMap::with_capacity(packages.len());
        for f in files {
            files_of.entry(f.package_id).or_default().push(f);
        }
        let mut tags_of: std::collections::HashMap<i64, Vec<String>> =
            std::collections::HashMap::new();
        for (id, tag) in tags {
            tags_of.entry(id).or_default().push(tag);
        }
        for package in packages.iter_mut() {
            package.files = files_of.remove(&package.id).unwrap_or_default();
            package.tags = tags_of.remove(&package.id).unwrap_or_default();
        }
        Ok(())
    }

    async fn fetch_one_package(&self, sql: Sql) -> Result<Option<PackageRow>> {
        let row: Option<PackageRow> = sql.query_as().fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let mut rows = [row];
        self.load_children(&mut rows).await?;
        let [row] = rows;
        Ok(Some(row))
    }

    pub async fn get_package_by_id(&self, id: i64) -> Result<Option<PackageRow>> {
        let mut sql = Sql::new(PACKAGE_SELECT);
        sql.push(" WHERE p.id = ").int(id);
        self.fetch_one_package(sql).await
    }

    /// A package of a repository by `slug_perm`, in any state.
    pub async fn get_package(
        &self,
        repository_id: i64,
        slug_perm: &str,
    ) -> Result<Option<PackageRow>> {
        let mut sql = Sql::new(PACKAGE_SELECT);
        sql.push(" WHERE p.slug_perm = ")
            .str(slug_perm)
            .push(" AND p.repository_id = ")
            .int(repository_id);
        self.fetch_one_package(sql).await
    }

    /// The live (not deleted) package with this identity.
    pub async fn find_live_package(
        &self,
        repository_id: i64,
        format: &str,
        normalized_name: &str,
        version: &str,
        qualifier: &str,
    ) -> Result<Option<PackageRow>> {
        let mut sql = Sql::new(PACKAGE_SELECT);
        sql.push(" WHERE p.repository_id = ")
            .int(repository_id)
            .push(" AND p.format = ")
            .str(format)
            .push(" AND p.normalized_name = ")
            .str(normalized_name)
            .push(" AND p.version = ")
            .str(version)
            .push(" AND p.qualifier = ")
            .str(qualifier)
            .push(" AND p.state <> 'deleted'");
        self.fetch_one_package(sql).await
    }

    /// A page of a repository's packages, newest first. Deleted packages are listed only
    /// when the query asks for `state:deleted`.
    pub async fn list_packages(
        &self,
        repo: &RepoRow,
        query: &PackageQuery,
        page: i64,
        page_size: i64,
    ) -> Result<ListPage> {
        let total = if *query == PackageQuery::default() {
            // The unfiltered count is kept on the repository row: no scan per page.
            repo.package_count
        } else {
            let mut count = Sql::new("SELECT COUNT(*) FROM packages p");
            push_filter(&mut count, repo.id, query);
            let (n,): (i64,) = count.query_as().fetch_one(&self.pool).await?;
            n
        };
        // The page's ids come from the index alone; only those rows are then read whole.
        let mut sql = Sql::new(PACKAGE_SELECT);
        sql.push(" WHERE p.id IN (SELECT p.id FROM packages p");
        push_filter(&mut sql, repo.id, query);
        sql.push(" ORDER BY p.id DESC LIMIT ")
            .int(page_size)
            .push(" OFFSET ")
            .int((page - 1).saturating_mul(page_size))
            .push(") ORDER BY p.id DESC");
        let mut packages: Vec<PackageRow> = sql.query_as().fetch_all(&self.pool).await?;
        self.load_children(&mut packages).await?;
        Ok(ListPage { packages, total })
    }

    /// Copies or moves a package into `dest` in one transaction. A copy is a new row (new
    /// `slug_perm`) pointing at the same blobs; a move changes the row's repository. Neither
    /// touches bytes. `followups` are jobs queued with a copy (its scan); `gate` holds the
    /// policy decisions that allowed the promotion, logged in the same transaction, and the
    /// actions they asked for, applied to the promoted package.
    #[allow(clippy::too_many_arguments)]
    pub async fn promote(
        &self,
        package: &PackageRow,
        dest: &RepoRow,
        mode: PromotionMode,
        republish: bool,
        new_slug: &str,
        actor: &NewEvent,
        followups: &[NewJob],
        gate: &GateRecord,
    ) -> Result<PackageRow> {
        // Concurrent promotions of one identity into one repository collide on PostgreSQL
        // (a unique violation or a deadlock when both replace it); the transaction is rolled
        // back, so running it again is safe, and one of them wins.
        let mut attempt = 0u64;
        loop {
            let outcome = self
                .promote_once(
                    package, dest, mode, republish, new_slug, actor, followups, gate,
                )
                .await;
            match outcome {
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

    #[allow(clippy::too_many_arguments)]
    async fn promote_once(
        &self,
        package: &PackageRow,
        dest: &RepoRow,
        mode: PromotionMode,
        republish: bool,
        new_slug: &str,
        actor: &NewEvent,
        followups: &[NewJob],
        gate: &GateRecord,
    ) -> Result<PackageRow> {
        let mut tx = self.pool.begin().await?;
        let id = promote_in(&mut tx, package, dest, mode, republish, new_slug, actor).await?;
        if mode == PromotionMode::Copy && !followups.is_empty() {
            sqlx::query("UPDATE packages SET scan_status = 'awaiting_scan' WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for job in followups {
                jobs::enqueue(&mut tx, job).await?;
            }
        }
        gate_in(&mut tx, id, gate, actor).await?;
        tx.commit().await?;
        self.get_package_by_id(id)
            .await?
            .ok_or(DbError::NotFound("package"))
    }

    /// Promotes several packages into `dest` in one transaction: all or none. Returns the
    /// promoted packages' ids, or every package's refusal. With `dry_run` the transaction is
    /// rolled back after every check ran, so the answer is exactly what a real run would do.
    #[allow(clippy::too_many_arguments)]
    pub async fn promote_many(
        &self,
        items: &[(PackageRow, String, Vec<NewJob>, GateRecord)],
        dest: &RepoRow,
        mode: PromotionMode,
        republish: bool,
        actor: &NewEvent,
        dry_run: bool,
    ) -> Result<std::result::Result<Vec<i64>, Vec<(String, String)>>> {
        let mut attempt = 0u64;
        loop {
            let outcome = self
                .promote_many_once(items, dest, mode, republish, actor, dry_run)
                .await;
            match outcome {
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

    async fn promote_many_once(
        &self,
        items: &[(PackageRow, String, Vec<NewJob>, GateRecord)],
        dest: &RepoRow,
        mode: PromotionMode,
        republish: bool,
        actor: &NewEvent,
        dry_run: bool,
    ) -> Result<std::result::Result<Vec<i64>, Vec<(String, String)>>> {
        let mut tx = self.pool.begin().await?;
        let mut ids = Vec::new();
        let mut refused = Vec::new();
        for (package, new_slug, followups, gate) in items {
            match promote_in(&mut tx, package, dest, mode, republish, new_slug, actor).await {
                Ok(id) => {
                    if mode == PromotionMode::Copy {
                        for job in followups {
                            jobs::enqueue(&mut tx, job).await?;
                        }
                        if !followups.is_empty() {
                            sqlx::query(
                                "UPDATE packages SET scan_status = 'awaiting_scan' WHERE id = $1",
                            )
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    gate_in(&mut tx, id, gate, actor).await?;
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

    /// Soft-deletes or restores a package, with its event.
    pub async fn set_package_state(
        &self,
        package: &PackageRow,
        state: PackageState,
        reason: Option<&str>,
        event: &NewEvent,
    ) -> Result<PackageRow> {
        let mut tx = self.pool.begin().await?;
        let was_live = package.state() != PackageState::Deleted;
        let now_live = state != PackageState::Deleted;
        sqlx::query(
            "UPDATE packages SET state = $1, status_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(state.as_str())
        .bind(reason.map(str::to_owned))
        .bind(now_millis())
        .bind(package.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            DbError::conflict_on_unique(e, || {
                format!(
                    "{} package {} {} already exists in {}; delete it before restoring this one",
                    package.format,
                    package.name,
                    package.version,
                    package.repository_slug()
                )
            })
        })?;
        if was_live != now_live {
            adjust_count(
                &mut tx,
                package.repository_id,
                if now_live { 1 } else { -1 },
            )
            .await?;
        }
        insert_package_event(&mut tx, package, event).await?;
        tx.commit().await?;
        self.get_package_by_id(package.id)
            .await?
            .ok_or(DbError::NotFound("package"))
    }

    /// Packages by state over all repositories, for metrics.
    /// Whether any package file (in any state) refers to the blob.
    pub async fn blob_referenced(&self, sha256: &str) -> Result<bool> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM package_files WHERE blob_sha256 = ");
        sql.str(sha256);
        let (count,): (i64,) = sql.query_as().fetch_one(&self.pool).await?;
        Ok(count > 0)
    }

    pub async fn package_counts_by_state(&self) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT state, COUNT(*) FROM packages GROUP BY state ORDER BY state")
                .fetch_all(&self.pool)
                .await?,
        )
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

/// Appends the WHERE clause of a package listing.
fn push_filter(sql: &mut Sql, repository_id: i64, query: &PackageQuery) {
    sql.push(" WHERE p.repository_id = ").int(repository_id);
    match query.state {
        Some(state) => sql.push(" AND p.state = ").str(state.as_str()),
        None => sql.push(" AND p.state <> 'deleted'"),
    };
    if let Some(name) = &query.name {
        sql.push(" AND (p.normalized_name = ")
            .str(name)
            .push(" OR p.name = ")
            .str(name)
            .push(")");
    }
    if let Some(version) = &query.version {
        sql.push(" AND p.version = ").str(version);
    }
    if let Some(format) = &query.format {
        sql.push(" AND p.format = ").str(format);
    }
    for tag in &query.tags {
        sql.push(
            " AND EXISTS (SELECT 1 FROM package_tags t WHERE t.package_id = p.id AND t.tag = ",
        )
        .str(tag)
        .push(")");
    }
    for word in &query.name_contains {
        sql.push(" AND LOWER(p.name) LIKE ")
            .str(&escape_like(word))
            .push(" ESCAPE '\\'");
    }
    for (field, value) in &query.fields {
        push_field(sql, *field, value);
    }
}

/// One exact `field:value` term of a listing query.
fn push_field(sql: &mut Sql, field: QueryField, value: &str) {
    let column = match field {
        QueryField::Source => "p.source",
        QueryField::Upstream => "p.upstream_name",
        QueryField::SyncStatus => "p.sync_status",
        QueryField::ScanStatus => "p.scan_status",
        QueryField::MaxSeverity => "p.max_severity",
        QueryField::Uploader => "p.uploader",
        QueryField::SlugPerm => "p.slug_perm",
        QueryField::Sha256 => "p.primary_sha256",
        QueryField::OriginRepository => "p.origin_repository",
        QueryField::Yanked => {
            sql.push(" AND p.yanked = ").int(i64::from(value == "true"));
            return;
        }
        QueryField::NumVulnerabilities | QueryField::Size => {
            let column = if field == QueryField::Size {
                " AND p.size = "
            } else {
                " AND p.num_vulnerabilities = "
            };
            // The parser accepted only whole numbers.
            sql.push(column).int(value.parse().unwrap_or(-1));
            return;
        }
        QueryField::Filename => {
            sql.push(
                " AND EXISTS (SELECT 1 FROM package_files f WHERE f.package_id = p.id AND f.filename = ",
            )
            .str(value)
            .push(")");
            return;
        }
    };
    sql.push(" AND ").push(column).push(" = ").str(value);
}

impl PackageRow {
    /// This package's values of a query field, for matching a query without the database
    /// (webhook filters).
    pub fn query_values(&self, field: QueryField) -> Vec<String> {
        let one = |v: &str| vec![v.to_owned()];
        match field {
            QueryField::Source => one(&self.source),
            QueryField::Upstream => self.upstream_name.iter().cloned().collect(),
            QueryField::SyncStatus => one(&self.sync_status),
            QueryField::ScanStatus => one(&self.scan_status),
            QueryField::MaxSeverity => self.max_severity.iter().cloned().collect(),
            QueryField::Uploader => one(&self.uploader),
            QueryField::SlugPerm => one(&self.slug_perm),
            QueryField::Sha256 => one(&self.primary_sha256),
            QueryField::OriginRepository => one(&self.origin_repository),
            QueryField::Yanked => one(if self.yanked != 0 { "true" } else { "false" }),
            QueryField::NumVulnerabilities => vec![self.num_vulnerabilities.to_string()],
            QueryField::Size => vec![self.size.to_string()],
            QueryField::Filename => {
                let mut names: Vec<String> =
                    self.files.iter().map(|f| f.filename.clone()).collect();
                names.push(self.filename.clone());
                names
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn promote_in(
    conn: &mut AnyConnection,
    package: &PackageRow,
    dest: &RepoRow,
    mode: PromotionMode,
    republish: bool,
    new_slug: &str,
    actor: &NewEvent,
) -> Result<i64> {
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
            adjust_count(conn, package.repository_id, -1).await?;
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
    adjust_count(conn, dest.id, 1).await?;
    Ok(id)
}
