//! Manifests (`GET`, `HEAD`, `PUT`, `DELETE /v2/<name>/manifests/<reference>`), the tag list
//! and the referrers API. A manifest is a package: its version is the tag it was pushed with,
//! or its digest; its files are the manifest and everything it references, by digest.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_core::{EventType, PackageState};
use gantry_db::{PackageRow, RepoRow};

use crate::queries::{OciObject, OciQueries};
use gantry_protocol::access::Op;
use serde_json::{json, Value};

use super::error::{Code, OciError, OciResult};
use super::{blobs, digest, empty, Ctx};
use crate::pure::manifest::OCI_INDEX;
use crate::pure::{valid_tag, Digest, ID};

mod push;

pub(crate) use push::{put, save};

/// A reference: a tag or a digest.
pub(crate) enum Reference {
    Tag(String),
    Digest(Digest),
}

pub(crate) fn reference(text: &str) -> OciResult<Reference> {
    if text.contains(':') {
        return Ok(Reference::Digest(digest(text)?));
    }
    if valid_tag(text) {
        return Ok(Reference::Tag(text.to_owned()));
    }
    Err(OciError::bad(
        Code::ManifestInvalid,
        format!(
            "invalid tag '{}'",
            gantry_core::names::quote_prefix(text, 130)
        ),
    ))
}

fn unknown(ctx: &Ctx<'_>, reference: &str) -> OciError {
    OciError::not_found(
        Code::ManifestUnknown,
        format!(
            "manifest {} is not in {}",
            gantry_core::names::quote_prefix(reference, 140),
            ctx.scope.full_name()
        ),
    )
}

/// The live package a tag names.
pub(crate) async fn tagged(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    tag: &str,
) -> OciResult<Option<PackageRow>> {
    Ok(ctx
        .app
        .db
        .find_live_package(repo.id, ID, &ctx.scope.image, tag, "")
        .await?)
}

/// What a manifest reference named in a repository when it was last read: kept per cache
/// epoch so that a pull of an unchanged image does no database work (any write, a
/// quarantine included, moves the epoch on).
struct Resolved {
    object: OciObject,
    digest: Digest,
}

/// `GET`/`HEAD` of a manifest by tag or digest.
pub(crate) async fn get(ctx: &Ctx<'_>, method: &Method, text: &str) -> OciResult<Response> {
    let repo = ctx.repo(Op::Read).await?;
    let key = format!("oci-manifest|{}|{}|{text}", repo.id, ctx.scope.image);
    let resolved = match ctx.app.caches.memo::<Resolved>(&key) {
        Some(resolved) => resolved,
        None => {
            let epoch = ctx.app.caches.epoch();
            let (resolved, keep) = resolve(ctx, &repo, text).await?;
            let resolved = std::sync::Arc::new(resolved);
            if keep {
                ctx.app
                    .caches
                    .keep_memo(epoch, key, std::sync::Arc::clone(&resolved));
            }
            resolved
        }
    };
    let content_type = resolved.object.content_type.clone();
    blobs::serve(
        ctx,
        method,
        &repo,
        &resolved.object,
        &resolved.digest,
        Some(&content_type),
    )
    .await
}

/// Reads what `text` names, pulling it from an upstream when the repository has none; and
/// whether the answer may be kept until the next change (not when it came from an
/// upstream: a cached tag is checked there again once its TTL passed).
async fn resolve(ctx: &Ctx<'_>, repo: &RepoRow, text: &str) -> OciResult<(Resolved, bool)> {
    // A reference that cannot name anything names nothing that exists.
    let parsed = match reference(text) {
        Err(e) if e.code == Code::ManifestInvalid => return Err(unknown(ctx, text)),
        other => other?,
    };
    let (digest, mut keep) = match &parsed {
        Reference::Digest(d) => (d.clone(), true),
        Reference::Tag(tag) => {
            let package = super::pull::tag_package(ctx, repo, tag)
                .await?
                .ok_or_else(|| unknown(ctx, text))?;
            let file = package.primary_file().ok_or_else(|| unknown(ctx, text))?;
            (digest(&file.filename)?, package.upstream_name.is_none())
        }
    };
    let digest_text = digest.to_string();
    let find = || {
        ctx.app
            .db
            .oci_find_manifest(repo.id, &ctx.scope.image, &digest_text)
    };
    let object = match find().await? {
        Some(object) => object,
        None => {
            keep = false;
            let pulled = match &parsed {
                Reference::Digest(_) => super::pull::manifest(ctx, repo, &parsed).await,
                Reference::Tag(_) => Ok(false),
            };
            match find().await? {
                Some(object) => object,
                None => return Err(pulled.err().unwrap_or_else(|| unknown(ctx, text))),
            }
        }
    };
    Ok((Resolved { object, digest }, keep))
}

/// Takes a tag off its package: the package keeps its manifest under its digest, unless
/// another package holds that digest already (then it is deleted: the digest stays
/// reachable through the other).
pub(crate) async fn untag(ctx: &Ctx<'_>, package: &PackageRow, reason: &str) -> OciResult<()> {
    let digest = package
        .primary_file()
        .map(|f| f.filename.clone())
        .unwrap_or_default();
    let repo_id = package.repository_id;
    let twin = ctx
        .app
        .db
        .oci_packages_by_digest(repo_id, &ctx.scope.image, &digest)
        .await?
        .into_iter()
        .any(|p| p.id != package.id && p.version == digest);
    if twin || ctx.app.db.oci_set_version(package, &digest).await.is_err() {
        let mut event = ctx.scope.caller.event(EventType::PackageDeleted);
        event.context = json!({ "reason": reason });
        ctx.app
            .db
            .set_package_state(package, PackageState::Deleted, Some(reason), &event)
            .await?;
    }
    Ok(())
}

/// `DELETE` of a manifest: by digest, every package of it; by tag, the tag.
pub(crate) async fn delete(ctx: &Ctx<'_>, text: &str) -> OciResult<Response> {
    let repo = ctx.repo(Op::Delete).await?;
    match reference(text)? {
        Reference::Tag(tag) => {
            let package = tagged(ctx, &repo, &tag)
                .await?
                .ok_or_else(|| unknown(ctx, text))?;
            untag(ctx, &package, "tag deleted").await?;
        }
        Reference::Digest(d) => {
            let packages = ctx
                .app
                .db
                .oci_packages_by_digest(repo.id, &ctx.scope.image, &d.to_string())
                .await?;
            if packages.is_empty() {
                return Err(unknown(ctx, text));
            }
            for package in packages {
                let mut event = ctx.scope.caller.event(EventType::PackageDeleted);
                event.context = json!({ "reason": "manifest deleted" });
                ctx.app
                    .db
                    .set_package_state(&package, PackageState::Deleted, None, &event)
                    .await?;
            }
        }
    }
    empty(StatusCode::ACCEPTED, &[])
}

/// `GET /v2/<name>/tags/list?n=&last=`.
pub(crate) async fn tags(ctx: &Ctx<'_>) -> OciResult<Response> {
    let repo = ctx.repo(Op::Read).await?;
    let mut tags: Vec<String> = ctx
        .app
        .db
        .oci_versions(repo.id, &ctx.scope.image)
        .await?
        .into_iter()
        .filter(|v| !v.contains(':'))
        .collect();
    tags.sort();
    tags.dedup();
    if let Some(last) = ctx.param("last") {
        tags.retain(|t| *t > last);
    }
    let n =
        match ctx.param("n") {
            Some(n) => Some(n.parse::<usize>().map_err(|_| {
                OciError::bad(Code::Unsupported, "n must be a non-negative integer")
            })?),
            None => None,
        };
    let mut link = None;
    if let Some(n) = n {
        if tags.len() > n {
            tags.truncate(n);
            if let Some(last) = tags.last() {
                link = Some(format!(
                    "</v2/{}/tags/list?n={n}&last={last}>; rel=\"next\"",
                    ctx.scope.full_name()
                ));
            }
        }
    }
    let body = json!({"name": ctx.scope.full_name(), "tags": tags});
    let mut response = axum::Json(body).into_response();
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert("link", link);
    }
    Ok(response)
}

/// `GET /v2/<name>/referrers/<digest>?artifactType=`: an index of the manifests whose
/// `subject` is the digest.
pub(crate) async fn referrers(ctx: &Ctx<'_>, text: &str) -> OciResult<Response> {
    let repo = ctx.repo(Op::Read).await?;
    let subject = digest(text)?.to_string();
    let filter = ctx.param("artifactType").filter(|t| !t.is_empty());
    let packages = ctx
        .app
        .db
        .oci_packages_mentioning(repo.id, &ctx.scope.image, &subject)
        .await?;
    let mut seen = std::collections::HashSet::new();
    let mut manifests = Vec::new();
    for package in packages {
        let metadata: Value = serde_json::from_str(&package.metadata).unwrap_or_default();
        if metadata["subject"].as_str() != Some(subject.as_str()) {
            continue;
        }
        let Some(file) = package.primary_file() else {
            continue;
        };
        if !seen.insert(file.filename.clone()) {
            continue;
        }
        let artifact_type = metadata["artifact_type"].as_str();
        if filter.as_deref().is_some_and(|f| Some(f) != artifact_type) {
            continue;
        }
        let mut descriptor = json!({
            "mediaType": file.content_type,
            "digest": file.filename,
            "size": file.size,
        });
        if let Some(t) = artifact_type {
            descriptor["artifactType"] = json!(t);
        }
        if metadata["annotations"].is_object() {
            descriptor["annotations"] = metadata["annotations"].clone();
        }
        manifests.push(descriptor);
    }
    let body = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    let mut response = (
        [(axum::http::header::CONTENT_TYPE, OCI_INDEX)],
        Body::from(body.to_string()),
    )
        .into_response();
    if filter.is_some() {
        response.headers_mut().insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(response)
}
