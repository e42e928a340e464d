//! Pull-through: an image a repository does not hold is fetched from the repository's OCI
//! upstreams (in priority order) and stored — its blobs, its manifest and, for an index,
//! every child manifest — as packages of source `upstream`, then served from the store like
//! any pushed image (so quarantine, scanning, policies and promotion apply unchanged). A tag
//! cached so is checked at its upstream again once older than the upstream's TTL, and keeps
//! being served while the upstream is down. Both modes store: an image is a graph of blobs
//! that is served from the store.

use futures::StreamExt;
use gantry_db::{PackageRow, RepoRow, UpstreamRow};
use gantry_protocol::ingest::Origin;

use super::error::{Code, OciError, OciResult};
use super::manifests::{tagged, Reference};
use super::{blobs, digest, Ctx};
use crate::pure::manifest::{self, ManifestError};
use crate::pure::{Digest, ID};
use crate::queries::OciQueries;
use crate::upstream::{Remote, RemoteManifest};

/// Most child manifests of an upstream index fetched.
const MAX_CHILDREN: usize = 64;

/// Fetches the manifest `reference` of the request's image from the first upstream that has
/// it; whether one had it. An upstream that fails is skipped; when none had it and one
/// failed, that failure is the answer (a 502), not a "manifest unknown".
pub(crate) async fn manifest(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    reference: &Reference,
) -> OciResult<bool> {
    let upstreams = gantry_protocol::caches::upstreams(ctx.app, repo.id, ID).await?;
    let mut failure = None;
    for upstream in upstreams.iter() {
        match fetch(ctx, repo, upstream, reference).await {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(upstream = %upstream.name, image = %ctx.scope.image, error = %error.message, "pull-through failed");
                failure = Some(error);
            }
        }
    }
    failure.map_or(Ok(false), Err)
}

/// The request's blob `digest` from the first upstream that has it, stored and linked to
/// the image; whether one had it.
pub(crate) async fn blob(ctx: &Ctx<'_>, repo: &RepoRow, digest: &str) -> OciResult<bool> {
    let upstreams = gantry_protocol::caches::upstreams(ctx.app, repo.id, ID).await?;
    for upstream in upstreams.iter() {
        let mut remote = Remote::new(ctx.app, upstream, &ctx.scope.image)?;
        match fetch_blob(ctx, repo, &mut remote, digest).await {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(upstream = %upstream.name, digest, error = %error.message, "pull-through of a blob failed");
            }
        }
    }
    Ok(false)
}

/// Checks a tag cached from an upstream there again once its TTL has passed, and moves it
/// when the upstream's tag names another manifest now; whether anything changed. Failures
/// are logged and leave the cached tag as it is.
pub(crate) async fn refresh(ctx: &Ctx<'_>, repo: &RepoRow, package: &PackageRow) -> bool {
    let Some(name) = package.upstream_name.as_deref() else {
        return false;
    };
    let Ok(upstreams) = gantry_protocol::caches::upstreams(ctx.app, repo.id, ID).await else {
        return false;
    };
    let Some(upstream) = upstreams.iter().find(|u| u.name == name) else {
        return false;
    };
    let age = gantry_core::time::now_millis() - package.updated_at;
    if age < upstream.index_ttl_seconds.saturating_mul(1000) {
        return false;
    }
    let current = package.primary_file().map(|f| f.filename.clone());
    match check_again(ctx, repo, upstream, package, current.as_deref()).await {
        Ok(moved) => moved,
        Err(error) => {
            tracing::warn!(upstream = %upstream.name, tag = %package.version, error = %error.message, "cached tag kept: the upstream could not be checked");
            false
        }
    }
}

async fn check_again(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    upstream: &UpstreamRow,
    package: &PackageRow,
    current: Option<&str>,
) -> OciResult<bool> {
    let mut remote = Remote::new(ctx.app, upstream, &ctx.scope.image)?;
    let Some(found) = remote.manifest(&package.version).await? else {
        // Gone upstream: the cached copy stays (it may be all that is left of it).
        return Ok(false);
    };
    let digest = Digest::sha256_of(&found.bytes);
    if current == Some(digest.to_string().as_str()) {
        // Unchanged: the check counts as fresh for another TTL.
        ctx.app
            .db
            .oci_set_version(package, &package.version)
            .await?;
        return Ok(false);
    }
    let origin = Origin::upstream(&upstream.name);
    ingest(
        ctx,
        repo,
        &mut remote,
        &origin,
        found,
        &digest,
        &package.version,
        true,
    )
    .await?;
    Ok(true)
}

async fn fetch(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    upstream: &UpstreamRow,
    reference: &Reference,
) -> OciResult<bool> {
    let mut remote = Remote::new(ctx.app, upstream, &ctx.scope.image)?;
    let text = match reference {
        Reference::Tag(tag) => tag.clone(),
        Reference::Digest(d) => d.to_string(),
    };
    let Some(found) = remote.manifest(&text).await? else {
        return Ok(false);
    };
    let digest = match reference {
        Reference::Digest(d) if !d.matches(&found.bytes) => {
            return Err(mismatch(&upstream.name, d));
        }
        Reference::Digest(d) => d.clone(),
        Reference::Tag(_) => Digest::sha256_of(&found.bytes),
    };
    let origin = Origin::upstream(&upstream.name);
    ingest(ctx, repo, &mut remote, &origin, found, &digest, &text, true).await?;
    Ok(true)
}

fn mismatch(upstream: &str, digest: &Digest) -> OciError {
    OciError::new(
        axum::http::StatusCode::BAD_GATEWAY,
        Code::Unavailable,
        format!("upstream {upstream} sent content that is not {digest}"),
    )
}

/// Stores a fetched manifest as the package of `version` after everything it references
/// (blobs; for an index its children, which are fetched one level deep only).
#[allow(clippy::too_many_arguments)]
async fn ingest(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    remote: &mut Remote<'_>,
    origin: &Origin,
    found: RemoteManifest,
    digest: &Digest,
    version: &str,
    children: bool,
) -> OciResult<()> {
    let parsed = manifest::parse(&found.bytes, found.content_type.as_deref()).map_err(|e| {
        let message = match e {
            ManifestError::Schema1 => e.to_string(),
            ManifestError::Invalid(m) => m,
        };
        OciError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            Code::ManifestInvalid,
            format!("the upstream's manifest: {message}"),
        )
    })?;
    if parsed.manifests.len() > MAX_CHILDREN || (!children && parsed.is_index()) {
        return Err(OciError::bad(
            Code::Unsupported,
            format!("upstream indexes are fetched up to {MAX_CHILDREN} platforms, one level deep"),
        ));
    }
    let db = &ctx.app.db;
    let image = &ctx.scope.image;
    for blob in parsed.blobs() {
        if db
            .oci_find_blob(repo.id, image, &blob.digest)
            .await?
            .is_none()
            && !fetch_blob(ctx, repo, remote, &blob.digest).await?
        {
            return Err(OciError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                Code::BlobUnknown,
                format!(
                    "the upstream's manifest names {} that it does not have",
                    blob.digest
                ),
            ));
        }
    }
    for child in &parsed.manifests {
        if db
            .oci_find_manifest(repo.id, image, &child.digest)
            .await?
            .is_some()
        {
            continue;
        }
        let child_digest = super::digest(&child.digest)?;
        let found = remote.manifest(&child.digest).await?.ok_or_else(|| {
            OciError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                Code::ManifestUnknown,
                format!(
                    "the upstream's index names {} that it does not have",
                    child.digest
                ),
            )
        })?;
        if !child_digest.matches(&found.bytes) {
            let name = origin.upstream.as_deref().unwrap_or_default();
            return Err(mismatch(name, &child_digest));
        }
        Box::pin(ingest(
            ctx,
            repo,
            remote,
            origin,
            found,
            &child_digest,
            &child.digest,
            false,
        ))
        .await?;
    }
    super::manifests::save(
        ctx,
        repo,
        origin,
        &parsed,
        &found.bytes,
        &digest.to_string(),
        version,
    )
    .await
}

/// Streams blob `digest` from the upstream into the blob store and links it to the image
/// once its digest checks; whether the upstream had it.
async fn fetch_blob(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    remote: &mut Remote<'_>,
    text: &str,
) -> OciResult<bool> {
    let expected = digest(text)?;
    let Some(response) = remote.blob(text).await? else {
        return Ok(false);
    };
    let metrics = std::sync::Arc::clone(ctx.app);
    let stream = response.bytes_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            metrics.metrics.add_received(bytes.len() as u64);
        }
        chunk.map_err(std::io::Error::other)
    });
    let digests = ctx
        .app
        .blobs
        .put_stream(stream, ctx.app.config.max_upload_size)
        .await?;
    if let Err(error) = blobs::link_verified(ctx, repo.id, &expected, &digests).await {
        super::uploads::discard(ctx, &digests.sha256, "").await;
        return Err(error);
    }
    Ok(true)
}

/// The live package a tag names, refreshed from its upstream when its TTL has passed, or
/// fetched from the upstreams when the repository does not have it.
pub(crate) async fn tag_package(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    tag: &str,
) -> OciResult<Option<PackageRow>> {
    if let Some(package) = tagged(ctx, repo, tag).await? {
        if !refresh(ctx, repo, &package).await {
            return Ok(Some(package));
        }
        return Ok(tagged(ctx, repo, tag).await?.or(Some(package)));
    }
    let pulled = manifest(ctx, repo, &Reference::Tag(tag.to_owned())).await;
    // A concurrent pull of the same tag may have stored it while this one failed.
    match tagged(ctx, repo, tag).await? {
        Some(package) => Ok(Some(package)),
        None => pulled.map(|_| None),
    }
}
