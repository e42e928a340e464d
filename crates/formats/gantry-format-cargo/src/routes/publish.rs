//! `cargo publish`: the length-prefixed body, the crate's own manifest as the source of
//! truth, and cargo's one-spelling-per-name rule.

use super::*;
use gantry_protocol::error::Closing;
use gantry_protocol::extract::UploadTo;

/// Reads a request body piece by piece: the framing of cargo's publish body first, then the
/// rest as a stream.
struct BodyReader<S> {
    stream: S,
    buffer: Vec<u8>,
}

impl<S, E> BodyReader<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    async fn take(&mut self, n: usize) -> AppResult<Vec<u8>> {
        while self.buffer.len() < n {
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    return Err(AppError::BadRequest(format!(
                        "reading the upload failed: {e}"
                    )))
                }
                None => return Err(AppError::BadRequest("the publish body ended early".into())),
            }
        }
        let rest = self.buffer.split_off(n);
        Ok(std::mem::replace(&mut self.buffer, rest))
    }

    async fn take_u32(&mut self) -> AppResult<u32> {
        let bytes = self.take(4).await?;
        let mut le = [0u8; 4];
        le.copy_from_slice(&bytes);
        Ok(u32::from_le_bytes(le))
    }

    /// The next `length` bytes as a stream; it ends early if the body does.
    fn rest(self, length: u64) -> impl Stream<Item = Result<Bytes, String>> + Send
    where
        S: Send + 'static,
        E: Send,
    {
        let first = Bytes::from(self.buffer);
        let state = (Some(first), self.stream, length);
        futures::stream::unfold(state, |(first, mut stream, left)| async move {
            if left == 0 {
                return None;
            }
            let chunk = match first.filter(|b| !b.is_empty()) {
                Some(b) => b,
                None => match stream.next().await? {
                    Ok(b) => b,
                    Err(e) => {
                        return Some((
                            Err(format!("reading the upload failed: {e}")),
                            (None, stream, 0),
                        ))
                    }
                },
            };
            let take = u64::try_from(chunk.len()).unwrap_or(u64::MAX).min(left);
            let piece = chunk.slice(..usize::try_from(take).unwrap_or(chunk.len()));
            Some((Ok(piece), (None, stream, left - take)))
        })
    }
}

/// `PUT /{owner}/{repo}/cargo/api/v1/crates/new`: `cargo publish`. The body is the
/// publish metadata (JSON, length-prefixed) and the `.crate` (length-prefixed), which is
/// streamed into the blob store and then checked against the metadata.
pub(crate) async fn publish(
    UploadTo { app, caller, repo }: UploadTo<op::Push>,
    request: axum::extract::Request,
) -> Result<Response, Closing> {
    let (app, caller) = (&app, &caller);
    let repo: RepoRow = repo.into_row();
    let limit = app.config.max_upload_size;
    let mut reader = BodyReader {
        stream: request.into_body().into_data_stream(),
        buffer: Vec::new(),
    };
    let json_len = reader.take_u32().await?;
    if json_len > MAX_PUBLISH_JSON {
        return Err(AppError::PayloadTooLarge(format!(
            "the publish metadata is larger than {MAX_PUBLISH_JSON} bytes"
        ))
        .into());
    }
    let raw = reader
        .take(usize::try_from(json_len).map_err(AppError::internal)?)
        .await?;
    let publish: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|e| AppError::BadRequest(format!("the publish metadata is not JSON: {e}")))?;
    let name = publish["name"].as_str().unwrap_or_default().to_owned();
    let version = publish["vers"].as_str().unwrap_or_default().to_owned();
    if !valid_crate_name(&name) {
        return Err(AppError::BadRequest(format!(
            "'{name}' is not a valid crate name (ASCII letters, digits, '-' and '_', starting with a letter, at most 64 characters)"
        )).into());
    }
    parse_version(&version)?;
    let crate_len = u64::from(reader.take_u32().await?);
    if crate_len > limit {
        return Err(AppError::PayloadTooLarge(format!(
            "the crate exceeds the maximum size of {limit} bytes"
        ))
        .into());
    }
    check_new_version(app, &repo, &name, &version).await?;
    let metrics_app = Arc::clone(app);
    let body = reader.rest(crate_len).map(move |chunk| {
        if let Ok(bytes) = &chunk {
            metrics_app.metrics.add_received(bytes.len() as u64);
        }
        chunk
    });
    let digests = app.blobs.put_stream(body, limit).await?;
    if digests.size != crate_len {
        return Err(AppError::BadRequest(format!(
            "the publish body holds {} bytes of crate, its header says {crate_len}",
            digests.size
        ))
        .into());
    }
    let manifest = read_stored_crate(app, &digests.sha256).await?;
    crate::pure::check_publish_metadata(&publish, &manifest)?;
    let format = app
        .formats
        .get(FORMAT)
        .ok_or_else(|| AppError::internal("cargo format missing"))?;
    let origin = Origin::caller(caller);
    let declared = Declared {
        name: Some(name.clone()),
        version: Some(version.clone()),
        filename: format!("{name}-{version}.crate"),
        ..Declared::default()
    };
    let upload = Upload::inline(declared, false);
    ingest_blob(app, &origin, &repo, format, upload, digests, None).await?;
    tracing::info!(repository = %repo.slug(), crate_name = %name, %version, "crate published");
    Ok(ok_json(&serde_json::json!({
        "warnings": { "invalid_categories": [], "invalid_badges": [], "other": [] }
    })))
}

/// One spelling per crate: `name` may not join versions stored under another spelling.
fn refuse_other_spelling(
    repo: &RepoRow,
    name: &str,
    existing: &[(String, String)],
) -> AppResult<()> {
    if let Some((other, _)) = existing.iter().find(|(n, _)| n != name) {
        return Err(AppError::Conflict(format!(
            "crate '{name}' would duplicate the existing crate '{other}' in {} (names are compared ignoring case and '-'/'_')",
            repo.slug()
        )));
    }
    Ok(())
}

/// The spelling rule for crates that arrive by other paths than `cargo publish` (`gantry
/// push cargo`, the REST upload).
pub(crate) async fn check_spelling(app: &App, repo: &RepoRow, name: &str) -> AppResult<()> {
    let existing = app
        .db
        .name_versions(repo.id, FORMAT, &normalize(name))
        .await?;
    refuse_other_spelling(repo, name, &existing)
}

/// cargo's uniqueness rules: one spelling per crate (names equal but for case and `-`/`_`
/// are one crate), and one version per version number, build metadata aside.
async fn check_new_version(
    app: &Arc<App>,
    repo: &RepoRow,
    name: &str,
    version: &str,
) -> AppResult<()> {
    let existing = app
        .db
        .name_versions(repo.id, FORMAT, &normalize(name))
        .await?;
    refuse_other_spelling(repo, name, &existing)?;
    let wanted = build_less(version);
    if existing.iter().any(|(_, v)| build_less(v) == wanted) {
        return Err(AppError::Conflict(format!(
            "crate {name}@{version} already exists in {}; a published version cannot be replaced",
            repo.slug()
        )));
    }
    Ok(())
}

async fn read_stored_crate(app: &Arc<App>, sha256: &str) -> AppResult<crate::pure::Manifest> {
    let (file, _guard) = app.blobs.open_file(sha256, &app.scratch_dir()).await?;
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        crate::pure::read_crate(&mut file)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::from)
}
