//! `gantry admin gc`: removes blobs no package (deleted ones included: they stay restorable),
//! format table (OCI blob links, upload chunks) or upload refers to.
//!
//! An object is a candidate when its last write is older than the grace period and no row
//! refers to it. Uploads renew the blob's row before the bytes take their address, and the
//! removal re-checks both conditions in the transaction that deletes the object, so an upload
//! running meanwhile — even one of the same bytes — keeps its blob.

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use gantry_blobs::BlobStore;
use gantry_db::Db;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GcOptions {
    /// Blobs last written less than this many seconds ago are kept whatever refers to them
    /// (default 3600).
    pub(crate) grace_seconds: Option<u64>,
    /// Report what would be removed, remove nothing.
    #[serde(default)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct GcReport {
    pub(crate) dry_run: bool,
    pub(crate) grace_seconds: u64,
    /// The tables whose rows keep blobs alive (found by their `blob_sha256` column).
    pub(crate) referring_tables: Vec<String>,
    /// Objects listed under the content-addressed layout.
    pub(crate) examined: u64,
    pub(crate) referenced: u64,
    /// Unreferenced but written within the grace period (uploads in flight).
    pub(crate) recent: u64,
    /// Blobs removed (or, with `dry_run`, that would be).
    pub(crate) removed: Vec<String>,
    pub(crate) removed_bytes: u64,
    /// Rows for blobs whose object was already gone and nothing refers to.
    pub(crate) rows_removed: u64,
    pub(crate) errors: Vec<String>,
}

/// One collection pass over the store, then over the rows whose object is gone.
pub(crate) async fn gc(
    db: &Db,
    blobs: &BlobStore,
    options: &GcOptions,
) -> anyhow::Result<GcReport> {
    let grace_seconds = options
        .grace_seconds
        .unwrap_or(super::DEFAULT_GRACE_SECONDS);
    let refs = db.blob_references().await?;
    let cutoff = super::cutoff(grace_seconds);
    let mut report = GcReport {
        dry_run: options.dry_run,
        grace_seconds,
        referring_tables: refs.tables().to_vec(),
        ..GcReport::default()
    };
    let mut listing = blobs.list_blobs();
    while let Some(object) = listing.next().await {
        let object = object?;
        report.examined += 1;
        // A key outside the layout is not a blob gc knows how to judge; fsck reports it.
        let Some(sha256) = object.sha256 else {
            continue;
        };
        if db.blob_in_use(&refs, &sha256).await? {
            report.referenced += 1;
            continue;
        }
        if object.last_modified_ms >= cutoff {
            report.recent += 1;
            continue;
        }
        let removed = if options.dry_run {
            db.blob_row(&sha256)
                .await?
                .is_none_or(|row| row.created_at < cutoff)
        } else {
            remove(db, blobs, &refs, &sha256, cutoff, &mut report).await?
        };
        if removed {
            report.removed.push(sha256);
            report.removed_bytes += object.size;
        } else {
            report.recent += 1;
        }
    }
    // Rows left by objects removed outside gc (or lost): nothing to delete in the store.
    for sha256 in db.unreferenced_blob_rows(&refs, cutoff).await? {
        if report.removed.contains(&sha256) || blobs.exists(&sha256).await? {
            continue;
        }
        if options.dry_run || remove(db, blobs, &refs, &sha256, cutoff, &mut report).await? {
            report.rows_removed += 1;
        }
    }
    Ok(report)
}

/// Removes one blob under the guard of its row; an error removing the object is reported
/// and leaves the row in place.
pub(super) async fn remove(
    db: &Db,
    blobs: &BlobStore,
    refs: &gantry_db::BlobReferences,
    sha256: &str,
    cutoff: i64,
    report: &mut GcReport,
) -> anyhow::Result<bool> {
    let outcome = db
        .remove_blob_if_unused(refs, sha256, cutoff, || blobs.delete(sha256))
        .await?;
    match outcome {
        Ok(removed) => {
            if removed {
                tracing::info!(sha256, "removed an unreferenced blob");
            }
            Ok(removed)
        }
        Err(error) => {
            report.errors.push(format!("{sha256}: {error}"));
            Ok(false)
        }
    }
}
