//! Packages, their files and tags; promotion (copy and move); soft delete and restore.

use gantry_core::time::now_millis;
use gantry_core::{EventType, FormatId, PackageState, ScanStatus, SyncStatus};
use sqlx::{AnyConnection, FromRow};

use crate::bind::Sql;
use crate::events::{self, NewEvent};
use crate::repos::RepoRow;
use crate::OrConflict;
use crate::{Db, DbError, Result};

mod insert;
mod listing;
mod promote;
pub use promote::Promotion;
mod sync;

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
    pub format: FormatId,
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
    /// `NotScanned`, `NotSupported` (no scanner for the format), or `AwaitingScan` when a
    /// scan job is queued with it.
    pub scan_status: ScanStatus,
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
    #[sqlx(try_from = "String")]
    pub format: FormatId,
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub qualifier: String,
    pub filename: String,
    #[sqlx(try_from = "String")]
    pub sync_status: SyncStatus,
    pub sync_progress: i64,
    #[sqlx(try_from = "String")]
    pub state: PackageState,
    pub status_reason: Option<String>,
    pub size: i64,
    pub primary_sha256: String,
    pub uploader: String,
    pub uploaded_at: i64,
    pub updated_at: i64,
    pub origin_repository: String,
    pub origin_slug: Option<String>,
    pub origin_slug_repository: Option<String>,
    #[sqlx(try_from = "String")]
    pub scan_status: ScanStatus,
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
        self.state
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
/// Records the package's event in `tx` and commits: the end of every change to one package.
pub(crate) async fn commit_with_event(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    package: &PackageRow,
    event: &NewEvent,
) -> Result<()> {
    insert_package_event(&mut tx, package, event).await?;
    tx.commit().await?;
    Ok(())
}

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

async fn adjust_count(
    conn: &mut AnyConnection,
    repository_id: i64,
    package_id: i64,
    delta: i64,
) -> Result<()> {
    sqlx::query("UPDATE repositories SET package_count = package_count + $1 WHERE id = $2")
        .bind(delta)
        .bind(repository_id)
        .execute(&mut *conn)
        .await?;
    // The package's format and size never change, so its row says what to add or take away.
    sqlx::query(
        "INSERT INTO repository_format_stats (repository_id, format, package_count, total_size) \
         SELECT $1, format, $2, $2 * size FROM packages WHERE id = $3 \
         ON CONFLICT (repository_id, format) DO UPDATE SET \
         package_count = repository_format_stats.package_count + excluded.package_count, \
         total_size = repository_format_stats.total_size + excluded.total_size",
    )
    .bind(repository_id)
    .bind(delta)
    .bind(package_id)
    .execute(&mut *conn)
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
    if dest.tags_immutable() {
        return Err(DbError::Conflict(format!(
            "{what} already exists in {} as {slug}, and the repository's tags are immutable: \
             it cannot be replaced",
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
    adjust_count(conn, dest.id, id, -1).await?;
    let mut event = actor.clone();
    event.event_type = EventType::PackageDeleted;
    event.slug_perm = Some(slug);
    event.repository = Some(dest.slug());
    event.namespace = Some(dest.namespace.clone());
    event.context = serde_json::json!({ "reason": "republished" });
    events::insert(conn, &event).await?;
    Ok(())
}

/// Records the blob of `file` (its digests) unless it is known: what a table that refers to
/// blobs needs first, in the same transaction.
pub async fn record_blob(conn: &mut AnyConnection, file: &NewFile) -> Result<()> {
    sqlx::query(
        "INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(&file.sha256)
    .bind(file.size)
    .bind(&file.md5)
    .bind(&file.sha1)
    .bind(&file.sha512)
    .bind(now_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records `files` as the package's files from `first_position` on (their blobs too).
async fn insert_files(
    conn: &mut AnyConnection,
    package_id: i64,
    files: &[NewFile],
    first_position: i64,
) -> Result<()> {
    for (position, file) in (first_position..).zip(files) {
        record_blob(conn, file).await?;
        sqlx::query(
            "INSERT INTO package_files (package_id, position, filename, blob_sha256, content_type) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(package_id)
        .bind(position)
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
    /// Adds a file to a package after its other files (a format whose packages gather their
    /// files one request at a time: an upstream's Maven artifact). A file of that name
    /// already there is kept as it is.
    pub async fn add_package_file(&self, package: &PackageRow, file: &NewFile) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let (held, next): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(CASE WHEN filename = $2 THEN 1 END), COALESCE(MAX(position), -1) + 1 \
             FROM package_files WHERE package_id = $1",
        )
        .bind(package.id)
        .bind(&file.filename)
        .fetch_one(&mut *tx)
        .await?;
        if held == 0 {
            insert_files(&mut tx, package.id, std::slice::from_ref(file), next).await?;
            sqlx::query("UPDATE packages SET updated_at = $1 WHERE id = $2")
                .bind(now_millis())
                .bind(package.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The package as it is now (after a change).
    pub(crate) async fn reload(&self, package: &PackageRow) -> Result<PackageRow> {
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
        commit_with_event(tx, package, event).await?;
        self.reload(package).await
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
        .or_conflict(|| {
            format!(
                "{} package {} {} already exists in {}; delete it before restoring this one",
                package.format,
                package.name,
                package.version,
                package.repository_slug()
            )
        })?;
        if was_live != now_live {
            adjust_count(
                &mut tx,
                package.repository_id,
                package.id,
                if now_live { 1 } else { -1 },
            )
            .await?;
        }
        commit_with_event(tx, package, event).await?;
        self.reload(package).await
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
