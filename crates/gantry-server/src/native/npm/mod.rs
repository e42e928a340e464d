//! The npm registry API under `/{owner}/{repo}/npm/`: packuments (full and abbreviated) with
//! ETags, tarballs, `npm publish` (the tarball streams out of the publish document into the
//! blob store), `npm deprecate`, `npm unpublish` (soft deletes), `npm dist-tag`,
//! `npm whoami`, and tarballs of upstream registries (streamed, and cached as packages).

mod packument;
mod split;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use futures::StreamExt;
use gantry_core::{EventType, PackageState};
use gantry_db::{PackageRow, RepoRow};
use gantry_formats::npm::{normalize_version, tarball_filename, validate_name};
use gantry_formats::Declared;
use serde_json::{json, Value};

use crate::access::Op;
use crate::api::load_repo;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use crate::ingest::{Origin, Upload};
use crate::render::BaseUrl;

pub(crate) const FORMAT: &str = "npm";
const ABBREVIATED_TYPE: &str = "application/vnd.npm.install-v1+json";
/// Largest publish document without its tarball (deprecate and unpublish send whole
/// packuments back).
const MAX_DOCUMENT: usize = 32 * 1024 * 1024;
/// Largest dist-tag request body.
const MAX_TAG_BODY: usize = 4096;

/// A request path below `/{owner}/{repo}/npm/`, split into a package name and what follows.
fn split_name(path: &str) -> Option<(String, Vec<String>)> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (name, rest) = match segments.first()? {
        s if s.starts_with('@') && !s.contains('/') => {
            let base = segments.get(1)?;
            (format!("{s}/{base}"), &segments[2..])
        }
        s => ((*s).to_owned(), &segments[1..]),
    };
    validate_name(&name).ok()?;
    Some((name, rest.iter().map(|s| (*s).to_owned()).collect()))
}

fn not_found(name: &str, repo: &RepoRow) -> AppError {
    AppError::NotFound(format!("npm package {name} not found in {}", repo.slug()))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn wants_abbreviated(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',').any(|item| {
                let mut parts = item.split(';');
                let media = parts.next().unwrap_or("").trim();
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|v| v.parse::<f32>().ok())
                    .unwrap_or(1.0);
                media.eq_ignore_ascii_case(ABBREVIATED_TYPE) && q > 0.0
            })
        })
}

/// `GET /{owner}/{repo}/npm/-/whoami`.
pub(crate) async fn whoami(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo)): ApiPath<(String, String)>,
) -> AppResult<Response> {
    load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    if caller.is_anonymous() {
        return Err(AppError::Unauthorized(
            "not logged in: set //HOST/OWNER/REPO/npm/:_authToken in .npmrc".into(),
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        json!({ "username": caller.actor() }),
    ))
}

/// `GET /{owner}/{repo}/npm/-/ping`.
pub(crate) async fn ping(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo)): ApiPath<(String, String)>,
) -> AppResult<Response> {
    load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    Ok(json_response(StatusCode::OK, json!({})))
}

/// `GET /{owner}/{repo}/npm/{name}` (and `…/{name}/{version-or-tag}`).
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    ApiPath((owner, repo, path)): ApiPath<(String, String, String)>,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    let (name, rest) =
        split_name(&path).ok_or_else(|| AppError::NotFound(format!("no npm package at {path}")))?;
    let mut sources = packument::gather(&app, &repo, &name).await?;
    if sources.is_empty() {
        return Err(not_found(&name, &repo));
    }
    match rest.as_slice() {
        [] => {
            let abbreviated = wants_abbreviated(&headers);
            let mut etag = sources.etag(&base.0, abbreviated);
            let mut out = HeaderMap::new();
            out.insert(
                ETAG,
                HeaderValue::from_str(&etag).map_err(AppError::internal)?,
            );
            out.insert(VARY, HeaderValue::from_static("Accept, Authorization"));
            let matches = headers
                .get(IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
            if matches {
                return Ok((StatusCode::NOT_MODIFIED, out).into_response());
            }
            out.insert(
                CONTENT_TYPE,
                HeaderValue::from_static(if abbreviated {
                    "application/vnd.npm.install-v1+json; charset=utf-8"
                } else {
                    "application/json; charset=utf-8"
                }),
            );
            let links = format!("{}/{owner}/{}", base.0, repo.name);
            if let Some(body) = packument::cached(repo.id, &name, abbreviated, &links, &etag) {
                return Ok((StatusCode::OK, out, body).into_response());
            }
            let started = std::time::Instant::now();
            sources.load(&app, &repo, abbreviated).await?;
            let loaded = started.elapsed();
            let fresh = sources.etag(&base.0, abbreviated);
            if fresh != etag {
                // A version changed between the two reads: describe what is rendered.
                etag = fresh;
                out.insert(
                    ETAG,
                    HeaderValue::from_str(&etag).map_err(AppError::internal)?,
                );
            }
            let (body, fills) = sources.render(&base.0, &owner, &repo.name, abbreviated);
            tracing::debug!(
                package = %name,
                abbreviated,
                load_ms = loaded.as_secs_f64() * 1000.0,
                render_ms = (started.elapsed() - loaded).as_secs_f64() * 1000.0,
                bytes = body.len(),
                documents_filled = fills.len(),
                "npm packument rendered"
            );
            store_documents(&app, fills);
            let body = bytes::Bytes::from(body);
            packument::keep(repo.id, &name, abbreviated, &links, &etag, body.clone());
            Ok((StatusCode::OK, out, body).into_response())
        }
        [wanted] => {
            sources.load(&app, &repo, false).await?;
            let tags = sources.dist_tags();
            let version = tags.get(wanted).cloned().unwrap_or_else(|| wanted.clone());
            let (body, fills) = sources.render(&base.0, &owner, &repo.name, false);
            store_documents(&app, fills);
            let full: Value = serde_json::from_str(&body).map_err(AppError::internal)?;
            let doc = full["versions"][&version].clone();
            if doc.is_null() {
                return Err(AppError::NotFound(format!(
                    "version {wanted} of {name} not found in {}",
                    repo.slug()
                )));
            }
            Ok(json_response(StatusCode::OK, doc))
        }
        _ => Err(not_found(&name, &repo)),
    }
}

/// Stores version documents rendered from metadata, after the response (a failure only
/// means the next render parses the metadata again).
fn store_documents(app: &Arc<App>, fills: Vec<gantry_db::NpmDocument>) {
    if fills.is_empty() {
        return;
    }
    let app = Arc::clone(app);
    tokio::spawn(async move {
        if let Err(e) = app.db.npm_put_documents(&fills).await {
            tracing::warn!(error = %e, "storing npm version documents failed");
        }
    });
}

/// `GET /{owner}/{repo}/npm/files/{slug}/{filename}`: a stored tarball.
pub(crate) async fn file(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath((owner, repo, slug, filename)): ApiPath<(String, String, String, String)>,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    let missing = || AppError::NotFound(format!("file {filename} not found in {}", repo.slug()));
    let slug = gantry_core::SlugPerm::parse(&slug).ok_or_else(missing)?;
    let package = app
        .db
        .get_package(repo.id, slug.as_str())
        .await?
        .filter(|p| p.format == FORMAT)
        .ok_or_else(missing)?;
    let file = package
        .files
        .iter()
        .find(|f| f.filename == filename)
        .ok_or_else(missing)?
        .clone();
    super::serve_file(&app, &caller, &method, &headers, &package, &file).await
}

/// The dist-tags of a package as a client sees them.
async fn current_tags(
    app: &Arc<App>,
    repo: &RepoRow,
    name: &str,
) -> AppResult<std::collections::BTreeMap<String, String>> {
    let mut sources = packument::gather(app, repo, name).await?;
    if sources.is_empty() {
        return Err(not_found(name, repo));
    }
    sources.load(app, repo, true).await?;
    Ok(sources.dist_tags())
}

/// `GET /{owner}/{repo}/npm/-/package/{package}/dist-tags` (`npm dist-tag ls`).
pub(crate) async fn dist_tags(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo, package)): ApiPath<(String, String, String)>,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    validate_name(&package).map_err(|_| not_found(&package, &repo))?;
    let tags = current_tags(&app, &repo, &package).await?;
    Ok(json_response(StatusCode::OK, json!(tags)))
}

fn valid_tag(tag: &str) -> AppResult<()> {
    // A tag that parses as a version would be ambiguous in `npm install name@tag`.
    if tag.is_empty()
        || tag.len() > 128
        || tag.contains(['/', '\\', '%', ' '])
        || tag.chars().any(char::is_control)
        || semver::Version::parse(tag.trim_start_matches('v')).is_ok()
        || semver::VersionReq::parse(tag)
            .is_ok_and(|_| tag.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Err(AppError::BadRequest(format!(
            "'{tag}' is not a valid dist-tag (it must not be empty or look like a version)"
        )));
    }
    Ok(())
}

/// The live local package of `name@version`.
async fn live_version(
    app: &Arc<App>,
    repo: &RepoRow,
    name: &str,
    version: &str,
) -> AppResult<Option<PackageRow>> {
    Ok(app
        .db
        .find_live_package(repo.id, FORMAT, name, version, "")
        .await?)
}

async fn tag_event(
    app: &Arc<App>,
    caller: &Caller,
    package: &PackageRow,
    context: Value,
) -> AppResult<()> {
    let mut event = caller.event(EventType::PackageTagsUpdated);
    event.slug_perm = Some(package.slug_perm.clone());
    event.repository = Some(package.repository_slug());
    event.namespace = Some(package.namespace.clone());
    event.checksum_sha256 = Some(package.primary_sha256.clone());
    event.context = context;
    app.db.record_event(&event).await?;
    Ok(())
}

/// `PUT /{owner}/{repo}/npm/-/package/{package}/dist-tags/{tag}` with a JSON string version
/// (`npm dist-tag add`).
pub(crate) async fn dist_tag_put(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo, package, tag)): ApiPath<(String, String, String, String)>,
    request: Request,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Tag).await?;
    validate_name(&package).map_err(|_| not_found(&package, &repo))?;
    valid_tag(&tag)?;
    let body = axum::body::to_bytes(request.into_body(), MAX_TAG_BODY)
        .await
        .map_err(|_| {
            AppError::BadRequest("the dist-tag body must be a short JSON string".into())
        })?;
    let version: String = serde_json::from_slice(&body).map_err(|_| {
        AppError::BadRequest("the dist-tag body must be a JSON string version".into())
    })?;
    let version = normalize_version(&version)?;
    let target = live_version(&app, &repo, &package, &version)
        .await?
        .filter(|p| p.state() == PackageState::Available)
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "version {version} of {package} not found in {}",
                repo.slug()
            ))
        })?;
    app.db
        .npm_set_dist_tag(repo.id, &package, &tag, &version)
        .await?;
    tag_event(
        &app,
        &caller,
        &target,
        json!({ "dist_tag": tag, "version": version, "action": "add" }),
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "ok": true, "dist-tags": current_tags(&app, &repo, &package).await? }),
    ))
}

/// `DELETE /{owner}/{repo}/npm/-/package/{package}/dist-tags/{tag}` (`npm dist-tag rm`).
pub(crate) async fn dist_tag_delete(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo, package, tag)): ApiPath<(String, String, String, String)>,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Tag).await?;
    validate_name(&package).map_err(|_| not_found(&package, &repo))?;
    if tag == "latest" {
        return Err(AppError::BadRequest(
            "the latest dist-tag cannot be removed; point it at another version instead".into(),
        ));
    }
    let tags = app.db.npm_dist_tags(repo.id, &package).await?;
    let Some((_, version)) = tags.iter().find(|(t, _)| *t == tag) else {
        return Err(AppError::NotFound(format!(
            "{package} has no dist-tag {tag} in {}",
            repo.slug()
        )));
    };
    app.db.npm_delete_dist_tag(repo.id, &package, &tag).await?;
    if let Some(target) = live_version(&app, &repo, &package, version).await? {
        tag_event(
            &app,
            &caller,
            &target,
            json!({ "dist_tag": tag, "version": version, "action": "remove" }),
        )
        .await?;
    }
    Ok(json_response(StatusCode::OK, json!({ "ok": true })))
}

/// Why pumping a publish body stopped.
enum PumpError {
    Document(AppError),
    /// The blob store gave up (its own error says why).
    Store,
}

/// Streams a publish body: the tarball into the blob store, the rest into memory.
async fn receive(
    app: &Arc<App>,
    request: Request,
) -> AppResult<(Vec<u8>, usize, gantry_blobs::Digests)> {
    let limit = app.config.max_upload_size;
    let content_length = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bound = limit.saturating_mul(4) / 3 + MAX_DOCUMENT as u64 + 4;
    if content_length.is_some_and(|n| n > bound) {
        return Err(AppError::PayloadTooLarge(format!(
            "the publish document exceeds the maximum upload size of {limit} bytes"
        )));
    }
    let mut body = request.into_body().into_data_stream();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    let blob_stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let store = app.blobs.put_stream(blob_stream, limit);
    let pump = async move {
        let mut splitter = split::Splitter::new(MAX_DOCUMENT);
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let message = format!("reading the publish body failed: {e}");
                    let _ = tx.send(Err(std::io::Error::other(message.clone()))).await;
                    return Err(PumpError::Document(AppError::BadRequest(message)));
                }
            };
            app.metrics.add_received(chunk.len() as u64);
            match splitter.feed(&chunk) {
                Ok(parts) => {
                    for part in parts {
                        if tx.send(Ok(part)).await.is_err() {
                            return Err(PumpError::Store);
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return Err(PumpError::Document(match e {
                        split::SplitError::TooLarge(_) => AppError::PayloadTooLarge(e.to_string()),
                        _ => AppError::BadRequest(e.to_string()),
                    }));
                }
            }
        }
        drop(tx);
        splitter
            .finish()
            .map_err(|e| PumpError::Document(AppError::BadRequest(e.to_string())))
    };
    let (stored, pumped) = futures::join!(store, pump);
    match pumped {
        Ok((document, attachments)) => Ok((document, attachments, stored?)),
        Err(PumpError::Document(e)) => Err(e),
        Err(PumpError::Store) => Err(stored.err().map_or_else(
            || AppError::internal("the blob store stopped reading"),
            AppError::from,
        )),
    }
}

/// The hex sha512 of an `integrity` string (`sha512-<base64>`), if it has one.
fn sha512_hex(integrity: &str) -> Option<String> {
    integrity.split_whitespace().find_map(|item| {
        let b64 = item.strip_prefix("sha512-")?;
        let b64 = b64.split('?').next().unwrap_or(b64);
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .map(hex::encode)
    })
}

/// `PUT /{owner}/{repo}/npm/{name}`: `npm publish` (a document with one version and its
/// tarball attached), or a metadata update such as `npm deprecate` (no attachment);
/// `PUT …/{name}/-rev/{rev}` is the first step of `npm unpublish name@version`.
pub(crate) async fn put(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo, path)): ApiPath<(String, String, String)>,
    request: Request,
) -> Response {
    match put_inner(&app, &caller, &owner, &repo, &path, request).await {
        Ok(response) => response,
        Err(err) => {
            // The client may still be sending; closing tells it not to.
            let mut response = err.into_response();
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
            response
        }
    }
}

async fn put_inner(
    app: &Arc<App>,
    caller: &Caller,
    owner: &str,
    repo: &str,
    path: &str,
    request: Request,
) -> AppResult<Response> {
    let parsed = split_name(path);
    let unpublish = parsed
        .as_ref()
        .is_some_and(|(_, rest)| rest.first().map(String::as_str) == Some("-rev"));
    // Authorise before reading the body, so strangers learn nothing from document errors.
    let op = if unpublish { Op::Delete } else { Op::Push };
    let repo = load_repo(app, caller, owner, repo, op).await?;
    let (name, rest) = parsed
        .ok_or_else(|| AppError::BadRequest(format!("'{path}' is not an npm package name")))?;
    if !(rest.is_empty() || (unpublish && rest.len() == 2)) {
        return Err(AppError::NotFound(format!("no npm route at {path}")));
    }
    let (document, attachments, digests) = receive(app, request).await?;
    let document: Value = serde_json::from_slice(&document).map_err(|e| {
        AppError::BadRequest(format!("the publish document is not valid JSON: {e}"))
    })?;
    if !document.is_object() {
        return Err(AppError::BadRequest(
            "the publish document must be a JSON object".into(),
        ));
    }
    if let Some(doc_name) = document.get("name").and_then(Value::as_str) {
        if doc_name != name {
            return Err(AppError::BadRequest(format!(
                "the document names package '{doc_name}' but was sent to '{name}'"
            )));
        }
    }
    match (attachments, unpublish) {
        (0, _) => update_metadata(app, caller, &repo, &name, &document, unpublish).await,
        (1, false) => publish(app, caller, &repo, &name, &document, digests).await,
        (1, true) => Err(AppError::BadRequest(
            "an unpublish update must not carry a tarball".into(),
        )),
        (n, _) => Err(AppError::BadRequest(format!(
            "a publish carries exactly one tarball, not {n}"
        ))),
    }
}

/// Compares a dependency map of the publish document with the tarball's.
fn same_map(a: Option<&Value>, b: Option<&Value>) -> bool {
    let empty = Value::Object(serde_json::Map::new());
    let norm = |v: Option<&Value>| match v {
        Some(Value::Object(m)) if !m.is_empty() => Value::Object(m.clone()),
        _ => empty.clone(),
    };
    norm(a) == norm(b)
}

async fn publish(
    app: &Arc<App>,
    caller: &Caller,
    repo: &RepoRow,
    name: &str,
    document: &Value,
    digests: gantry_blobs::Digests,
) -> AppResult<Response> {
    let versions = document["versions"]
        .as_object()
        .filter(|v| v.len() == 1)
        .ok_or_else(|| AppError::BadRequest("a publish names exactly one version".into()))?;
    let (version_key, version_doc) = versions
        .iter()
        .next()
        .ok_or_else(|| AppError::BadRequest("a publish names exactly one version".into()))?;
    let attachment = document["_attachments"]
        .as_object()
        .and_then(|a| a.values().next())
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(length) = attachment["length"].as_u64() {
        if length != digests.size {
            return Err(AppError::BadRequest(format!(
                "the attachment says {length} bytes but {} arrived",
                digests.size
            )));
        }
    }
    // The tarball's package.json decides; the document must agree with it.
    let (file, _guard) = app
        .blobs
        .open_file(&digests.sha256, &app.scratch_dir())
        .await?;
    let manifest = tokio::task::spawn_blocking(move || {
        let mut file = file;
        gantry_formats::npm::read_manifest(&mut file)
    })
    .await
    .map_err(AppError::internal)??;
    for field in [
        "dependencies",
        "optionalDependencies",
        "peerDependencies",
        "devDependencies",
    ] {
        if version_doc.get(field).is_some()
            && !same_map(version_doc.get(field), manifest.document.get(field))
        {
            return Err(AppError::BadRequest(format!(
                "the publish document's {field} disagree with the tarball's package.json"
            )));
        }
    }
    let declared = Declared {
        name: Some(name.to_owned()),
        version: Some(version_key.clone()),
        filename: tarball_filename(name, &manifest.version),
        md5: None,
        sha1: version_doc["dist"]["shasum"].as_str().map(str::to_owned),
        sha256: None,
        sha512: version_doc["dist"]["integrity"]
            .as_str()
            .and_then(sha512_hex),
    };
    let format = app
        .formats
        .get(FORMAT)
        .ok_or_else(|| AppError::internal("npm format missing"))?;
    let origin = Origin {
        actor: caller.actor(),
        address: caller.address.map(|a| a.to_string()),
        upstream: None,
    };
    let upload = Upload {
        declared,
        republish: false,
        tags: Vec::new(),
        content_length: None,
        inline: true,
        identical_ok: false,
    };
    let ingested = crate::ingest::ingest_blob(app, &origin, repo, format, upload, digests, None)
        .await
        .map_err(|e| match e {
            // A document that disagrees with the tarball is a bad request, checksums included.
            AppError::Unprocessable(m) => AppError::BadRequest(m),
            AppError::Conflict(m) => {
                AppError::Forbidden(format!("cannot publish over an existing version: {m}"))
            }
            other => other,
        })?;
    let version = ingested.package.version.clone();
    // `npm publish` sends {"latest": v}, or {"<tag>": v} with --tag.
    let mut tagged = Vec::new();
    if let Some(tags) = document["dist-tags"].as_object() {
        for (tag, v) in tags {
            let points_here = v
                .as_str()
                .and_then(|v| normalize_version(v).ok())
                .is_some_and(|v| v == version);
            if points_here && valid_tag(tag).is_ok() {
                app.db
                    .npm_set_dist_tag(repo.id, name, tag, &version)
                    .await?;
                tagged.push(tag.clone());
            }
        }
    }
    let existing = app.db.npm_dist_tags(repo.id, name).await?;
    if !existing.iter().any(|(t, _)| t == "latest") {
        app.db
            .npm_set_dist_tag(repo.id, name, "latest", &version)
            .await?;
        tagged.push("latest".into());
    }
    if !tagged.is_empty() {
        tag_event(
            app,
            caller,
            &ingested.package,
            json!({ "dist_tags": tagged, "version": version, "action": "publish" }),
        )
        .await?;
    }
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "ok": true, "id": name, "slug_perm": ingested.package.slug_perm }),
    ))
}

/// A document without a tarball: deprecation messages, and for an unpublish (`-rev`) the
/// versions it no longer lists (soft-deleted) and its dist-tags.
async fn update_metadata(
    app: &Arc<App>,
    caller: &Caller,
    repo: &RepoRow,
    name: &str,
    document: &Value,
    unpublish: bool,
) -> AppResult<Response> {
    let live = app.db.npm_versions(repo.id, name, true).await?;
    if live.is_empty() {
        return Err(not_found(name, repo));
    }
    let empty = serde_json::Map::new();
    let versions = match document["versions"].as_object() {
        Some(v) => v,
        // An unpublish lists what stays; without the list nothing could be told apart.
        None if unpublish => {
            return Err(AppError::BadRequest(
                "an unpublish update must list the versions that stay".into(),
            ))
        }
        None => &empty,
    };
    let mut may_yank = false;
    for row in &live {
        let Some(doc) = versions.get(&row.version) else {
            continue;
        };
        let want = doc
            .get("deprecated")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty());
        let have = (row.yanked != 0).then(|| row.yank_reason.as_deref().unwrap_or("deprecated"));
        if want == have {
            continue;
        }
        if !may_yank {
            caller.require(repo, Op::Yank)?;
            may_yank = true;
        }
        let package = app
            .db
            .get_package_by_id(row.id)
            .await?
            .ok_or_else(|| not_found(name, repo))?;
        let mut event = caller.event(if want.is_some() {
            EventType::PackageYanked
        } else {
            EventType::PackageUnyanked
        });
        event.context = json!({ "reason": want, "via": "npm deprecate" });
        app.db
            .set_yanked(&package, want.is_some(), want, &event)
            .await?;
    }
    if unpublish {
        let mut removed = Vec::new();
        for row in live.iter().filter(|r| !versions.contains_key(&r.version)) {
            if let Some(package) = app.db.get_package_by_id(row.id).await? {
                unpublish_package(app, caller, &package).await?;
                removed.push(row.version.clone());
            }
        }
        let remaining: Vec<&str> = live
            .iter()
            .map(|r| r.version.as_str())
            .filter(|v| versions.contains_key(*v))
            .collect();
        let wanted: std::collections::BTreeMap<String, String> = document["dist-tags"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .filter(|(_, v)| remaining.contains(&v.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        for (tag, version) in app.db.npm_dist_tags(repo.id, name).await? {
            match wanted.get(&tag) {
                Some(v) if *v == version => {}
                Some(v) => app.db.npm_set_dist_tag(repo.id, name, &tag, v).await?,
                None => {
                    app.db.npm_delete_dist_tag(repo.id, name, &tag).await?;
                }
            }
        }
        for (tag, version) in &wanted {
            app.db.npm_set_dist_tag(repo.id, name, tag, version).await?;
        }
        tracing::info!(package = name, ?removed, "npm unpublish");
    }
    Ok(json_response(StatusCode::OK, json!({ "ok": true })))
}

/// Soft-deletes an unpublished version, recording who did it in its provenance trail.
async fn unpublish_package(app: &Arc<App>, caller: &Caller, package: &PackageRow) -> AppResult<()> {
    if package.state() == PackageState::Deleted {
        return Ok(());
    }
    let mut event = caller.event(EventType::PackageDeleted);
    event.context = json!({ "reason": "npm unpublish", "version": package.version });
    app.db
        .set_package_state(package, PackageState::Deleted, Some("unpublished"), &event)
        .await?;
    Ok(())
}

/// `DELETE /{owner}/{repo}/npm/{name}/-rev/{rev}` (`npm unpublish name` or of its last
/// version) and `DELETE …/{tarball path}/-rev/{rev}` (the last step of unpublishing one
/// version).
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo, path)): ApiPath<(String, String, String)>,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Delete).await?;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(prefix) = segments
        .len()
        .checked_sub(2)
        .filter(|&n| segments[n] == "-rev")
        .map(|n| &segments[..n])
    else {
        return Err(AppError::NotFound(format!("no npm route at {path}")));
    };
    if let ["files", slug, _filename] = prefix {
        // The tarball of a version the unpublish update already removed, or removes now.
        if let Some(package) = app
            .db
            .get_package(repo.id, slug)
            .await?
            .filter(|p| p.format == FORMAT)
        {
            unpublish_package(&app, &caller, &package).await?;
        }
        return Ok(json_response(StatusCode::OK, json!({ "ok": true })));
    }
    let (name, rest) = split_name(&prefix.join("/"))
        .ok_or_else(|| AppError::NotFound(format!("no npm route at {path}")))?;
    match rest.as_slice() {
        [] => {
            let live = app.db.npm_versions(repo.id, &name, true).await?;
            if live.is_empty() {
                return Err(not_found(&name, &repo));
            }
            for row in &live {
                if let Some(package) = app.db.get_package_by_id(row.id).await? {
                    unpublish_package(&app, &caller, &package).await?;
                }
            }
            for (tag, _) in app.db.npm_dist_tags(repo.id, &name).await? {
                app.db.npm_delete_dist_tag(repo.id, &name, &tag).await?;
            }
            Ok(json_response(StatusCode::OK, json!({ "ok": true })))
        }
        [dash, filename] if dash == "-" => {
            let live = app.db.npm_versions(repo.id, &name, true).await?;
            if let Some(row) = live.iter().find(|r| &r.filename == filename) {
                if let Some(package) = app.db.get_package_by_id(row.id).await? {
                    unpublish_package(&app, &caller, &package).await?;
                }
            }
            Ok(json_response(StatusCode::OK, json!({ "ok": true })))
        }
        _ => Err(AppError::NotFound(format!("no npm route at {path}"))),
    }
}

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
        return super::serve_file(&app, &caller, &method, &headers, &local, &file).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_from_paths() {
        assert_eq!(split_name("lodash"), Some(("lodash".into(), vec![])));
        assert_eq!(
            split_name("@s/a/-rev/1-x"),
            Some(("@s/a".into(), vec!["-rev".into(), "1-x".into()]))
        );
        assert_eq!(
            split_name("a/1.0.0"),
            Some(("a".into(), vec!["1.0.0".into()]))
        );
        assert_eq!(split_name("@s"), None);
        assert_eq!(split_name(".."), None);
    }

    #[test]
    fn reads_integrity_and_tags() {
        assert_eq!(sha512_hex("sha1-xx sha512-AAEC").as_deref(), Some("000102"));
        assert!(valid_tag("beta").is_ok());
        assert!(valid_tag("1.0.0").is_err());
        assert!(valid_tag("").is_err());
    }
}
