//! `PUT`: a deploy's files are streamed into the blob store and staged; their checksum
//! sidecars are checked against the digests computed on the way in (a mismatch discards the
//! file); the artifact-level `maven-metadata.xml` that ends every `mvn deploy` seals what was
//! staged into packages. Gantry writes its own metadata, so uploaded documents are only
//! classified, never stored.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gantry_core::time::now_millis;
use gantry_db::RepoRow;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::pure::metadata::{self, UploadedKind};
use crate::pure::path::{ArtifactFile, Checksum, RepoPath, Target};
use crate::pure::ID;
use crate::queries::{MavenQueries, StageKey, StagedFile};

/// Largest checksum sidecar read (a sha512 in hex is 128 characters).
const MAX_SIDECAR: usize = 1024;
/// Most files of one artifact staged at once (a version with every classifier, signature
/// and module file has a few dozen).
const MAX_STAGED_FILES: usize = 1000;

pub(super) async fn put(
    app: &Arc<App>,
    caller: &Caller,
    repo: &RepoRow,
    parsed: RepoPath,
    length: Option<u64>,
    body: Body,
) -> AppResult<Response> {
    match (parsed.target, parsed.checksum) {
        (Target::File(file), None) => put_file(app, caller, repo, &file, length, body).await,
        (Target::File(file), Some(algorithm)) => {
            put_checksum(app, repo, &file, algorithm, body).await
        }
        (Target::Metadata { dirs }, None) => {
            let bytes = read_small(body, metadata::MAX_METADATA_SIZE as usize).await?;
            if metadata::classify(&bytes)? == UploadedKind::Artifact {
                if let Some(coordinates) = Target::artifact_level(&dirs) {
                    super::seal_artifact(app, repo, &coordinates, Some(&caller.actor())).await?;
                }
            }
            Ok(created())
        }
        (Target::VersionMetadata { .. }, None) => {
            let bytes = read_small(body, metadata::MAX_METADATA_SIZE as usize).await?;
            metadata::classify(&bytes)?;
            Ok(created())
        }
        // Sidecars of documents Gantry writes itself.
        (Target::Metadata { .. } | Target::VersionMetadata { .. }, Some(_)) => {
            read_small(body, MAX_SIDECAR).await?;
            Ok(created())
        }
    }
}

fn created() -> Response {
    StatusCode::CREATED.into_response()
}

async fn read_small(body: Body, limit: usize) -> AppResult<bytes::Bytes> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AppError::PayloadTooLarge(format!("this document is at most {limit} bytes")))
}

fn stage_key<'a>(repo: &RepoRow, file: &'a ArtifactFile) -> StageKey<'a> {
    StageKey {
        repository_id: repo.id,
        group_id: &file.coordinates.group,
        artifact_id: &file.coordinates.artifact,
    }
}

/// Refuses a file that would change a published release, or join another deployer's deploy.
async fn check_open(
    app: &App,
    caller: &Caller,
    repo: &RepoRow,
    file: &ArtifactFile,
) -> AppResult<()> {
    let gav = format!("{}:{}", file.coordinates.name(), file.version);
    if file.is_snapshot() && file.build.is_none() {
        return Err(AppError::BadRequest(format!(
            "{} is a SNAPSHOT file without a build timestamp; Gantry stores timestamped SNAPSHOT builds (uniqueVersion)",
            file.filename
        )));
    }
    if !file.is_snapshot() {
        let published = gantry_protocol::repo::find_live_package(
            app,
            repo.id,
            ID,
            &file.coordinates.name(),
            &file.version,
            "",
        )
        .await?;
        if published.is_some() && !repo.republish_allowed() {
            return Err(AppError::Conflict(format!(
                "{gav} is already published in {}; releases are immutable, deploy a new version \
                 (or let an admin allow republishing in this repository)",
                repo.slug()
            )));
        }
    }
    let idle_since = now_millis() - super::seal::idle_millis();
    let actor = caller.actor();
    let staged = app.db.maven_staged(&stage_key(repo, file)).await?;
    if staged.len() >= MAX_STAGED_FILES {
        return Err(AppError::PayloadTooLarge(format!(
            "{} has {MAX_STAGED_FILES} files waiting for their deploys to end; end them first",
            file.coordinates.name()
        )));
    }
    if let Some(other) = staged
        .iter()
        .find(|s| s.version == file.version && s.uploader != actor && s.updated_at > idle_since)
    {
        return Err(AppError::Conflict(format!(
            "{gav} is being deployed to {} by {}; wait until that deploy ends",
            repo.slug(),
            other.uploader
        )));
    }
    Ok(())
}

async fn put_file(
    app: &Arc<App>,
    caller: &Caller,
    repo: &RepoRow,
    file: &ArtifactFile,
    length: Option<u64>,
    body: Body,
) -> AppResult<Response> {
    let limit = app.config.max_upload_size;
    if length.is_some_and(|n| n > limit) {
        return Err(AppError::PayloadTooLarge(format!(
            "upload exceeds the maximum size of {limit} bytes"
        )));
    }
    check_open(app, caller, repo, file).await?;
    let metrics = Arc::clone(app);
    let stream = futures::StreamExt::map(body.into_data_stream(), move |chunk| {
        if let Ok(bytes) = &chunk {
            metrics.metrics.add_received(bytes.len() as u64);
        }
        chunk
    });
    let digests = app.blobs.put_stream(stream, limit).await?;
    let staged = StagedFile {
        version: file.version.clone(),
        filename: file.filename.clone(),
        build: file.build.clone().unwrap_or_default(),
        sha256: digests.sha256.clone(),
        size: i64::try_from(digests.size).unwrap_or(i64::MAX),
        md5: digests.md5.clone(),
        sha1: digests.sha1.clone(),
        sha512: digests.sha512.clone(),
        uploader: caller.actor(),
        source_address: caller.address.map(|a| a.to_string()),
        updated_at: now_millis(),
    };
    app.db
        .maven_stage(
            &stage_key(repo, file),
            &staged,
            &super::stored_file(&file.filename, &digests),
        )
        .await?;
    Ok(created())
}

async fn put_checksum(
    app: &Arc<App>,
    repo: &RepoRow,
    file: &ArtifactFile,
    algorithm: Checksum,
    body: Body,
) -> AppResult<Response> {
    let bytes = read_small(body, MAX_SIDECAR).await?;
    let declared = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| algorithm.parse_body(text))
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "{}.{} does not hold a {} hex digest",
                file.filename,
                algorithm.extension(),
                algorithm.extension()
            ))
        })?;
    let key = stage_key(repo, file);
    let staged = app.db.maven_staged(&key).await?;
    let computed = match staged
        .iter()
        .find(|s| s.version == file.version && s.filename == file.filename)
    {
        Some(staged) => Some(staged.digest(algorithm).to_owned()),
        None => super::download::find_file(app, repo, file)
            .await?
            .map(|(package, i)| {
                super::download::file_digest(&package.files[i], algorithm).to_owned()
            }),
    };
    let Some(computed) = computed else {
        return Err(AppError::BadRequest(format!(
            "no {} was uploaded before its checksum",
            file.filename
        )));
    };
    if !computed.eq_ignore_ascii_case(&declared) {
        app.db
            .maven_unstage(&key, &file.version, Some(&file.filename))
            .await?;
        return Err(AppError::Unprocessable(format!(
            "{} checksum mismatch for {}: the sidecar says {declared}, the received bytes have {computed}; the file was discarded",
            algorithm.extension(),
            file.filename
        )));
    }
    Ok(created())
}
