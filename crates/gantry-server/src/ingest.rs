//! The one path every upload takes, from the REST API or a native publish endpoint: stream
//! the body into the blob store while hashing, run the format's processing (sync) on the
//! stored bytes, then create the package and its events in one transaction.

use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use gantry_blobs::Digests;
use gantry_core::{EventType, SlugPerm, SyncStatus};
use gantry_db::{NewFile, NewPackage, PackageRow, RepoRow};
use gantry_formats::{Artifact, Declared, Format, Processed};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

pub(crate) struct Upload {
    pub declared: Declared,
    pub republish: bool,
    pub tags: Vec<String>,
    /// The request's `Content-Length`, when sent: refused early if over the limit.
    pub content_length: Option<u64>,
}

pub(crate) async fn ingest<S, E>(
    app: &Arc<App>,
    caller: &Caller,
    repo: &RepoRow,
    format: Arc<dyn Format>,
    upload: Upload,
    body: S,
) -> AppResult<PackageRow>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let limit = app.config.max_upload_size;
    if upload.content_length.is_some_and(|n| n > limit) {
        return Err(AppError::PayloadTooLarge(format!(
            "upload exceeds the maximum size of {limit} bytes"
        )));
    }
    // Fail fast on a bad declaration before reading the body.
    format.declared_identity(&upload.declared)?;
    let metrics_app = Arc::clone(app);
    let counted = body.map(move |chunk| {
        if let Ok(bytes) = &chunk {
            metrics_app.metrics.add_received(bytes.len() as u64);
        }
        chunk
    });
    let digests = app.blobs.put_stream(counted, limit).await?;
    let processed = process(app, &format, &upload.declared, &digests).await?;
    let slug = SlugPerm::generate();
    let new = NewPackage {
        slug_perm: slug.to_string(),
        repository_id: repo.id,
        format: format.id().to_owned(),
        name: processed.identity.name.clone(),
        normalized_name: processed.identity.normalized_name.clone(),
        version: processed.identity.version.clone(),
        qualifier: processed.identity.qualifier.clone(),
        sync_status: SyncStatus::Completed,
        status_reason: None,
        uploader: caller.actor(),
        origin_repository: repo.slug(),
        metadata: processed.metadata.clone(),
        declared: declared_json(&upload.declared),
        files: vec![NewFile {
            filename: processed.filename.clone(),
            content_type: processed.content_type.clone(),
            size: i64::try_from(digests.size).unwrap_or(i64::MAX),
            md5: digests.md5,
            sha1: digests.sha1,
            sha256: digests.sha256,
            sha512: digests.sha512,
        }],
        tags: upload.tags,
    };
    let mut created = caller.event(EventType::PackageCreated);
    created.context = serde_json::json!({ "filename": processed.filename, "size": digests.size });
    let synced = caller.event(EventType::PackageSynced);
    let row = app
        .db
        .insert_package(&new, repo, &[created, synced], upload.republish)
        .await?;
    Ok(row)
}

/// Runs the format's processing on a blocking thread over a file of the stored blob.
async fn process(
    app: &Arc<App>,
    format: &Arc<dyn Format>,
    declared: &Declared,
    digests: &Digests,
) -> AppResult<Processed> {
    let (file, _guard) = app
        .blobs
        .open_file(&digests.sha256, &app.scratch_dir())
        .await?;
    let format = Arc::clone(format);
    let declared = declared.clone();
    let digests = digests.clone();
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        format.process(
            &declared,
            Artifact {
                content: &mut file,
                size: digests.size,
                md5: &digests.md5,
                sha1: &digests.sha1,
                sha256: &digests.sha256,
                sha512: &digests.sha512,
            },
        )
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::from)
}

fn declared_json(d: &Declared) -> serde_json::Value {
    serde_json::json!({
        "name": d.name, "version": d.version, "filename": d.filename,
        "md5": d.md5, "sha1": d.sha1, "sha256": d.sha256, "sha512": d.sha512,
    })
}
