//! `PUT /v2/<name>/manifests/<reference>`: a manifest becomes a package whose files are the
//! manifest and every blob and child manifest it references (for an index, its children's
//! blobs too), so that promotion carries the whole graph and no blob is stored twice.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use futures::StreamExt;
use gantry_core::{EventType, SlugPerm, SyncStatus};
use gantry_db::{NewFile, NewPackage, RepoRow};

use crate::queries::OciQueries;
use gantry_protocol::access::Op;
use gantry_protocol::ingest::Origin;
use serde_json::{json, Value};

use super::super::error::{Code, OciError, OciResult};
use super::super::{empty, Ctx};
use super::{reference, tagged, untag, Reference};
use crate::pure::manifest::{self, Manifest, ManifestError, MAX_MANIFEST_SIZE};
use crate::pure::{Digest, ID};

/// Largest config blob read for the package's metadata (labels, platform).
const MAX_CONFIG_READ: u64 = 1024 * 1024;

/// Reads the request body, refusing more than the manifest limit.
async fn read_bounded(body: Body) -> OciResult<Vec<u8>> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| OciError::bad(Code::ManifestInvalid, e.to_string()))?;
        if out.len() + chunk.len() > MAX_MANIFEST_SIZE {
            return Err(OciError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::SizeInvalid,
                format!("the manifest is larger than {MAX_MANIFEST_SIZE} bytes"),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

pub(crate) async fn put(ctx: &Ctx<'_>, text: &str, body: Body) -> OciResult<Response> {
    let repo = ctx.repo(Op::Push).await?;
    let target = reference(text)?;
    let bytes = read_bounded(body).await?;
    let parsed = manifest::parse(&bytes, ctx.header("content-type")).map_err(|e| match e {
        ManifestError::Schema1 => OciError::bad(Code::ManifestInvalid, e.to_string()),
        ManifestError::Invalid(m) => OciError::bad(Code::ManifestInvalid, m),
    })?;
    let digest = match &target {
        Reference::Digest(d) if !d.matches(&bytes) => {
            return Err(OciError::bad(
                Code::DigestInvalid,
                format!("the manifest's digest is not {d}"),
            ))
        }
        Reference::Digest(d) => d.clone(),
        Reference::Tag(_) => Digest::sha256_of(&bytes),
    };
    let digest_text = digest.to_string();
    let version = match &target {
        Reference::Tag(tag) => tag.clone(),
        Reference::Digest(_) => digest_text.clone(),
    };
    let origin = Origin::caller(&ctx.scope.caller);
    save(ctx, &repo, &origin, &parsed, &bytes, &digest_text, &version).await?;
    let mut headers = vec![
        (
            "location",
            format!("/v2/{}/manifests/{digest_text}", ctx.scope.full_name()),
        ),
        ("docker-content-digest", digest_text),
    ];
    if let Some(subject) = &parsed.subject {
        headers.push(("oci-subject", subject.digest.clone()));
    }
    empty(StatusCode::CREATED, &headers)
}

/// Makes a checked manifest (with `digest`) the package of `version`, unless it is that
/// already: from a push, or from an upstream (`origin` says which).
pub(crate) async fn save(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    origin: &Origin,
    parsed: &Manifest,
    bytes: &[u8],
    digest: &str,
    version: &str,
) -> OciResult<()> {
    if !already_there(ctx, repo, version, digest).await? {
        let files = referenced_files(ctx, repo, parsed).await?;
        let stored = Stored {
            parsed,
            bytes,
            digest,
            version,
        };
        store(ctx, repo, origin, &stored, files).await?;
    }
    Ok(())
}

/// A manifest being stored.
struct Stored<'a> {
    parsed: &'a Manifest,
    bytes: &'a [u8],
    digest: &'a str,
    version: &'a str,
}

/// Settles what exists under `version` before a push: true when the push changes nothing
/// (the same manifest under the same version, or a tag put on a manifest pushed by digest
/// alone, which becomes that tag); a tag on another manifest is moved off it.
async fn already_there(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    version: &str,
    digest: &str,
) -> OciResult<bool> {
    if let Some(existing) = tagged(ctx, repo, version).await? {
        let same = existing
            .primary_file()
            .is_some_and(|f| f.filename == digest);
        if same {
            return Ok(true);
        }
        if existing.state == gantry_core::PackageState::Quarantined {
            return Err(OciError::new(
                StatusCode::CONFLICT,
                Code::Denied,
                format!(
                    "{version} is quarantined as {}; release it before pushing over it",
                    existing.slug_perm
                ),
            ));
        }
        if repo.tags_immutable() {
            return Err(OciError::new(
                StatusCode::CONFLICT,
                Code::Denied,
                format!(
                    "tag {version} of {} is immutable: it already names {}; push under a new tag",
                    ctx.scope.full_name(),
                    existing
                        .primary_file()
                        .map_or("another manifest", |f| f.filename.as_str())
                ),
            ));
        }
        untag(ctx, &existing, "tag moved to another manifest").await?;
    }
    let by_digest = ctx
        .app
        .db
        .oci_packages_by_digest(repo.id, &ctx.scope.image, digest)
        .await?;
    if version == digest {
        // Pushed by digest: any package of the manifest already makes it reachable so.
        return Ok(!by_digest.is_empty());
    }
    if let Some(untagged) = by_digest.iter().find(|p| p.version == digest) {
        ctx.app.db.oci_set_version(untagged, version).await?;
        return Ok(true);
    }
    Ok(false)
}

/// The files a manifest's package holds besides the manifest: its blobs, and for an index
/// its child manifests with their files. A missing one refuses the push.
async fn referenced_files(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    parsed: &Manifest,
) -> OciResult<Vec<NewFile>> {
    let db = &ctx.app.db;
    let image = &ctx.scope.image;
    let mut files: Vec<NewFile> = Vec::new();
    let missing = |digest: &str| {
        OciError::bad(
            Code::ManifestBlobUnknown,
            format!(
                "{digest} is not in {}; push it first",
                ctx.scope.full_name()
            ),
        )
    };
    for blob in parsed.blobs() {
        let object = db
            .oci_find_blob(repo.id, image, &blob.digest)
            .await?
            .ok_or_else(|| missing(&blob.digest))?;
        files.push(object.as_file(&blob.digest, crate::queries::OCI_BLOB_CONTENT_TYPE));
    }
    for child in &parsed.manifests {
        let object = db
            .oci_find_manifest(repo.id, image, &child.digest)
            .await?
            .ok_or_else(|| missing(&child.digest))?;
        // The child's own package carries its blobs.
        let packages = db
            .oci_packages_by_digest(repo.id, image, &child.digest)
            .await?;
        match packages.first() {
            Some(package) => files.extend(package.files.iter().map(|f| NewFile {
                filename: f.filename.clone(),
                content_type: f.content_type.clone(),
                size: f.size,
                md5: f.md5.clone(),
                sha1: f.sha1.clone(),
                sha256: f.sha256.clone(),
                sha512: f.sha512.clone(),
            })),
            None => files.push(object.as_file(&child.digest, &object.content_type)),
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.filename.clone()));
    Ok(files)
}

/// Labels and platform from the config blob, when it is a small JSON document.
async fn config_summary(ctx: &Ctx<'_>, files: &[NewFile], parsed: &Manifest) -> Value {
    let Some(config) = &parsed.config else {
        return Value::Null;
    };
    let Some(file) = files.iter().find(|f| f.filename == config.digest) else {
        return Value::Null;
    };
    if !config.media_type.ends_with("json") || file.size as u64 > MAX_CONFIG_READ {
        return Value::Null;
    }
    let Ok(reader) = ctx.app.blobs.get(&file.sha256, None).await else {
        return Value::Null;
    };
    let mut bytes = Vec::new();
    let mut stream = reader.stream;
    while let Some(Ok(chunk)) = stream.next().await {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > MAX_CONFIG_READ {
            return Value::Null;
        }
    }
    manifest::config_summary(&bytes)
}

/// Stores the manifest's bytes and creates its package.
async fn store(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    origin: &Origin,
    manifest: &Stored<'_>,
    referenced: Vec<NewFile>,
) -> OciResult<()> {
    let Stored {
        parsed,
        bytes,
        digest,
        version,
    } = *manifest;
    let app = ctx.app;
    let owned = bytes::Bytes::copy_from_slice(bytes);
    let stored = app
        .blobs
        .put_stream(
            futures::stream::once(async move { Ok::<_, std::io::Error>(owned) }),
            MAX_MANIFEST_SIZE as u64,
        )
        .await?;
    let mut metadata = parsed.metadata(digest, bytes.len());
    let summary = config_summary(ctx, &referenced, parsed).await;
    if !summary.is_null() {
        metadata["config"] = summary;
    }
    let mut files = vec![NewFile {
        filename: digest.to_owned(),
        content_type: parsed.media_type.clone(),
        size: i64::try_from(stored.size).unwrap_or(i64::MAX),
        md5: stored.md5,
        sha1: stored.sha1,
        sha256: stored.sha256,
        sha512: stored.sha512,
    }];
    files.extend(referenced.into_iter().filter(|f| f.filename != digest));
    let slug = SlugPerm::generate();
    let followups = gantry_protocol::pipeline::after_sync(
        app,
        ID,
        &repo.namespace,
        repo.id,
        slug.as_str(),
        origin.followup_reason(),
    )
    .await?;
    let mut created = origin.event(EventType::PackageCreated);
    created.context = json!({"filename": digest, "size": bytes.len()});
    let new = NewPackage {
        slug_perm: slug.to_string(),
        repository_id: repo.id,
        format: gantry_core::FormatId::parse(ID).map_err(OciError::internal)?,
        name: ctx.scope.image.clone(),
        normalized_name: ctx.scope.image.clone(),
        version: version.to_owned(),
        qualifier: String::new(),
        sync_status: SyncStatus::Completed,
        status_reason: None,
        uploader: origin.actor.clone(),
        origin_repository: repo.slug(),
        metadata,
        declared: json!({"name": ctx.scope.image, "version": version, "filename": digest}),
        files,
        tags: Vec::new(),
        scan_status: if followups.scan {
            gantry_core::ScanStatus::AwaitingScan
        } else {
            gantry_core::ScanStatus::NotSupported
        },
        source: origin.source().into(),
        upstream_name: origin.upstream.clone(),
    };
    let events = [created, origin.event(EventType::PackageSynced)];
    app.db
        .insert_package(&new, repo, &events, false, &followups.jobs)
        .await?;
    if !followups.jobs.is_empty() {
        app.wake_workers();
    }
    Ok(())
}
