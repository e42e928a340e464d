//! Tarballs of upstream registries, streamed and (in `cache` mode) stored as packages.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use gantry_db::RepoRow;
use gantry_formats::npm::{normalize_version, tarball_filename, validate_name};
use gantry_formats::Declared;

use super::publish::sha512_hex;
use super::{live_version, FORMAT};
use crate::access::Op;
use crate::api::load_repo;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use crate::ingest::{Origin, Upload};

/// `GET /{owner}/{repo}/npm/-/upstream/{upstream}/{package}/{version}`: a tarball an upstream
/// offers. A version cached (or published) here before is served from the repository;
/// otherwise the tarball streams from the upstream, and in `cache` mode is stored on the way
/// as a package of the repository (source `upstream`).
pub(crate) async fn upstream_tarball(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath((owner, repo, upstream_id, package, version)): ApiPath<(
        String,
        String,
        i64,
        String,
        String,
    )>,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    let missing =
        || AppError::NotFound(format!("{package}@{version} not found in {}", repo.slug()));
    validate_name(&package).map_err(|_| missing())?;
    let version = normalize_version(&version).map_err(|_| missing())?;
    // Local versions win, and a lockfile keeps this URL after the tarball was cached.
    if let Some(local) = live_version(&app, &repo, &package, &version).await? {
        let file = local.files.first().cloned().ok_or_else(missing)?;
        return super::super::serve_file(&app, &caller, &method, &headers, &local, &file).await;
    }
    let upstream = app
        .db
        .get_upstream(upstream_id)
        .await?
        .filter(|u| u.repository_id == repo.id && u.format == FORMAT)
        .ok_or_else(missing)?;
    if let Some(token) = caller
        .token()
        .filter(|t| t.kind == crate::auth::ENTITLEMENT)
    {
        if method != Method::HEAD && !app.db.consume_download(token.id).await? {
            return Err(caller.deny(
                AppError::Forbidden(format!(
                    "this entitlement token has used its {} downloads",
                    token.max_downloads.unwrap_or(0)
                )),
                Some(&repo.namespace),
            ));
        }
    }
    let (remote, _) = crate::upstream::npm::packument(&app, &upstream, &package)
        .await
        .map_err(|e| AppError::BadGateway(format!("upstream {} failed: {e}", upstream.name)))?;
    let doc = remote.versions.get(&version).ok_or_else(missing)?;
    let url = doc["dist"]["tarball"]
        .as_str()
        .ok_or_else(missing)?
        .to_owned();
    let expected = Expected {
        sha512: doc["dist"]["integrity"].as_str().and_then(sha512_hex),
        sha1: doc["dist"]["shasum"].as_str().map(str::to_ascii_lowercase),
    };
    app.webhook_deny
        .check(&url)
        .await
        .map_err(|e| AppError::BadGateway(format!("upstream tarball url: {e}")))?;
    let response = crate::upstream::python::request(&app, &upstream, &url)
        .send()
        .await
        .map_err(|e| {
            app.metrics.upstream_failure(&upstream.name);
            AppError::BadGateway(format!("upstream {} failed: {e}", upstream.name))
        })?;
    if !response.status().is_success() {
        app.metrics.upstream_failure(&upstream.name);
        return Err(AppError::BadGateway(format!(
            "upstream {} answered HTTP {} for {package}@{version}",
            upstream.name,
            response.status()
        )));
    }
    let mut out = HeaderMap::new();
    out.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(length) = response.content_length() {
        out.insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    if method == Method::HEAD {
        return Ok((StatusCode::OK, out).into_response());
    }
    let upstream_bytes = response.bytes_stream();
    if upstream.mode != "cache" {
        let metrics_app = Arc::clone(&app);
        let body = upstream_bytes.map(move |chunk| {
            if let Ok(b) = &chunk {
                metrics_app.metrics.add_sent(b.len() as u64);
            }
            chunk
        });
        return Ok((StatusCode::OK, out, Body::from_stream(body)).into_response());
    }
    let rx = tee_into_cache(
        app,
        repo,
        upstream.name.clone(),
        package,
        version,
        expected,
        upstream_bytes,
    );
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Ok((StatusCode::OK, out, Body::from_stream(body)).into_response())
}

/// The digests an upstream's packument promises for a tarball.
struct Expected {
    sha512: Option<String>,
    sha1: Option<String>,
}

impl Expected {
    fn matches(&self, digests: &gantry_blobs::Digests) -> bool {
        self.sha512
            .as_deref()
            .is_none_or(|w| w.eq_ignore_ascii_case(&digests.sha512))
            && self
                .sha1
                .as_deref()
                .is_none_or(|w| w.eq_ignore_ascii_case(&digests.sha1))
    }
}

/// Streams an upstream tarball to the client and into the blob store at once; once complete
/// and matching the packument's digests, it becomes a package. The copy is finished even when
/// the client goes away.
fn tee_into_cache(
    app: Arc<App>,
    repo: RepoRow,
    upstream_name: String,
    package: String,
    version: String,
    expected: Expected,
    mut source: impl futures::Stream<Item = Result<bytes::Bytes, reqwest::Error>>
        + Send
        + Unpin
        + 'static,
) -> tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>> {
    let (client_tx, client_rx) = tokio::sync::mpsc::channel(8);
    let (blob_tx, blob_rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    tokio::spawn(async move {
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
                tracing::warn!(error = %e, %package, %version, "caching an upstream tarball failed");
                return;
            }
        };
        if !expected.matches(&digests) {
            tracing::error!(%package, %version, upstream = %upstream_name, "upstream tarball does not match its packument's integrity; not cached");
            app.metrics.upstream_failure(&upstream_name);
            return;
        }
        let Some(format) = app.formats.get(FORMAT) else {
            return;
        };
        let origin = Origin {
            actor: format!("upstream:{upstream_name}"),
            address: None,
            upstream: Some(upstream_name.clone()),
        };
        let upload = Upload {
            declared: Declared {
                name: Some(package.clone()),
                version: Some(version.clone()),
                filename: tarball_filename(&package, &version),
                ..Declared::default()
            },
            republish: false,
            tags: Vec::new(),
            content_length: None,
            inline: true,
            identical_ok: true,
        };
        if let Err(e) =
            crate::ingest::ingest_blob(&app, &origin, &repo, format, upload, digests, None).await
        {
            tracing::warn!(error = %e, %package, %version, "storing a cached upstream tarball as a package failed");
        }
    });
    client_rx
}
