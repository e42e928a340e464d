//! The cargo registry protocols: the sparse index (`config.json` and one file per crate at
//! cargo's prefix paths, with ETag/Last-Modified and 304s) and the web API (`cargo publish`,
//! `cargo yank [--undo]`, `cargo owner --list`, `cargo search`, downloads). Web API errors
//! carry cargo's `{"errors": [{"detail": …}]}` beside the Contract's envelope, so cargo prints
//! the real reason.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    LAST_MODIFIED,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use gantry_db::{CrateVersionRow, RepoRow};
use gantry_formats::cargo::{index_path, normalize, parse_version, valid_crate_name};
use gantry_formats::Declared;
use serde::Deserialize;
use sha2::Digest;

use crate::access::Op;
use crate::api::load_repo;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, ApiQuery, AppError, AppResult};
use crate::ingest::{ingest_blob, Origin, Upload};
use crate::render::BaseUrl;

const FORMAT: &str = "cargo";
/// Largest publish metadata document.
const MAX_PUBLISH_JSON: u32 = 1024 * 1024;
/// Most results of one search.
const MAX_SEARCH: u32 = 100;
/// Rows a search reads at most.
const SEARCH_ROWS: i64 = 10_000;

/// A web API error: the Contract's envelope plus cargo's `errors` list.
fn cargo_error(err: AppError) -> Response {
    let message = if err.code() == "internal" {
        "internal server error".to_owned()
    } else {
        crate::error::bounded_message(err.to_string())
    };
    let body = serde_json::json!({
        "error": { "code": err.code(), "message": message },
        "errors": [ { "detail": message } ],
    })
    .to_string();
    let (mut parts, _) = err.into_response().into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn web(result: AppResult<Response>) -> Response {
    result.unwrap_or_else(cargo_error)
}

fn ok_json(value: &serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        value.to_string(),
    )
        .into_response()
}

/// `GET /{owner}/{repo}/cargo/index/config.json`. cargo fetches this without credentials
/// first and sends its token only after a 401, so an anonymous caller is asked to
/// authenticate for every repository it may not read, existing or not (which tells it
/// nothing); callers with a token but no read still get 404.
pub(crate) async fn config(
    State(app): State<Arc<App>>,
    caller: Caller,
    base: BaseUrl,
    ApiPath((owner, repo)): ApiPath<(String, String)>,
) -> AppResult<Response> {
    let repo = match load_repo(&app, &caller, &owner, &repo, Op::Read).await {
        Ok(repo) => repo,
        Err(err) if caller.is_anonymous() && err.status() == StatusCode::NOT_FOUND => {
            return Err(caller.deny(
                AppError::Unauthorized(format!(
                    "authentication required to read {owner}/{repo}; configure a token for this registry"
                )),
                Some(&owner),
            ));
        }
        Err(err) => return Err(err),
    };
    let root = format!("{}/{}/{}/cargo", base.0, repo.namespace, repo.name);
    let body = serde_json::json!({
        "dl": format!("{root}/api/v1/crates/{{crate}}/{{version}}/download"),
        "api": root,
        "auth-required": repo.is_private(),
    });
    Ok(ok_json(&body))
}

/// The stored index entry of a version, taken from its metadata as written.
#[derive(Deserialize)]
struct StoredEntry<'a> {
    #[serde(borrow)]
    index: &'a serde_json::value::RawValue,
}

/// One line of an index file for a local version: the stored entry plus `cksum` and
/// `yanked`. The entry's text is spliced in as stored, without building a JSON tree of it.
fn local_line(row: &CrateVersionRow) -> Option<String> {
    let stored: StoredEntry<'_> = serde_json::from_str(&row.metadata).ok()?;
    let raw = stored.index.get();
    let fields = raw.strip_prefix('{')?.trim_start();
    // Stored metadata is compact JSON; anything else is re-serialised to stay on one line.
    if raw.contains('\n') || fields.starts_with('}') {
        return local_line_slow(row);
    }
    let sha = serde_json::to_string(&row.primary_sha256).ok()?;
    let yanked = if row.yanked != 0 { "true" } else { "false" };
    Some(format!("{{\"cksum\":{sha},\"yanked\":{yanked},{fields}"))
}

fn local_line_slow(row: &CrateVersionRow) -> Option<String> {
    let mut metadata: serde_json::Value = serde_json::from_str(&row.metadata).ok()?;
    let mut entry = match metadata.get_mut("index").map(serde_json::Value::take) {
        Some(serde_json::Value::Object(entry)) => entry,
        _ => return None,
    };
    entry.insert("cksum".into(), row.primary_sha256.clone().into());
    entry.insert("yanked".into(), (row.yanked != 0).into());
    serde_json::to_string(&entry).ok()
}

fn http_date(millis: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn parse_http_date(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|d| d.timestamp_millis())
}

/// `GET /{owner}/{repo}/cargo/index/{a}/{b}` and `…/{a}/{b}/{c}`: a crate's index file,
/// local versions in publish order, then versions only an upstream has.
pub(crate) async fn index_file2(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((owner, repo, a, name)): ApiPath<(String, String, String, String)>,
) -> AppResult<Response> {
    index_file(
        &app,
        &caller,
        &headers,
        &owner,
        &repo,
        &format!("{a}/{name}"),
        &name,
    )
    .await
}

pub(crate) async fn index_file3(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((owner, repo, a, b, name)): ApiPath<(String, String, String, String, String)>,
) -> AppResult<Response> {
    let path = format!("{a}/{b}/{name}");
    index_file(&app, &caller, &headers, &owner, &repo, &path, &name).await
}

/// The stamp of rows read, computed as the database computes it.
fn stamp_of(rows: &[CrateVersionRow]) -> [i64; 4] {
    rows.iter().fold([0; 4], |[n, ids, times, yanks], r| {
        [
            n + 1,
            ids.wrapping_add(r.id),
            times.wrapping_add(r.updated_at),
            yanks.wrapping_add(r.yanked * r.id),
        ]
    })
}

/// The local lines of a crate's index file and their latest change, from the shared index
/// cache (`crate::index_cache`) when its stamp is current: a crate with thousands of versions
/// is not re-read and re-serialised on every request, and every replica checks the stamp
/// against the database, so none serves a stale file.
async fn local_lines(
    app: &Arc<App>,
    repo: &RepoRow,
    normalized: &str,
    stamp: [i64; 4],
) -> AppResult<(Bytes, i64)> {
    let key = format!("cargo|{}|{normalized}", repo.id);
    let validator = |s: [i64; 4]| format!("{}-{}-{}-{}", s[0], s[1], s[2], s[3]);
    if let Some(hit) = app.index_cache.get_with(&key, &validator(stamp)) {
        return Ok(hit);
    }
    let rows = app.db.crate_versions(repo.id, normalized).await?;
    let mut body = String::with_capacity(rows.len() * 512);
    let mut last_modified = 0i64;
    for row in &rows {
        let Some(line) = local_line(row) else {
            tracing::warn!(crate_name = %row.name, version = %row.version, "stored cargo metadata has no index entry");
            continue;
        };
        body.push_str(&line);
        body.push('\n');
        last_modified = last_modified.max(row.updated_at);
    }
    let body = Bytes::from(body);
    // Stamped with what was read, which may be newer than the stamp the request saw.
    app.index_cache
        .put_with(key, validator(stamp_of(&rows)), body.clone(), last_modified);
    Ok((body, last_modified))
}

async fn index_file(
    app: &Arc<App>,
    caller: &Caller,
    headers: &HeaderMap,
    owner: &str,
    repo: &str,
    path: &str,
    name: &str,
) -> AppResult<Response> {
    let repo = load_repo(app, caller, owner, repo, Op::Read).await?;
    let not_found = || AppError::NotFound(format!("crate {name} not found in {}", repo.slug()));
    if !valid_crate_name(name) || index_path(name) != path {
        return Err(not_found());
    }
    let normalized = normalize(name);
    let stamp = app.db.crate_index_stamp(repo.id, &normalized).await?;
    let local_versions = stamp[0];
    let mut upstream_lines: Vec<crate::upstream::cargo::UpstreamLine> = Vec::new();
    for upstream in app.db.list_upstreams(repo.id, Some(FORMAT)).await? {
        if upstream.local_names_only != 0 && local_versions > 0 {
            continue;
        }
        match crate::upstream::cargo::index_lines(app, &upstream, name).await {
            Ok(lines) => upstream_lines.extend(lines),
            // Already logged and counted; the other sources still answer.
            Err(_) => continue,
        }
    }
    let (local_bytes, last_modified) = if local_versions == 0 {
        (Bytes::new(), 0)
    } else {
        local_lines(app, &repo, &normalized, stamp).await?
    };
    // Rendered here from strings, so always UTF-8.
    let local = std::str::from_utf8(&local_bytes).unwrap_or_default();
    let mut seen: HashSet<String> = local
        .lines()
        .filter_map(|l| {
            // Only the version is needed; a full parse of every local line is not.
            let start = l.find("\"vers\":\"")? + 8;
            let end = l[start..].find('"')? + start;
            Some(build_less(&l[start..end]))
        })
        .collect();
    let mut extra = String::new();
    for line in upstream_lines {
        if seen.insert(build_less(&line.vers)) {
            extra.push_str(&line.json);
            extra.push('\n');
        }
    }
    if local.is_empty() && extra.is_empty() {
        return Err(not_found());
    }
    let from_upstream = !extra.is_empty();
    let mut hasher = sha2::Sha256::new();
    for part in stamp {
        hasher.update(part.to_le_bytes());
    }
    hasher.update(extra.as_bytes());
    let etag = format!("\"{}\"", hex::encode(&hasher.finalize()[..16]));
    let mut out = HeaderMap::new();
    let header = |v: &str| HeaderValue::from_str(v).map_err(AppError::internal);
    out.insert(ETAG, header(&etag)?);
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Upstream lines have no modification time of ours; the ETag alone validates them.
    if !from_upstream {
        out.insert(LAST_MODIFIED, header(&http_date(last_modified))?);
    }
    let matches_etag = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let unmodified_since = headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
        .is_some_and(|since| !from_upstream && last_modified / 1000 <= since / 1000);
    if matches_etag.unwrap_or(unmodified_since) {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    out.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let body = if extra.is_empty() {
        Body::from(local_bytes.clone())
    } else {
        Body::from(format!("{local}{extra}"))
    };
    Ok((StatusCode::OK, out, body).into_response())
}

/// A version without its build metadata: cargo treats `1.0.0+a` and `1.0.0+b` as one.
fn build_less(version: &str) -> String {
    version.split('+').next().unwrap_or(version).to_owned()
}

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
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo)): ApiPath<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    match publish_inner(&app, &caller, &owner, &repo, request).await {
        Ok(response) => response,
        Err(err) => {
            let mut response = cargo_error(err);
            // The rest of an unread body must not be taken for the next request.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
            response
        }
    }
}

async fn publish_inner(
    app: &Arc<App>,
    caller: &Caller,
    owner: &str,
    repo: &str,
    request: axum::extract::Request,
) -> AppResult<Response> {
    // Authorise before reading the body, so strangers learn nothing from its errors.
    let repo: RepoRow = load_repo(app, caller, owner, repo, Op::Push).await?;
    let limit = app.config.max_upload_size;
    let mut reader = BodyReader {
        stream: request.into_body().into_data_stream(),
        buffer: Vec::new(),
    };
    let json_len = reader.take_u32().await?;
    if json_len > MAX_PUBLISH_JSON {
        return Err(AppError::PayloadTooLarge(format!(
            "the publish metadata is larger than {MAX_PUBLISH_JSON} bytes"
        )));
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
        )));
    }
    parse_version(&version)?;
    let crate_len = u64::from(reader.take_u32().await?);
    if crate_len > limit {
        return Err(AppError::PayloadTooLarge(format!(
            "the crate exceeds the maximum size of {limit} bytes"
        )));
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
        )));
    }
    let manifest = read_stored_crate(app, &digests.sha256).await?;
    gantry_formats::cargo::check_publish_metadata(&publish, &manifest)?;
    let format = app
        .formats
        .get(FORMAT)
        .ok_or_else(|| AppError::internal("cargo format missing"))?;
    let origin = Origin {
        actor: caller.actor(),
        address: caller.address.map(|a| a.to_string()),
        upstream: None,
    };
    let upload = Upload {
        declared: Declared {
            name: Some(name.clone()),
            version: Some(version.clone()),
            filename: format!("{name}-{version}.crate"),
            ..Declared::default()
        },
        republish: false,
        tags: Vec::new(),
        content_length: None,
        inline: true,
        identical_ok: false,
    };
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
        .crate_name_versions(repo.id, &normalize(name))
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
        .crate_name_versions(repo.id, &normalize(name))
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

async fn read_stored_crate(
    app: &Arc<App>,
    sha256: &str,
) -> AppResult<gantry_formats::cargo::Manifest> {
    let (file, _guard) = app.blobs.open_file(sha256, &app.scratch_dir()).await?;
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        gantry_formats::cargo::read_crate(&mut file)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::from)
}

async fn find_version(
    app: &Arc<App>,
    repo: &RepoRow,
    name: &str,
    version: &str,
) -> AppResult<Option<gantry_db::PackageRow>> {
    Ok(app
        .db
        .find_live_package(repo.id, FORMAT, &normalize(name), version, "")
        .await?)
}

/// `DELETE …/crates/{name}/{version}/yank`: `cargo yank`.
pub(crate) async fn yank(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo, name, version)): ApiPath<(String, String, String, String)>,
) -> Response {
    web(set_yanked(&app, &caller, &owner, &repo, &name, &version, true).await)
}

/// `PUT …/crates/{name}/{version}/unyank`: `cargo yank --undo`.
pub(crate) async fn unyank(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo, name, version)): ApiPath<(String, String, String, String)>,
) -> Response {
    web(set_yanked(&app, &caller, &owner, &repo, &name, &version, false).await)
}

async fn set_yanked(
    app: &Arc<App>,
    caller: &Caller,
    owner: &str,
    repo: &str,
    name: &str,
    version: &str,
    yanked: bool,
) -> AppResult<Response> {
    let repo = load_repo(app, caller, owner, repo, Op::Yank).await?;
    let package = find_version(app, &repo, name, version)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "crate {name}@{version} not found in {}",
                repo.slug()
            ))
        })?;
    let event = caller.event(if yanked {
        gantry_core::EventType::PackageYanked
    } else {
        gantry_core::EventType::PackageUnyanked
    });
    app.db.set_yanked(&package, yanked, None, &event).await?;
    Ok(ok_json(&serde_json::json!({ "ok": true })))
}

/// `GET …/crates/{name}/owners`: `cargo owner --list`. A repository's crates belong to
/// whoever holds write on it; the list names those who published the crate's versions.
pub(crate) async fn owners(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo, name)): ApiPath<(String, String, String)>,
) -> Response {
    web(owners_inner(&app, &caller, &owner, &repo, &name).await)
}

async fn owners_inner(
    app: &Arc<App>,
    caller: &Caller,
    owner: &str,
    repo: &str,
    name: &str,
) -> AppResult<Response> {
    let repo = load_repo(app, caller, owner, repo, Op::Read).await?;
    let rows = app.db.crate_versions(repo.id, &normalize(name)).await?;
    if rows.is_empty() {
        return Err(AppError::NotFound(format!(
            "crate {name} not found in {}",
            repo.slug()
        )));
    }
    let mut logins: Vec<&str> = Vec::new();
    for row in &rows {
        // Uploader names carry a token prefix in parentheses; the login is what precedes it.
        let login = row.uploader.split(" (").next().unwrap_or(&row.uploader);
        if !logins.contains(&login) {
            logins.push(login);
        }
    }
    let users: Vec<serde_json::Value> = logins
        .iter()
        .enumerate()
        .map(|(i, login)| serde_json::json!({ "id": i + 1, "login": login, "name": login }))
        .collect();
    Ok(ok_json(&serde_json::json!({ "users": users })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    q: Option<String>,
    per_page: Option<u32>,
}

/// `GET …/api/v1/crates?q=…&per_page=…`: `cargo search`, by name substring.
pub(crate) async fn search(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Response {
    web(search_inner(&app, &caller, &owner, &repo, params).await)
}

async fn search_inner(
    app: &Arc<App>,
    caller: &Caller,
    owner: &str,
    repo: &str,
    params: SearchParams,
) -> AppResult<Response> {
    let repo = load_repo(app, caller, owner, repo, Op::Read).await?;
    let query = params.q.unwrap_or_default();
    if query.len() > 200 {
        return Err(AppError::BadRequest("the query is too long".into()));
    }
    let per_page = params.per_page.unwrap_or(10).clamp(1, MAX_SEARCH) as usize;
    let rows = app
        .db
        .crate_search(repo.id, &normalize(query.trim()), SEARCH_ROWS)
        .await?;
    // (name, newest unyanked version, its description) per crate, in name order.
    let mut crates: Vec<(
        String,
        String,
        Option<gantry_formats::cargo::Version>,
        String,
    )> = Vec::new();
    for (name, normalized, version, metadata, yanked) in rows {
        if crates.last().is_none_or(|c| c.0 != normalized) {
            crates.push((normalized.clone(), name.clone(), None, String::new()));
        }
        let Some(entry) = crates.last_mut() else {
            continue;
        };
        let Ok(parsed) = gantry_formats::cargo::Version::parse(&version) else {
            continue;
        };
        if yanked == 0 && entry.2.as_ref().is_none_or(|v| parsed > *v) {
            entry.1 = name;
            entry.2 = Some(parsed);
            entry.3 = serde_json::from_str::<serde_json::Value>(&metadata)
                .ok()
                .and_then(|m| m["description"].as_str().map(str::to_owned))
                .unwrap_or_default();
        }
    }
    crates.retain(|c| c.2.is_some());
    let total = crates.len();
    let listed: Vec<serde_json::Value> = crates
        .into_iter()
        .take(per_page)
        .map(|(_, name, version, description)| {
            serde_json::json!({
                "name": name,
                "max_version": version.map(|v| v.to_string()),
                "description": description,
            })
        })
        .collect();
    Ok(ok_json(&serde_json::json!({
        "crates": listed,
        "meta": { "total": total },
    })))
}

/// `GET …/crates/{name}/{version}/download`: a `.crate`, local or through an upstream.
pub(crate) async fn download(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath((owner, repo, name, version)): ApiPath<(String, String, String, String)>,
) -> Response {
    web(download_inner(
        &app, &caller, &method, &headers, &owner, &repo, &name, &version,
    )
    .await)
}

#[allow(clippy::too_many_arguments)]
async fn download_inner(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    headers: &HeaderMap,
    owner: &str,
    repo: &str,
    name: &str,
    version: &str,
) -> AppResult<Response> {
    let repo = load_repo(app, caller, owner, repo, Op::Read).await?;
    if let Some(package) = find_version(app, &repo, name, version).await? {
        let file = package
            .files
            .first()
            .cloned()
            .ok_or_else(|| AppError::NotFound(format!("crate {name}@{version} has no file")))?;
        return super::serve_file(app, caller, method, headers, &package, &file).await;
    }
    crate::upstream::cargo::download(app, caller, method, repo, name, version).await
}
