//! Fetching from upstreams: index pages (cached, served stale while an upstream is down)
//! and files (streamed through, and in `cache` mode stored as packages on the way).

pub(crate) mod cargo;
pub(crate) mod npm;
pub(crate) mod python;

use std::sync::Arc;

use futures::{Stream, StreamExt};
use gantry_db::RepoRow;
use gantry_formats::Declared;

use crate::app::App;
use crate::ingest::{Origin, Upload};

/// Digests a file fetched from an upstream must have, from the upstream's index, before it is
/// cached. Absent ones are not checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expected {
    pub(crate) sha256: Option<String>,
    pub(crate) sha512: Option<String>,
    pub(crate) sha1: Option<String>,
}

impl Expected {
    fn matches(&self, digests: &gantry_blobs::Digests) -> bool {
        let ok = |want: &Option<String>, got: &str| {
            want.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(got))
        };
        ok(&self.sha256, &digests.sha256)
            && ok(&self.sha512, &digests.sha512)
            && ok(&self.sha1, &digests.sha1)
    }
}

/// Streams an upstream file to the client and into the blob store at once (the first
/// download does not wait for the whole file); once complete and matching `expected`, the
/// stored file becomes a package of `repo` with source `upstream`. The copy is finished even
/// when the client goes away. Returns the client's body stream.
pub(crate) fn tee_into_cache(
    app: Arc<App>,
    repo: RepoRow,
    format: &'static str,
    upstream_name: String,
    declared: Declared,
    expected: Expected,
    mut source: impl Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send + Unpin + 'static,
) -> impl Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    let (client_tx, client_rx) = tokio::sync::mpsc::channel(8);
    let (blob_tx, blob_rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    tokio::spawn(async move {
        let filename = declared.filename.clone();
        let limit = app.config.max_upload_size;
        let blob_stream = futures::stream::unfold(blob_rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        let store = app.blobs.put_stream(blob_stream, limit);
        let pump = async {
            while let Some(chunk) = source.next().await {
                match chunk {
                    Ok(bytes) => {
                        app.metrics.add_sent(bytes.len() as u64);
                        // A client that went away does not stop the cache fill.
                        let _ = client_tx.send(Ok(bytes.clone())).await;
                        if blob_tx.send(Ok(bytes)).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let message = format!("upstream stream failed: {e}");
                        let _ = client_tx
                            .send(Err(std::io::Error::other(message.clone())))
                            .await;
                        let _ = blob_tx.send(Err(std::io::Error::other(message))).await;
                        break;
                    }
                }
            }
            drop(blob_tx);
            drop(client_tx);
        };
        let (stored, ()) = futures::join!(store, pump);
        let digests = match stored {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, %filename, "caching an upstream file failed");
                return;
            }
        };
        if !expected.matches(&digests) {
            tracing::error!(%filename, upstream = %upstream_name, got = %digests.sha256, "upstream file does not match the digests of its index; not cached");
            app.metrics.upstream_failure(&upstream_name);
            return;
        }
        let Some(format) = app.formats.get(format) else {
            return;
        };
        let origin = Origin {
            actor: format!("upstream:{upstream_name}"),
            address: None,
            upstream: Some(upstream_name.clone()),
        };
        let upload = Upload {
            declared,
            republish: false,
            tags: Vec::new(),
            content_length: None,
            inline: true,
            identical_ok: true,
        };
        if let Err(e) =
            crate::ingest::ingest_blob(&app, &origin, &repo, format, upload, digests, None).await
        {
            tracing::warn!(error = %e, %filename, "storing a cached upstream file as a package failed");
        }
    });
    futures::stream::unfold(client_rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    })
}
