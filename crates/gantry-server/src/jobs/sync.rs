//! The sync job: run the format's processing on a stored package and record the outcome.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use gantry_blobs::BlobError;
use gantry_core::{EventType, PackageState, SyncStatus};
use gantry_db::{JobRow, NewEvent, NewJob, PackageRow, SyncOutcome};
use gantry_formats::{Artifact, Declared, FormatError};
use gantry_jobs::{Completion, Job as _, JobContext, JobError};

use super::{AppJob, JobResult};

use crate::pipeline::SyncPackage;

use crate::app::App;

/// Who sync events are attributed to.
const SYNC_ACTOR: &str = "gantry (sync)";

pub(crate) fn sync_job(slug_perm: &str, requested_by: &str) -> NewJob {
    SyncPackage {
        slug_perm: slug_perm.to_owned(),
        requested_by: requested_by.to_owned(),
    }
    .to_new_job()
}

/// A failure worth retrying (storage or database trouble), as opposed to a package that is
/// simply bad, which is a [`SyncOutcome::Failed`].
struct Transient(String);

impl AppJob for SyncPackage {
    async fn run(self, app: &Arc<App>, job: &JobRow, ctx: &JobContext) -> JobResult {
        sync(app, self, job, ctx).await
    }
}

async fn sync(
    app: &Arc<App>,
    payload: SyncPackage,
    job: &JobRow,
    ctx: &JobContext,
) -> Result<Completion, JobError> {
    let slug = payload.slug_perm.as_str();
    let db = &app.db;
    let package = db
        .get_package_by_slug(slug)
        .await
        .map_err(JobError::retry)?;
    let Some(package) = package else {
        return Ok(Completion::Done);
    };
    let pending = matches!(
        package.sync_status,
        SyncStatus::AwaitingSync | SyncStatus::Syncing
    );
    if package.state() == PackageState::Deleted || !pending {
        return Ok(Completion::Done);
    }
    let mut syncing = NewEvent::new(EventType::PackageSyncing, SYNC_ACTOR);
    syncing.context = serde_json::json!({
        "attempt": job.attempts,
        "requested_by": payload.requested_by,
    });
    db.start_sync(&package, &syncing)
        .await
        .map_err(JobError::retry)?;
    fault_delay().await;
    let outcome = match process(app, &package).await {
        Ok(outcome) => outcome,
        Err(Transient(message)) if job.attempts < job.max_attempts => {
            return Err(JobError::retry(message));
        }
        Err(Transient(message)) => SyncOutcome::Failed {
            reason: format!("gave up after {} attempts: {message}", job.attempts),
        },
    };
    let (event_type, context) = match &outcome {
        SyncOutcome::Completed { .. } => (EventType::PackageSynced, serde_json::json!({})),
        SyncOutcome::Failed { reason } => (
            EventType::PackageFailed,
            serde_json::json!({ "reason": reason }),
        ),
    };
    let mut event = NewEvent::new(event_type, SYNC_ACTOR);
    event.context = context;
    let followups = match outcome {
        SyncOutcome::Completed { .. } => crate::pipeline::after_sync(
            app,
            &package.format,
            &package.namespace,
            package.repository_id,
            &package.slug_perm,
            "sync",
        )
        .await
        .map_err(|e| JobError::retry(e.to_string()))?,
        SyncOutcome::Failed { .. } => crate::pipeline::Followups::default(),
    };
    db.finish_sync(
        &package,
        &outcome,
        &event,
        job.id,
        &ctx.worker_id,
        &followups.jobs,
        followups.scan,
    )
    .await
    .map_err(JobError::retry)?;
    if matches!(outcome, SyncOutcome::Completed { .. }) {
        attest_upload(app, &package.slug_perm).await;
    }
    app.wake_workers();
    Ok(Completion::Completed)
}

/// Signs the upload once its bytes were processed (see `crate::attest`); a failure is logged
/// and the statement is made later, at the package's first promotion.
async fn attest_upload(app: &App, slug_perm: &str) {
    let result = match app.db.get_package_by_slug(slug_perm).await {
        Ok(Some(package)) => crate::attest::record_upload(app, &package).await,
        Ok(None) => Ok(()),
        Err(e) => Err(e.into()),
    };
    if let Err(error) = result {
        tracing::warn!(%error, package = %slug_perm, "recording an upload attestation failed");
    }
}

/// Operators and tests may slow sync down to exercise crash recovery
/// (`GANTRY_FAULT_SYNC_DELAY_MS`); unset in normal operation.
async fn fault_delay() {
    if let Some(ms) = std::env::var("GANTRY_FAULT_SYNC_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

fn declared_of(package: &PackageRow) -> Declared {
    let d: serde_json::Value = serde_json::from_str(&package.declared).unwrap_or_default();
    let text = |k: &str| d[k].as_str().map(str::to_owned);
    Declared {
        name: text("name"),
        version: text("version"),
        filename: text("filename").unwrap_or_else(|| package.filename.clone()),
        md5: text("md5"),
        sha1: text("sha1"),
        sha256: text("sha256"),
        sha512: text("sha512"),
        attributes: serde_json::from_value(d["attributes"].clone()).unwrap_or_default(),
    }
}

/// Re-reads the stored bytes (checking them against the recorded sha256) and runs the
/// format's processing on them.
async fn process(app: &Arc<App>, package: &PackageRow) -> Result<SyncOutcome, Transient> {
    let failed = |reason: String| Ok(SyncOutcome::Failed { reason });
    let Some(format) = app.formats.get(&package.format) else {
        return failed(format!("unknown format {}", package.format));
    };
    let Some(file) = package.primary_file().cloned() else {
        return failed("package has no files".into());
    };
    let (handle, guard) = match app.blobs.open_file(&file.sha256, &app.scratch_dir()).await {
        Ok(opened) => opened,
        Err(BlobError::NotFound(_)) => {
            return failed(format!(
                "stored file {} (sha256 {}) is missing from blob storage",
                file.filename, file.sha256
            ))
        }
        Err(BlobError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return failed(format!(
                "stored file {} (sha256 {}) is missing from blob storage",
                file.filename, file.sha256
            ))
        }
        Err(e) => return Err(Transient(e.to_string())),
    };
    let declared = declared_of(package);
    let expected = (
        package.normalized_name.clone(),
        package.version.clone(),
        package.qualifier.clone(),
    );
    let result = tokio::task::spawn_blocking(move || {
        let _guard = guard;
        let mut handle = handle;
        // Only sha256 is recomputed: it names the blob; the other digests were taken from
        // the same bytes at upload.
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = handle
                .read(&mut buf)
                .map_err(|e| Transient(e.to_string()))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            sha2::Digest::update(&mut hasher, &buf[..n]);
        }
        let digests = gantry_blobs::Digests {
            size,
            md5: file.md5.clone(),
            sha1: file.sha1.clone(),
            sha256: hex::encode(sha2::Digest::finalize(hasher)),
            sha512: file.sha512.clone(),
        };
        if digests.sha256 != file.sha256 {
            return Ok(SyncOutcome::Failed {
                reason: format!(
                    "stored bytes of {} do not match the recorded sha256 {} (found {})",
                    file.filename, file.sha256, digests.sha256
                ),
            });
        }
        handle
            .seek(SeekFrom::Start(0))
            .map_err(|e| Transient(e.to_string()))?;
        let processed = format.process(
            &declared,
            Artifact {
                content: &mut handle,
                size: digests.size,
                md5: &digests.md5,
                sha1: &digests.sha1,
                sha256: &digests.sha256,
                sha512: &digests.sha512,
            },
        );
        match processed {
            Ok(p) => {
                let id = &p.identity;
                if (
                    id.normalized_name.clone(),
                    id.version.clone(),
                    id.qualifier.clone(),
                ) != expected
                {
                    return Ok(SyncOutcome::Failed {
                        reason: format!(
                            "the artifact is {} {} but was uploaded as {} {}",
                            id.name, id.version, expected.0, expected.1
                        ),
                    });
                }
                Ok(SyncOutcome::Completed {
                    metadata: p.metadata,
                    content_type: p.content_type,
                })
            }
            Err(FormatError::Io(e)) => Err(Transient(e)),
            Err(e) => Ok(SyncOutcome::Failed {
                reason: e.to_string(),
            }),
        }
    })
    .await
    .map_err(|e| Transient(e.to_string()))?;
    result
}
