//! Blobs: `GET`/`HEAD` (with `Range`) and `DELETE /v2/<name>/blobs/<digest>`, and serving any
//! stored object (blob or manifest) by digest.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use gantry_db::{NewFile, RepoRow};

use crate::queries::{OciObject, OciQueries};
use gantry_protocol::access::Op;
use gantry_protocol::serve;

use super::error::{Code, OciError, OciResult};
use super::{digest, empty, Ctx};
use crate::pure::Digest;

/// `GET`/`HEAD` of a blob.
pub(crate) async fn get(ctx: &Ctx<'_>, method: &Method, reference: &str) -> OciResult<Response> {
    let repo = ctx.repo(Op::Read).await?;
    let digest = digest(reference)?;
    let text = digest.to_string();
    // Kept per cache epoch like manifests: an unchanged blob is served with no database work
    // (a quarantine or a deletion moves the epoch on).
    let key = format!("oci-blob|{}|{}|{text}", repo.id, ctx.scope.image);
    let object = match ctx.app.caches.memo::<OciObject>(&key) {
        Some(object) => object,
        None => {
            let epoch = ctx.app.caches.epoch();
            let find = || ctx.app.db.oci_find_blob(repo.id, &ctx.scope.image, &text);
            let mut object = find().await?;
            let found_here = object.is_some();
            if !found_here && super::pull::blob(ctx, &repo, &text).await? {
                object = find().await?;
            }
            let object = std::sync::Arc::new(object.ok_or_else(|| {
                OciError::not_found(
                    Code::BlobUnknown,
                    format!("blob {digest} is not in {}", ctx.scope.full_name()),
                )
            })?);
            if found_here {
                ctx.app
                    .caches
                    .keep_memo(epoch, key, std::sync::Arc::clone(&object));
            }
            object
        }
    };
    serve(ctx, method, &repo, &object, &digest, None).await
}

/// Refuses objects of quarantined packages.
pub(crate) fn check_available(object: &OciObject) -> OciResult<()> {
    if object.state.as_deref() == Some("quarantined") {
        return Err(OciError::new(
            StatusCode::FORBIDDEN,
            Code::Denied,
            format!(
                "package {} is quarantined: {}",
                object.slug_perm.as_deref().unwrap_or("?"),
                object.status_reason.as_deref().unwrap_or("no reason given")
            ),
        ));
    }
    Ok(())
}

/// Serves a stored object by digest through the toolkit (`ETag`, single ranges, `HEAD`,
/// the small-blob cache, entitlement budgets: every body served counts, manifests and blobs
/// alike), with `Docker-Content-Digest`; a bad range answers in the registry's error shape.
pub(crate) async fn serve(
    ctx: &Ctx<'_>,
    method: &Method,
    repo: &RepoRow,
    object: &OciObject,
    digest: &Digest,
    content_type: Option<&str>,
) -> OciResult<Response> {
    check_available(object)?;
    let size = u64::try_from(object.size).unwrap_or(0);
    let mut headers = HeaderMap::new();
    let value = |v: &str| HeaderValue::from_str(v).map_err(OciError::internal);
    let digest_text = digest.to_string();
    headers.insert("docker-content-digest", value(&digest_text)?);
    headers.insert(
        CONTENT_TYPE,
        value(content_type.unwrap_or(crate::queries::OCI_BLOB_CONTENT_TYPE))?,
    );
    let stored = serve::Stored {
        sha256: &object.sha256,
        size,
        etag: format!("\"{digest_text}\""),
        namespace: &repo.namespace,
    };
    let response = serve::serve_stored(
        ctx.app,
        &ctx.scope.caller,
        method,
        ctx.headers,
        &stored,
        headers,
    )
    .await?;
    if response.status() == StatusCode::RANGE_NOT_SATISFIABLE {
        return Err(OciError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            Code::RangeInvalid,
            format!("the range is outside the blob's {size} bytes"),
        )
        .with_header("content-range", format!("bytes */{size}")));
    }
    Ok(response)
}

/// `DELETE` of a blob: removes the image's link to it. The bytes stay while any package
/// refers to them; garbage collection takes them once nothing does.
pub(crate) async fn delete(ctx: &Ctx<'_>, reference: &str) -> OciResult<Response> {
    let repo = ctx.repo(Op::Delete).await?;
    let digest = digest(reference)?;
    let removed = ctx
        .app
        .db
        .oci_unlink_blob(repo.id, &ctx.scope.image, &digest.to_string())
        .await?;
    if !removed {
        return Err(OciError::not_found(
            Code::BlobUnknown,
            format!("blob {digest} is not in {}", ctx.scope.full_name()),
        ));
    }
    empty(StatusCode::ACCEPTED, &[])
}

/// Links stored bytes with `digests` to the image as `digest`, after checking that they are
/// what the digest says.
pub(crate) async fn link_verified(
    ctx: &Ctx<'_>,
    repository_id: i64,
    digest: &Digest,
    digests: &gantry_blobs::Digests,
) -> OciResult<()> {
    if !digest.matches_hex(&digests.sha256, &digests.sha512) {
        return Err(OciError::bad(
            Code::DigestInvalid,
            format!("the content's digest is not {digest}"),
        ));
    }
    let file = NewFile {
        filename: digest.to_string(),
        content_type: crate::queries::OCI_BLOB_CONTENT_TYPE.to_owned(),
        size: i64::try_from(digests.size).unwrap_or(i64::MAX),
        md5: digests.md5.clone(),
        sha1: digests.sha1.clone(),
        sha256: digests.sha256.clone(),
        sha512: digests.sha512.clone(),
    };
    ctx.app
        .db
        .oci_link_blob(repository_id, &ctx.scope.image, &digest.to_string(), &file)
        .await?;
    Ok(())
}

/// `201 Created` for a blob now in the image.
pub(crate) fn created(ctx: &Ctx<'_>, digest: &Digest) -> OciResult<Response> {
    empty(
        StatusCode::CREATED,
        &[
            (
                "location",
                format!("/v2/{}/blobs/{digest}", ctx.scope.full_name()),
            ),
            ("docker-content-digest", digest.to_string()),
        ],
    )
}
