//! Fetching from upstreams: index pages (cached, served stale while an upstream is down)
//! and files (streamed through, and in `cache` mode stored as packages on the way).

use std::sync::Arc;

use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use gantry_db::{RepoRow, UpstreamRow};
use gantry_formats::Declared;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::ingest::{Origin, Upload};

/// A file of an upstream, as a native route serves it.
pub struct RemoteFile {
    pub format: &'static str,
    /// Where the upstream serves it.
    pub url: String,
    /// What it is called in error messages (`name@version`, a filename).
    pub what: String,
    pub content_type: &'static str,
    /// How it is stored when cached.
    pub declared: Declared,
    pub expected: Expected,
}

/// A GET of `url` at an upstream, checked against the outbound rules and connected to the
/// address the check looked at (a DNS answer that changes between the check and the
/// connection cannot redirect it), with the upstream's credentials when `url` is on the
/// upstream's own origin (not on file hosts it links to).
pub async fn request(
    app: &App,
    upstream: &UpstreamRow,
    url: &str,
) -> Result<reqwest::RequestBuilder, gantry_webhooks::TargetError> {
    let builder = pinned(app, url).await?;
    let same_origin = url::Url::parse(url)
        .ok()
        .zip(url::Url::parse(&upstream.url).ok())
        .is_some_and(|(a, b)| a.origin() == b.origin());
    Ok(match (&upstream.username, same_origin) {
        (Some(user), true) => builder.basic_auth(user, upstream.password.as_deref()),
        _ => builder,
    })
}

/// A GET of `url` checked against the outbound rules and connected to the checked address,
/// without credentials: for protocols that choose per request what to present (a registry's
/// bearer token, or Basic credentials to its token service).
pub async fn pinned(
    app: &App,
    url: &str,
) -> Result<reqwest::RequestBuilder, gantry_webhooks::TargetError> {
    let resolved = app.outbound.resolve(url).await?;
    let builder = match resolved.pinned {
        None => app.http.get(url),
        Some((host, addr)) => match gantry_webhooks::client_builder()
            .resolve(&host, addr)
            .build()
        {
            Ok(client) => client.get(url),
            // Building a client only fails when TLS cannot initialise; the shared client
            // would fail the same way, so use it and let the request report the error.
            Err(_) => app.http.get(url),
        },
    };
    Ok(builder)
}

/// How long an upstream may take to send an index document.
pub const DOCUMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// An index document (a simple page, a packument, an index file) read from an upstream.
pub struct Document {
    pub body: Vec<u8>,
    /// Where it was read from after redirects: the base of its relative links.
    pub url: String,
    pub content_type: Option<String>,
}

/// GETs an index document from an upstream with the pinned client, at most `max` bytes:
/// `Ok(None)` when the upstream has no such document (404 or 410); an error naming the URL
/// for anything else that went wrong.
pub async fn fetch_document(
    app: &App,
    upstream: &UpstreamRow,
    url: &str,
    accept: &str,
    max: usize,
) -> Result<Option<Document>, String> {
    let response = request(app, upstream, url)
        .await
        .map_err(|e| e.to_string())?
        .header(axum::http::header::ACCEPT, accept)
        .timeout(DOCUMENT_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {status}"));
    }
    let final_url = response.url().to_string();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("reading {url}: {e}"))?;
        if body.len() + chunk.len() > max {
            return Err(format!("{url} is larger than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(Document {
        body,
        url: final_url,
        content_type,
    }))
}

/// A document of `upstream` kept in its index cache under `key`: answered from the cache while
/// younger than the upstream's TTL, else fetched anew and kept. When the fetch fails, the kept
/// copy is answered however old (the outage counted and logged); only without one does the
/// error reach the caller.
pub async fn cached_document<F, Fut>(
    app: &App,
    upstream: &UpstreamRow,
    key: &str,
    fetch: F,
) -> Result<String, String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    cached_document_at(app, upstream, key, fetch)
        .await
        .map(|(body, _)| body)
}

/// [`cached_document`] with the time (milliseconds) the answered copy was fetched, for
/// callers that keep it in memory until it is as old as the upstream's TTL.
pub async fn cached_document_at<F, Fut>(
    app: &App,
    upstream: &UpstreamRow,
    key: &str,
    fetch: F,
) -> Result<(String, i64), String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let kept = app
        .db
        .upstream_cache_get(upstream.id, key)
        .await
        .map_err(|e| e.to_string())?;
    let ttl_millis = upstream.index_ttl_seconds.saturating_mul(1000);
    if let Some((body, fetched_at)) = &kept {
        if gantry_core::time::now_millis() - fetched_at < ttl_millis {
            return Ok((body.clone(), *fetched_at));
        }
    }
    let fetched_at = gantry_core::time::now_millis();
    let error = match fetch().await {
        Ok(fresh) => {
            if let Err(e) = app.db.upstream_cache_put(upstream.id, key, &fresh).await {
                tracing::warn!(error = %e, upstream = %upstream.name, key, "keeping an upstream document failed");
            }
            return Ok((fresh, fetched_at));
        }
        Err(error) => error,
    };
    app.metrics.upstream_failure(&upstream.name);
    tracing::warn!(upstream = %upstream.name, key, %error, stale = kept.is_some(), "upstream document fetch failed");
    kept.ok_or(error)
}

/// A text document of `upstream` at `url` (at most `max` bytes, asked for as `accept`)
/// through [`cached_document_at`] under `key`, with when it was fetched: `None` when the
/// upstream has no such document (404 or 410), an answer kept for the TTL like a found one.
/// For index documents read as UTF-8 text (module lists, compact indexes, Maven metadata).
pub async fn cached_text(
    app: &App,
    upstream: &UpstreamRow,
    key: &str,
    url: &str,
    accept: &str,
    max: usize,
) -> Result<(Option<String>, i64), String> {
    let (kept, fetched_at) = cached_document_at(app, upstream, key, || async {
        match fetch_document(app, upstream, url, accept, max).await? {
            None => Ok("-".to_owned()),
            Some(doc) => String::from_utf8(doc.body)
                .map(|body| format!("+{body}"))
                .map_err(|_| format!("{url} is not UTF-8")),
        }
    })
    .await?;
    Ok((kept.strip_prefix('+').map(str::to_owned), fetched_at))
}

/// A kind of text document a format reads from its upstreams (compact indexes, module lists,
/// feed documents): what it asks for and how large one may be.
pub struct TextDocuments {
    /// The `Accept` header sent.
    pub accept: &'static str,
    /// Largest document read, in bytes.
    pub max: usize,
}

impl TextDocuments {
    /// The text of the document at `url`, kept under `key` for the upstream's TTL and
    /// answered stale while the upstream is down ([`cached_text`]); `None` when the upstream
    /// has no such document.
    pub async fn get(
        &self,
        app: &App,
        upstream: &UpstreamRow,
        key: &str,
        url: &str,
    ) -> Result<Option<String>, String> {
        cached_text(app, upstream, key, url, self.accept, self.max)
            .await
            .map(|(kept, _)| kept)
    }
}

/// `tail` under the upstream's configured base URL, one `/` between them.
pub fn url_under(upstream: &UpstreamRow, tail: &str) -> String {
    format!("{}/{tail}", upstream.url.trim_end_matches('/'))
}

/// Fetches an upstream file (the URL checked against the deny list) and streams it to the
/// client (counted against an entitlement's download budget like a local file); in `cache` mode it is stored as a package on the way ([`tee_into_cache`]). A
/// failing upstream is a 502, logged and counted.
pub async fn serve_file(
    app: Arc<App>,
    caller: &Caller,
    repo: RepoRow,
    upstream: &UpstreamRow,
    method: &Method,
    file: RemoteFile,
) -> AppResult<Response> {
    // Charged before the upstream is asked, so a spent budget costs the upstream nothing.
    if method != Method::HEAD {
        crate::serve::charge_download(&app, caller, &repo.namespace).await?;
    }
    let response = open_file(&app, upstream, &file.url, &file.what)
        .await?
        .ok_or_else(|| {
            app.metrics.upstream_failure(&upstream.name);
            AppError::BadGateway(format!(
                "upstream {} answered HTTP 404 Not Found for {}",
                upstream.name, file.what
            ))
        })?;
    let mut out = HeaderMap::new();
    out.insert(CONTENT_TYPE, HeaderValue::from_static(file.content_type));
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
        return Ok((StatusCode::OK, out, axum::body::Body::from_stream(body)).into_response());
    }
    let body = tee_into_cache(
        app,
        repo,
        file.format,
        upstream.name.clone(),
        file.declared,
        file.expected,
        upstream_bytes,
    );
    Ok((StatusCode::OK, out, axum::body::Body::from_stream(body)).into_response())
}

/// The response of an upstream to a GET of a file (`what` in messages): `None` when it has
/// no such file (404); a 502, logged and counted, when it cannot be reached or answers
/// anything else.
pub async fn open_file(
    app: &App,
    upstream: &UpstreamRow,
    url: &str,
    what: &str,
) -> AppResult<Option<reqwest::Response>> {
    let response = request(app, upstream, url)
        .await
        .map_err(|e| AppError::BadGateway(format!("upstream file url: {e}")))?
        .send()
        .await
        .map_err(|e| {
            app.metrics.upstream_failure(&upstream.name);
            AppError::BadGateway(format!("upstream {} failed: {e}", upstream.name))
        })?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !response.status().is_success() {
        app.metrics.upstream_failure(&upstream.name);
        return Err(AppError::BadGateway(format!(
            "upstream {} answered HTTP {} for {what}",
            upstream.name,
            response.status(),
        )));
    }
    Ok(Some(response))
}

/// Digests a file fetched from an upstream must have, from the upstream's index, before it is
/// cached. Absent ones are not checked.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub sha256: Option<String>,
    pub sha512: Option<String>,
    pub sha1: Option<String>,
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
fn tee_into_cache(
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
        let origin = Origin::upstream(&upstream_name);
        let upload = Upload::inline(declared, true);
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

/// An upstream's index decoded once and held in this server's memory, with a digest of the
/// document it came from (so a caller can tell when it changed without comparing it whole).
pub struct Held<T> {
    pub digest: u64,
    pub value: T,
}

type HeldMap = std::collections::HashMap<
    (i64, String, String),
    (std::time::Instant, Arc<dyn std::any::Any + Send + Sync>),
>;

fn held_map() -> &'static std::sync::Mutex<HeldMap> {
    static HELD: std::sync::OnceLock<std::sync::Mutex<HeldMap>> = std::sync::OnceLock::new();
    HELD.get_or_init(Default::default)
}

/// Entries of [`held_document`] kept before the map is emptied (each is an index a client
/// asked for; they are read again on their next use).
const MAX_HELD: usize = 4096;

/// A JSON document of `upstream` kept in its index cache under `key` ([`cached_document`]:
/// fresh for the TTL, stale on an outage), decoded and held in memory until it is as old as
/// the upstream's TTL: within the TTL a read costs no database work and no decoding.
pub async fn held_document<T, F, Fut>(
    app: &App,
    upstream: &UpstreamRow,
    key: &str,
    fetch: F,
) -> Result<Arc<Held<T>>, String>
where
    T: serde::de::DeserializeOwned + Send + Sync + 'static,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    use std::hash::{Hash, Hasher};
    let map_key = (upstream.id, upstream.url.clone(), key.to_owned());
    let ttl =
        std::time::Duration::from_secs(u64::try_from(upstream.index_ttl_seconds).unwrap_or(0));
    if let Ok(all) = held_map().lock() {
        if let Some((at, held)) = all.get(&map_key) {
            if at.elapsed() < ttl {
                if let Ok(held) = Arc::clone(held).downcast::<Held<T>>() {
                    return Ok(held);
                }
            }
        }
    }
    let body = cached_document(app, upstream, key, fetch).await?;
    let value: T = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    let held = Arc::new(Held {
        digest: hasher.finish(),
        value,
    });
    if let Ok(mut all) = held_map().lock() {
        if all.len() >= MAX_HELD && !all.contains_key(&map_key) {
            all.clear();
        }
        let erased: Arc<dyn std::any::Any + Send + Sync> = Arc::clone(&held) as _;
        all.insert(map_key, (std::time::Instant::now(), erased));
    }
    Ok(held)
}
