//! Blob uploads: `POST` (a session, a monolithic upload with `?digest=`, or a mount with
//! `?mount=&from=`), `PATCH` chunks with `Content-Range`, `GET` status, `PUT` to finish and
//! `DELETE` to cancel. Every chunk is streamed into the blob store as its own object; the
//! session lists them, so any replica can take the next one, and finishing streams them
//! once more, in order, into the final content-addressed blob while hashing.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use gantry_db::RepoRow;

use crate::queries::{OciQueries, OciUploadRow};
use gantry_protocol::access::Op;

use super::blobs::{created, link_verified};
use super::error::{Code, OciError, OciResult};
use super::{digest, empty, Ctx};
use crate::pure::Digest;

/// The chunk size clients are asked to send at least (except the last): every chunk is an
/// object in the store, so tiny chunks cost a round trip each. Smaller ones are accepted.
const CHUNK_MIN_LENGTH: u64 = 1024 * 1024;

/// A session nobody wrote to for this long is abandoned; its chunks are dropped.
const SESSION_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Abandoned sessions ended per new session, so the work stays small and bounded.
const EXPIRE_BATCH: i64 = 16;

/// `POST /v2/<name>/blobs/uploads/`.
pub(crate) async fn start(ctx: &Ctx<'_>, body: Body) -> OciResult<Response> {
    let repo = ctx.repo(Op::Push).await?;
    if let (Some(mount), Some(from)) = (ctx.param("mount"), ctx.param("from")) {
        let mount = digest(&mount)?;
        if mount_from(ctx, &repo, &mount, &from).await? {
            return created(ctx, &mount);
        }
        // Not mountable (unknown, or not readable by the caller): an ordinary session, as the
        // specification asks.
    } else if let Some(expected) = ctx.param("digest") {
        let expected = digest(&expected)?;
        let digests = store(ctx, body, ctx.app.config.max_upload_size).await?;
        finish_stored(ctx, &repo, &expected, &digests).await?;
        return created(ctx, &expected);
    }
    expire_abandoned(ctx).await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    ctx.app
        .db
        .oci_upload_create(&id, repo.id, &ctx.scope.image)
        .await?;
    empty(
        StatusCode::ACCEPTED,
        &[
            ("location", location(ctx, &id)),
            ("range", "0-0".to_owned()),
            ("docker-upload-uuid", id.clone()),
            ("oci-chunk-min-length", CHUNK_MIN_LENGTH.to_string()),
        ],
    )
}

fn location(ctx: &Ctx<'_>, id: &str) -> String {
    format!("/v2/{}/blobs/uploads/{id}", ctx.scope.full_name())
}

/// Links a blob of another image (`from`, a full name) the caller may read; whether it did.
async fn mount_from(ctx: &Ctx<'_>, repo: &RepoRow, digest: &Digest, from: &str) -> OciResult<bool> {
    let mut parts = from.splitn(3, '/');
    let (Some(owner), Some(name), Some(image)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(false);
    };
    let Ok(source) =
        gantry_protocol::repo::load_repo(ctx.app, &ctx.scope.caller, owner, name, Op::Read).await
    else {
        return Ok(false);
    };
    let Some(object) = ctx
        .app
        .db
        .oci_find_blob(source.id, image, &digest.to_string())
        .await?
    else {
        return Ok(false);
    };
    if super::blobs::check_available(&object).is_err() {
        return Ok(false);
    }
    let file = object.as_file(&digest.to_string(), crate::queries::OCI_BLOB_CONTENT_TYPE);
    ctx.app
        .db
        .oci_link_blob(repo.id, &ctx.scope.image, &digest.to_string(), &file)
        .await?;
    Ok(true)
}

/// Streams `body` into the blob store (bounded by `limit`).
async fn store(ctx: &Ctx<'_>, body: Body, limit: u64) -> OciResult<gantry_blobs::Digests> {
    let metrics = std::sync::Arc::clone(ctx.app);
    let stream = body.into_data_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            metrics.metrics.add_received(bytes.len() as u64);
        }
        chunk
    });
    Ok(ctx.app.blobs.put_stream(stream, limit).await?)
}

/// Links stored bytes as `expected`, or drops them when they are not what it says.
async fn finish_stored(
    ctx: &Ctx<'_>,
    repo: &RepoRow,
    expected: &Digest,
    digests: &gantry_blobs::Digests,
) -> OciResult<()> {
    let linked = link_verified(ctx, repo.id, expected, digests).await;
    if linked.is_err() {
        discard(ctx, &digests.sha256, "").await;
    }
    linked
}

/// Removes a stored object nothing needs (a chunk of a finished session, rejected bytes).
pub(crate) async fn discard(ctx: &Ctx<'_>, sha256: &str, session: &str) {
    match ctx.app.db.oci_object_needed(sha256, session).await {
        Ok(false) => {
            if let Err(error) = ctx.app.blobs.delete(sha256).await {
                tracing::warn!(%error, sha256, "cannot remove an unneeded upload object");
            }
        }
        Ok(true) => {}
        Err(error) => tracing::warn!(%error, sha256, "cannot check an upload object"),
    }
}

/// The session `id` of this image, for `op`.
async fn session(ctx: &Ctx<'_>, id: &str, op: Op) -> OciResult<(RepoRow, OciUploadRow)> {
    let repo = ctx.repo(op).await?;
    let unknown = || {
        OciError::not_found(
            Code::BlobUploadUnknown,
            format!(
                "upload {} is not in progress",
                gantry_core::names::quote_prefix(id, 64)
            ),
        )
    };
    let upload = ctx.app.db.oci_upload_get(id).await?.ok_or_else(unknown)?;
    if upload.repository_id != repo.id || upload.name != ctx.scope.image {
        return Err(unknown());
    }
    Ok((repo, upload))
}

fn progress_headers(
    ctx: &Ctx<'_>,
    upload: &OciUploadRow,
    size: i64,
) -> Vec<(&'static str, String)> {
    vec![
        ("location", location(ctx, &upload.id)),
        ("range", format!("0-{}", (size - 1).max(0))),
        ("docker-upload-uuid", upload.id.clone()),
    ]
}

/// `GET` of a session: how much it holds.
pub(crate) async fn status(ctx: &Ctx<'_>, id: &str) -> OciResult<Response> {
    let (_, upload) = session(ctx, id, Op::Push).await?;
    empty(
        StatusCode::NO_CONTENT,
        &progress_headers(ctx, &upload, upload.size),
    )
}

/// `Content-Range: <start>-<end>` of a chunk, if sent.
fn content_range(ctx: &Ctx<'_>) -> OciResult<Option<(u64, u64)>> {
    let Some(value) = ctx.header("content-range") else {
        return Ok(None);
    };
    let value = value
        .trim()
        .trim_start_matches("bytes")
        .trim_start_matches([' ', '=']);
    let value = value.split('/').next().unwrap_or(value);
    let parsed = value
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    match parsed {
        Some((start, end)) if end >= start => Ok(Some((start, end))),
        _ => Err(OciError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            Code::RangeInvalid,
            "invalid Content-Range",
        )),
    }
}

/// Stores a chunk and appends it to the session; the session as it is afterwards.
async fn append(ctx: &Ctx<'_>, upload: OciUploadRow, body: Body) -> OciResult<OciUploadRow> {
    let out_of_order = |upload: &OciUploadRow| {
        OciError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            Code::RangeInvalid,
            format!(
                "the upload holds {} bytes; chunks must continue from there",
                upload.size
            ),
        )
        .with_header("range", format!("0-{}", (upload.size - 1).max(0)))
        .with_header("location", location(ctx, &upload.id))
    };
    let range = content_range(ctx)?;
    if range.is_some_and(|(start, _)| start != u64::try_from(upload.size).unwrap_or(0)) {
        return Err(out_of_order(&upload));
    }
    let held = u64::try_from(upload.size).unwrap_or(0);
    let limit = ctx.app.config.max_upload_size.saturating_sub(held);
    let digests = store(ctx, body, limit).await?;
    if let Some((start, end)) = range {
        if end - start + 1 != digests.size {
            discard(ctx, &digests.sha256, "").await;
            return Err(out_of_order(&upload));
        }
    }
    if digests.size == 0 {
        return Ok(upload);
    }
    let size = i64::try_from(digests.size).unwrap_or(i64::MAX);
    if !ctx
        .app
        .db
        .oci_upload_append(&upload, &digests.sha256, size)
        .await?
    {
        discard(ctx, &digests.sha256, "").await;
        let now = ctx
            .app
            .db
            .oci_upload_get(&upload.id)
            .await?
            .unwrap_or(upload);
        return Err(out_of_order(&now));
    }
    Ok(OciUploadRow {
        size: upload.size + size,
        chunks: upload.chunks + 1,
        ..upload
    })
}

/// `PATCH` of a chunk.
pub(crate) async fn patch(ctx: &Ctx<'_>, id: &str, body: Body) -> OciResult<Response> {
    let (_, upload) = session(ctx, id, Op::Push).await?;
    let upload = append(ctx, upload, body).await?;
    empty(
        StatusCode::ACCEPTED,
        &progress_headers(ctx, &upload, upload.size),
    )
}

/// `PUT ?digest=`: the last chunk (if any) and the end of the session.
pub(crate) async fn finish(ctx: &Ctx<'_>, id: &str, body: Body) -> OciResult<Response> {
    let (repo, upload) = session(ctx, id, Op::Push).await?;
    let expected = digest(&ctx.param("digest").unwrap_or_default())?;
    let upload = append(ctx, upload, body).await?;
    let chunks = ctx.app.db.oci_upload_chunks(&upload.id).await?;
    let parts: Vec<String> = chunks.iter().map(|(sha, _)| sha.clone()).collect();
    let stream = concatenated(ctx.app.blobs.clone(), parts.clone());
    let digests = ctx
        .app
        .blobs
        .put_stream(stream, ctx.app.config.max_upload_size)
        .await?;
    let outcome = finish_stored(ctx, &repo, &expected, &digests).await;
    ctx.app.db.oci_upload_delete(&upload.id).await?;
    for sha in parts.iter().filter(|s| **s != digests.sha256) {
        discard(ctx, sha, &upload.id).await;
    }
    outcome?;
    created(ctx, &expected)
}

/// The stored chunks `parts`, one after the other, as one stream.
fn concatenated(
    blobs: gantry_blobs::BlobStore,
    parts: Vec<String>,
) -> BoxStream<'static, Result<Bytes, gantry_blobs::BlobError>> {
    type Current = Option<BoxStream<'static, Result<Bytes, gantry_blobs::BlobError>>>;
    let state: (
        gantry_blobs::BlobStore,
        std::collections::VecDeque<String>,
        Current,
    ) = (blobs, parts.into(), None);
    futures::stream::unfold(state, |(blobs, mut queue, mut current)| async move {
        loop {
            if let Some(stream) = current.as_mut() {
                if let Some(item) = stream.next().await {
                    return Some((item, (blobs, queue, current)));
                }
            }
            let sha = queue.pop_front()?;
            match blobs.get(&sha, None).await {
                Ok(reader) => current = Some(reader.stream),
                Err(e) => return Some((Err(e), (blobs, std::collections::VecDeque::new(), None))),
            }
        }
    })
    .boxed()
}

/// Ends a few sessions abandoned for longer than [`SESSION_TTL_MS`]: each new session pays
/// for the cleanup of old ones, so no scheduler is needed. Failures only delay it.
async fn expire_abandoned(ctx: &Ctx<'_>) {
    let before = gantry_core::time::now_millis() - SESSION_TTL_MS;
    let stale = match ctx.app.db.oci_stale_uploads(before, EXPIRE_BATCH).await {
        Ok(stale) => stale,
        Err(error) => {
            tracing::warn!(%error, "cannot list abandoned upload sessions");
            return;
        }
    };
    for id in stale {
        let chunks = ctx.app.db.oci_upload_chunks(&id).await.unwrap_or_default();
        if let Err(error) = ctx.app.db.oci_upload_delete(&id).await {
            tracing::warn!(%error, id, "cannot end an abandoned upload session");
            continue;
        }
        for (sha, _) in chunks {
            discard(ctx, &sha, &id).await;
        }
        tracing::info!(id, "abandoned upload session expired");
    }
}

/// `DELETE` of a session.
pub(crate) async fn cancel(ctx: &Ctx<'_>, id: &str) -> OciResult<Response> {
    let (_, upload) = session(ctx, id, Op::Push).await?;
    let chunks = ctx.app.db.oci_upload_chunks(&upload.id).await?;
    ctx.app.db.oci_upload_delete(&upload.id).await?;
    for (sha, _) in chunks {
        discard(ctx, &sha, &upload.id).await;
    }
    empty(StatusCode::NO_CONTENT, &[])
}
