//! `gantry admin fsck`: every referenced blob exists and re-hashes to the digests its row
//! records; every stored object is a referenced blob. With `repair`, unreferenced blobs past
//! the grace period are removed as `gc` would; missing and damaged blobs can only be reported
//! (with the packages that hold them): their bytes must come back from a backup.

use std::collections::HashSet;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::gc::{remove, GcReport};
use gantry_blobs::BlobStore;
use gantry_db::Db;

/// Rows read per page.
const PAGE: i64 = 500;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FsckOptions {
    /// Unreferenced blobs last written less than this many seconds ago are uploads in flight,
    /// not problems (default 3600).
    pub(crate) grace_seconds: Option<u64>,
    /// Remove the unreferenced blobs found, as garbage collection would.
    #[serde(default)]
    pub(crate) repair: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BlobProblem {
    pub sha256: String,
    /// What is wrong, in words.
    pub(crate) detail: String,
    /// `slug_perm`s of the packages with a file on this blob.
    pub(crate) packages: Vec<String>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct FsckReport {
    /// Referenced blobs re-hashed.
    pub(crate) checked: u64,
    pub(crate) checked_bytes: u64,
    /// Objects listed in the store.
    pub(crate) objects: u64,
    /// Referenced blobs with no object.
    pub(crate) missing: Vec<BlobProblem>,
    /// Referenced blobs whose bytes do not match their row.
    pub(crate) corrupt: Vec<BlobProblem>,
    /// Blobs nothing refers to, older than the grace period.
    pub(crate) unreferenced: Vec<String>,
    /// Objects under the blob layout whose key is not a content address.
    pub(crate) stray: Vec<String>,
    /// Unreferenced blobs removed by `repair`.
    pub(crate) repaired: Vec<String>,
    pub(crate) errors: Vec<String>,
    pub(crate) clean: bool,
}

pub(crate) async fn fsck(
    db: &Db,
    blobs: &BlobStore,
    options: &FsckOptions,
) -> anyhow::Result<FsckReport> {
    let refs = db.blob_references().await?;
    let cutoff = super::cutoff(
        options
            .grace_seconds
            .unwrap_or(super::DEFAULT_GRACE_SECONDS),
    );
    let mut report = FsckReport::default();
    let mut unreferenced = HashSet::new();
    let mut after = String::new();
    loop {
        let rows = db.blob_rows_after(&after, PAGE).await?;
        let Some(last) = rows.last() else { break };
        after = last.sha256.clone();
        for row in rows {
            if !db.blob_in_use(&refs, &row.sha256).await? {
                if row.created_at < cutoff {
                    unreferenced.insert(row.sha256);
                }
                continue;
            }
            verify(db, blobs, &row, &mut report).await?;
        }
    }
    let mut listing = blobs.list_blobs();
    while let Some(object) = listing.next().await {
        let object = object?;
        report.objects += 1;
        let Some(sha256) = object.sha256 else {
            report.stray.push(object.key);
            continue;
        };
        let old = object.last_modified_ms < cutoff;
        // Objects with a row were judged with it; one without a row is referenced only by a
        // table without a foreign key (an upload chunk) or by nothing.
        if old && db.blob_row(&sha256).await?.is_none() && !db.blob_in_use(&refs, &sha256).await? {
            unreferenced.insert(sha256);
        }
    }
    report.unreferenced = unreferenced.into_iter().collect();
    report.unreferenced.sort();
    if options.repair {
        repair(db, blobs, &refs, cutoff, &mut report).await?;
    }
    report.clean = report.missing.is_empty()
        && report.corrupt.is_empty()
        && report.unreferenced.len() == report.repaired.len()
        && report.stray.is_empty()
        && report.errors.is_empty();
    Ok(report)
}

/// Re-hashes one referenced blob against its row.
async fn verify(
    db: &Db,
    blobs: &BlobStore,
    row: &gantry_db::BlobRow,
    report: &mut FsckReport,
) -> anyhow::Result<()> {
    let detail = match blobs.rehash(&row.sha256).await {
        Err(gantry_blobs::BlobError::NotFound(_)) => Some((true, "no object in the store".into())),
        Err(error) => {
            report.errors.push(format!("{}: {error}", row.sha256));
            return Ok(());
        }
        Ok(d) => {
            report.checked += 1;
            report.checked_bytes += d.size;
            let size = i64::try_from(d.size).unwrap_or(i64::MAX);
            let wrong: Vec<&str> = [
                ("sha256", d.sha256 != row.sha256),
                ("size", size != row.size),
                ("md5", d.md5 != row.md5),
                ("sha1", d.sha1 != row.sha1),
                ("sha512", d.sha512 != row.sha512),
            ]
            .into_iter()
            .filter_map(|(name, differs)| differs.then_some(name))
            .collect();
            (!wrong.is_empty()).then(|| {
                (
                    false,
                    format!("stored bytes differ in {}", wrong.join(", ")),
                )
            })
        }
    };
    if let Some((missing, detail)) = detail {
        let problem = BlobProblem {
            packages: db.packages_on_blob(&row.sha256).await?,
            sha256: row.sha256.clone(),
            detail,
        };
        if missing {
            report.missing.push(problem);
        } else {
            report.corrupt.push(problem);
        }
    }
    Ok(())
}

async fn repair(
    db: &Db,
    blobs: &BlobStore,
    refs: &gantry_db::BlobReferences,
    cutoff: i64,
    report: &mut FsckReport,
) -> anyhow::Result<()> {
    let mut removal = GcReport::default();
    for sha256 in &report.unreferenced {
        if remove(db, blobs, refs, sha256, cutoff, &mut removal).await? {
            report.repaired.push(sha256.clone());
        }
    }
    report.errors.append(&mut removal.errors);
    Ok(())
}
