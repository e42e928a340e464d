//! `npm publish`, `npm deprecate` and `npm unpublish`: documents PUT to a package, and the
//! DELETEs that end an unpublish.

use std::sync::Arc;

use crate::pure::{normalize_version, tarball_filename};
use crate::queries::NpmQueries;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use futures::StreamExt;
use gantry_core::{EventType, PackageState};
use gantry_db::{PackageRow, RepoRow};
use gantry_formats::Declared;
use serde_json::{json, Value};

use super::tags::{tag_event, valid_tag};
use super::{json_response, not_found, split, split_name, NpmPath, FORMAT};
use crate::access::Op;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult, Closing};
use crate::ingest::{Origin, Upload};
use gantry_protocol::extract::{op, Repo, RepoPath};

/// Largest publish document without its tarball (deprecate and unpublish send whole
/// packuments back).
const MAX_DOCUMENT: usize = 32 * 1024 * 1024;

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
pub(super) fn sha512_hex(integrity: &str) -> Option<String> {
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
    // Taken as a result so that a bad name, like any error of an upload, closes the
    // connection.
    repo: Result<RepoPath, AppError>,
    ApiPath(NpmPath { path }): ApiPath<NpmPath>,
    request: Request,
) -> Result<Response, Closing> {
    let (app, caller, path) = (&app, &caller, path.as_str());
    let parsed = split_name(path);
    let unpublish = parsed
        .as_ref()
        .is_some_and(|(_, rest)| rest.first().map(String::as_str) == Some("-rev"));
    // Authorise before reading the body, so strangers learn nothing from document errors.
    let op = if unpublish { Op::Delete } else { Op::Push };
    let repo = repo?.load(app, caller, op).await?;
    let (name, rest) = parsed
        .ok_or_else(|| AppError::BadRequest(format!("'{path}' is not an npm package name")))?;
    if !(rest.is_empty() || (unpublish && rest.len() == 2)) {
        return Err(AppError::NotFound(format!("no npm route at {path}")).into());
    }
    let (document, attachments, digests) = receive(app, request).await?;
    let document: Value = serde_json::from_slice(&document).map_err(|e| {
        AppError::BadRequest(format!("the publish document is not valid JSON: {e}"))
    })?;
    if !document.is_object() {
        return Err(
            AppError::BadRequest("the publish document must be a JSON object".into()).into(),
        );
    }
    if let Some(doc_name) = document.get("name").and_then(Value::as_str) {
        if doc_name != name {
            return Err(AppError::BadRequest(format!(
                "the document names package '{doc_name}' but was sent to '{name}'"
            ))
            .into());
        }
    }
    let answer = match (attachments, unpublish) {
        (0, _) => update_metadata(app, caller, &repo, &name, &document, unpublish).await,
        (1, false) => publish(app, caller, &repo, &name, &document, digests).await,
        (1, true) => Err(AppError::BadRequest(
            "an unpublish update must not carry a tarball".into(),
        )),
        (n, _) => Err(AppError::BadRequest(format!(
            "a publish carries exactly one tarball, not {n}"
        ))),
    };
    Ok(answer?)
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
    let manifest = check_against_tarball(app, version_doc, &digests).await?;
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
        attributes: Default::default(),
    };
    let format = app
        .formats
        .get(FORMAT)
        .ok_or_else(|| AppError::internal("npm format missing"))?;
    let origin = Origin::caller(caller);
    let upload = Upload::inline(declared, false);
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
    publish_tags(app, caller, repo, name, document, &ingested.package).await?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "ok": true, "id": name, "slug_perm": ingested.package.slug_perm }),
    ))
}

/// Reads the tarball's package.json, which decides; the document's dependencies must agree
/// with it.
async fn check_against_tarball(
    app: &Arc<App>,
    version_doc: &Value,
    digests: &gantry_blobs::Digests,
) -> AppResult<crate::pure::Manifest> {
    let (file, _guard) = app
        .blobs
        .open_file(&digests.sha256, &app.scratch_dir())
        .await?;
    let manifest = tokio::task::spawn_blocking(move || {
        let mut file = file;
        crate::pure::read_manifest(&mut file)
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
    Ok(manifest)
}

/// Points the dist-tags the publish names at the new version (`npm publish` sends
/// `{"latest": v}`, or `{"<tag>": v}` with `--tag`), and `latest` when the name has none.
async fn publish_tags(
    app: &Arc<App>,
    caller: &Caller,
    repo: &RepoRow,
    name: &str,
    document: &Value,
    package: &gantry_db::PackageRow,
) -> AppResult<()> {
    let version = package.version.clone();
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
            package,
            json!({ "dist_tags": tagged, "version": version, "action": "publish" }),
        )
        .await?;
    }
    Ok(())
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
    ApiPath(NpmPath { path }): ApiPath<NpmPath>,
    repo: Repo<op::Delete>,
) -> AppResult<Response> {
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
