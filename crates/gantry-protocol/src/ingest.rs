//! The one path every upload takes, from the REST API or a native publish endpoint: stream
//! the body into the blob store while hashing, then create the package and its events in one
//! transaction. Native publish endpoints run the format's processing (sync) inline so their
//! clients get the real error; API uploads whose identity is known from the declaration queue
//! a sync job in that same transaction and answer at once.

use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use gantry_blobs::Digests;
use gantry_core::{EventType, FormatId, ScanStatus, SlugPerm, SyncStatus};
use gantry_db::{NewFile, NewPackage, PackageRow, RepoRow};
use gantry_formats::{Artifact, Declared, Format, Processed};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use gantry_jobs::Job as _;

pub struct Upload {
    pub declared: Declared,
    pub republish: bool,
    pub tags: Vec<String>,
    /// The request's `Content-Length`, when sent: refused early if over the limit.
    pub content_length: Option<u64>,
    /// Process before answering instead of queueing a sync job.
    pub inline: bool,
    /// An upload of the very same bytes under an existing identity is a no-op success (what
    /// `twine upload --skip-existing` and re-runs of publish jobs expect) instead of a 409.
    pub identical_ok: bool,
}

impl Upload {
    /// A file a native publish carries (or an upstream serves), processed before the answer:
    /// no tags, never replacing. `identical_ok` makes a re-send of the same bytes a no-op.
    pub fn inline(declared: Declared, identical_ok: bool) -> Self {
        Self {
            declared,
            republish: false,
            tags: Vec::new(),
            content_length: None,
            inline: true,
            identical_ok,
        }
    }
}

/// What an upload did.
pub struct Ingested {
    pub package: PackageRow,
    /// False when an identical file was already there.
    pub created: bool,
}

pub async fn ingest<S, E>(
    app: &Arc<App>,
    caller: &Caller,
    repo: &RepoRow,
    format: Arc<dyn Format>,
    upload: Upload,
    body: S,
) -> AppResult<Ingested>
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
    let declared_identity = format.declared_identity(&upload.declared)?;
    let metrics_app = Arc::clone(app);
    let counted = body.map(move |chunk| {
        if let Ok(bytes) = &chunk {
            metrics_app.metrics.add_received(bytes.len() as u64);
        }
        chunk
    });
    let digests = app.blobs.put_stream(counted, limit).await?;
    let origin = Origin::caller(caller);
    let sha256 = digests.sha256.clone();
    let outcome = ingest_blob(
        app,
        &origin,
        repo,
        format,
        upload,
        digests,
        declared_identity,
    )
    .await;
    if outcome.is_err() {
        discard_unreferenced(app, &sha256).await;
    }
    outcome
}

/// Removes the blob of a rejected upload, unless something refers to it: blobs are shared by
/// content, so the same bytes may belong to a package, or be an image layer, already. The
/// check and the removal are one guarded step (as in garbage collection), so a reference
/// recorded meanwhile keeps the blob.
async fn discard_unreferenced(app: &Arc<App>, sha256: &str) {
    let outcome = match app.db.blob_references().await {
        Ok(refs) => {
            app.db
                .remove_blob_if_unused(&refs, sha256, i64::MAX, || app.blobs.delete(sha256))
                .await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, sha256, "cannot remove the blob of a rejected upload");
        }
        Err(error) => tracing::warn!(%error, sha256, "cannot check the blob of a rejected upload"),
    }
}

/// Who an ingested package comes from.
pub struct Origin {
    pub actor: String,
    pub address: Option<String>,
    /// The upstream a cached package was fetched from.
    pub upstream: Option<String>,
}

impl Origin {
    /// A package the caller sends.
    pub fn caller(caller: &Caller) -> Self {
        Self {
            actor: caller.actor(),
            address: caller.address.map(|a| a.to_string()),
            upstream: None,
        }
    }

    /// A package fetched from an upstream and cached.
    pub fn upstream(name: &str) -> Self {
        Self {
            actor: format!("upstream:{name}"),
            address: None,
            upstream: Some(name.to_owned()),
        }
    }

    /// The package's `source`: `upstream` for a cached upstream file, else `upload`.
    pub fn source(&self) -> &'static str {
        if self.upstream.is_some() {
            "upstream"
        } else {
            "upload"
        }
    }

    /// Why what follows a sync runs: `upstream` or `push`.
    pub fn followup_reason(&self) -> &'static str {
        if self.upstream.is_some() {
            "upstream"
        } else {
            "push"
        }
    }

    /// An event by this origin.
    pub fn event(&self, event_type: EventType) -> gantry_db::NewEvent {
        let mut event = gantry_db::NewEvent::new(event_type, &self.actor);
        event.source_address.clone_from(&self.address);
        event
    }
}

/// What processing (now, or later by the sync job) makes of an upload.
struct Prepared {
    identity: gantry_formats::Identity,
    filename: String,
    content_type: String,
    metadata: serde_json::Value,
    sync_status: SyncStatus,
    extra: Vec<gantry_formats::ExtraFile>,
    events: Vec<gantry_db::NewEvent>,
    jobs: Vec<gantry_db::NewJob>,
}

/// The blobs of a package already in the blob store: the one the format processes, and
/// files that go with it as they are (a Maven POM's JAR, sources, signatures), after it and
/// the files its processing derives.
pub struct Stored {
    pub digests: Digests,
    pub companions: Vec<NewFile>,
}

impl From<Digests> for Stored {
    fn from(digests: Digests) -> Self {
        Self {
            digests,
            companions: Vec::new(),
        }
    }
}

/// Creates the package of bytes already in the blob store.
pub async fn ingest_blob(
    app: &Arc<App>,
    origin: &Origin,
    repo: &RepoRow,
    format: Arc<dyn Format>,
    upload: Upload,
    stored: impl Into<Stored>,
    declared_identity: Option<gantry_formats::Identity>,
) -> AppResult<Ingested> {
    let Stored {
        digests,
        companions,
    } = stored.into();
    let slug = SlugPerm::generate();
    let prepared = prepare(
        app,
        origin,
        &format,
        &upload,
        &digests,
        declared_identity,
        &slug,
    )
    .await?;
    if upload.identical_ok && !upload.republish {
        if let Some(existing) = identical(app, repo, &format, &prepared.identity, &digests).await? {
            return Ok(Ingested {
                package: existing,
                created: false,
            });
        }
    }
    if let Some(plugin) = crate::plugin::plugins().get(format.id()) {
        plugin.before_insert(app, repo, &prepared.identity).await?;
    }
    let Prepared {
        identity,
        filename,
        content_type,
        metadata,
        sync_status,
        extra,
        events,
        mut jobs,
    } = prepared;
    let mut files = vec![NewFile {
        filename,
        content_type,
        size: i64::try_from(digests.size).unwrap_or(i64::MAX),
        md5: digests.md5.clone(),
        sha1: digests.sha1.clone(),
        sha256: digests.sha256.clone(),
        sha512: digests.sha512.clone(),
    }];
    files.extend(store_extra_files(app, extra).await?);
    files.extend(companions);
    let scan_status = if sync_status == SyncStatus::Completed {
        // Processed now: what follows a sync follows at once.
        let reason = origin.followup_reason();
        let followups = crate::pipeline::after_sync(
            app,
            format.id(),
            &repo.namespace,
            repo.id,
            slug.as_str(),
            reason,
        )
        .await?;
        jobs.extend(followups.jobs);
        if followups.scan {
            ScanStatus::AwaitingScan
        } else {
            ScanStatus::NotSupported
        }
    } else if format.vulnerability_ecosystem().is_some() {
        // Scanned once its sync completes.
        ScanStatus::NotScanned
    } else {
        ScanStatus::NotSupported
    };
    let new = NewPackage {
        slug_perm: slug.to_string(),
        repository_id: repo.id,
        format: FormatId::parse(format.id()).map_err(AppError::internal)?,
        name: identity.name,
        normalized_name: identity.normalized_name,
        version: identity.version,
        qualifier: identity.qualifier,
        sync_status,
        status_reason: None,
        uploader: origin.actor.clone(),
        origin_repository: repo.slug(),
        metadata,
        declared: declared_json(&upload.declared),
        files,
        tags: upload.tags,
        scan_status,
        source: origin.source().into(),
        upstream_name: origin.upstream.clone(),
    };
    let row = app
        .db
        .insert_package(&new, repo, &events, upload.republish, &jobs)
        .await?;
    if !jobs.is_empty() {
        app.wake_workers();
    }
    Ok(Ingested {
        package: row,
        created: true,
    })
}

/// Processes the upload now, or, when the format can name the package from what was
/// declared and the caller does not need it inline, leaves it to the sync job.
async fn prepare(
    app: &Arc<App>,
    origin: &Origin,
    format: &Arc<dyn Format>,
    upload: &Upload,
    digests: &Digests,
    declared_identity: Option<gantry_formats::Identity>,
    slug: &SlugPerm,
) -> AppResult<Prepared> {
    let mut created = origin.event(EventType::PackageCreated);
    created.context = serde_json::json!({
        "filename": upload.declared.filename, "size": digests.size, "upstream": origin.upstream,
    });
    if let (false, Some(identity)) = (upload.inline, declared_identity) {
        return Ok(Prepared {
            identity,
            filename: upload.declared.filename.clone(),
            content_type: gantry_formats::content_type(&upload.declared.filename, &[]).to_owned(),
            metadata: serde_json::json!({}),
            sync_status: SyncStatus::AwaitingSync,
            extra: Vec::new(),
            events: vec![created],
            jobs: vec![crate::pipeline::SyncPackage {
                slug_perm: slug.to_string(),
                requested_by: origin.actor.clone(),
            }
            .to_new_job()],
        });
    }
    let processed = process(app, format, &upload.declared, digests).await?;
    Ok(Prepared {
        identity: processed.identity,
        filename: processed.filename,
        content_type: processed.content_type,
        metadata: processed.metadata,
        sync_status: SyncStatus::Completed,
        extra: processed.extra_files,
        events: vec![created, origin.event(EventType::PackageSynced)],
        jobs: Vec::new(),
    })
}

/// For clients that re-upload what is already there (twine, cargo): the live package of
/// the same identity when it holds the same bytes; a conflict when it holds other bytes.
async fn identical(
    app: &App,
    repo: &RepoRow,
    format: &Arc<dyn Format>,
    identity: &gantry_formats::Identity,
    digests: &Digests,
) -> AppResult<Option<gantry_db::PackageRow>> {
    let existing = app
        .db
        .find_live_package(
            repo.id,
            format.id(),
            &identity.normalized_name,
            &identity.version,
            &identity.qualifier,
        )
        .await?;
    match existing {
        Some(existing) if existing.primary_sha256 == digests.sha256 => Ok(Some(existing)),
        Some(_) => Err(AppError::Conflict(format!(
            "{} already exists in {} with different content; a published file cannot be replaced",
            identity.qualifier,
            repo.slug()
        ))),
        None => Ok(None),
    }
}

/// Stores the small files derived from an artifact (a wheel's METADATA) as blobs.
async fn store_extra_files(
    app: &App,
    extra: Vec<gantry_formats::ExtraFile>,
) -> AppResult<Vec<NewFile>> {
    let mut files = Vec::with_capacity(extra.len());
    for file in extra {
        let stored = app
            .blobs
            .put_stream(
                futures::stream::once(async move {
                    Ok::<_, std::io::Error>(bytes::Bytes::from(file.content))
                }),
                app.config.max_upload_size,
            )
            .await?;
        files.push(NewFile {
            filename: file.filename,
            content_type: file.content_type,
            size: i64::try_from(stored.size).unwrap_or(i64::MAX),
            md5: stored.md5,
            sha1: stored.sha1,
            sha256: stored.sha256,
            sha512: stored.sha512,
        });
    }
    Ok(files)
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
        "attributes": d.attributes,
    })
}
