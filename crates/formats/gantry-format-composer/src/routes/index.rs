//! `packages.json` and the metadata files `p2/VENDOR/PACKAGE.json` / `~dev.json`. A
//! repository's own versions are read and rendered at most once per cache epoch (an
//! unchanged repository costs no query), then merged with its upstreams' versions, whose
//! dists are pointed at this repository.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gantry_db::RepoRow;
use gantry_protocol::caches::upstreams_for_name;
use gantry_protocol::extract::{op, Repo};
use gantry_protocol::render::BaseUrl;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::Digest;

use crate::app::App;
use crate::error::{ApiPath, AppError, AppResult};
use crate::pure::dist_path;
use crate::queries::{ComposerQueries, VersionRow};

pub(super) const FORMAT: &str = "composer";

/// One local version, ready to render but for its dist's URL.
struct LocalVersion {
    dev: bool,
    /// The metadata entry without `dist.url`.
    entry: Map<String, Value>,
    /// The path of its dist, below the base URL.
    dist_path: String,
}

/// A package's versions in one repository.
pub(crate) struct Local {
    /// Whether the repository has any version of it (yanked and quarantined ones included).
    any: bool,
    /// The available, unyanked versions.
    versions: Vec<LocalVersion>,
    /// The normalised versions the repository holds in any state but deleted: an upstream's
    /// copy of one of them is not listed (a yank or quarantine here is not undone by it).
    held: HashSet<String>,
}

fn time_of(millis: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

fn local_version(repo: &RepoRow, name: &str, row: &VersionRow) -> Option<LocalVersion> {
    let metadata: Value = serde_json::from_str(&row.metadata).ok()?;
    let normalized = metadata["version_normalized"].as_str()?.to_owned();
    let shasum = metadata["shasum"].as_str().unwrap_or_default();
    let mut entry = match &metadata["composer"] {
        Value::Object(fields) => fields.clone(),
        _ => Map::new(),
    };
    entry.insert("name".into(), json!(name));
    entry.insert("version".into(), json!(row.version));
    entry.insert("version_normalized".into(), json!(normalized));
    entry.insert(
        "dist".into(),
        json!({"type": "zip", "reference": shasum, "shasum": shasum}),
    );
    entry.insert("time".into(), json!(time_of(row.uploaded_at)));
    Some(LocalVersion {
        dev: crate::pure::version::is_dev(&normalized),
        entry,
        dist_path: dist_path(&repo.namespace, &repo.name, name, &row.version),
    })
}

/// The package's local versions, read at most once per cache epoch.
async fn local(app: &Arc<App>, repo: &RepoRow, name: &str) -> AppResult<Arc<Local>> {
    let key = format!("composer-local|{}|{name}", repo.id);
    gantry_protocol::caches::memoized(app, key, || async {
        let rows = app.db.composer_versions(repo.id, name).await?;
        let held = rows
            .iter()
            .filter_map(|r| crate::pure::version::normalize(&r.version).ok())
            .collect();
        let available: Vec<&VersionRow> = rows.iter().filter(|r| r.state == "available").collect();
        let versions = available
            .iter()
            .filter(|r| r.yanked == 0)
            .filter_map(|r| {
                let v = local_version(repo, name, r);
                if v.is_none() {
                    tracing::warn!(package = %name, version = %r.version, "stored composer metadata has no normalised version");
                }
                v
            })
            .collect();
        Ok(Local {
            any: !rows.is_empty(),
            versions,
            held,
        })
    })
    .await
}

pub(crate) async fn has_local(app: &Arc<App>, repo: &RepoRow, name: &str) -> AppResult<bool> {
    Ok(local(app, repo, name).await?.any)
}

/// `{"packages": {name: [versions]}}`.
fn render(name: &str, versions: Vec<Value>) -> Bytes {
    let mut packages = Map::new();
    packages.insert(name.to_owned(), Value::Array(versions));
    Bytes::from(json!({ "packages": packages }).to_string())
}

fn with_url(entry: &Map<String, Value>, url: String) -> Value {
    let mut entry = entry.clone();
    if let Some(Value::Object(dist)) = entry.get_mut("dist") {
        dist.insert("url".into(), Value::String(url));
    }
    Value::Object(entry)
}

fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(body)[..16]))
}

/// A JSON document with its ETag, or 304 when the client has it.
fn answer(headers: &HeaderMap, body: Bytes, etag: &str) -> AppResult<Response> {
    let mut out = HeaderMap::new();
    out.insert(
        ETAG,
        HeaderValue::from_str(etag).map_err(AppError::internal)?,
    );
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    out.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok((StatusCode::OK, out, body).into_response())
}

/// `GET /{owner}/{repo}/composer/packages.json`.
pub(crate) async fn packages_json(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let repo = repo.into_row();
    let key = format!("composer-root|{}", repo.id);
    let root = gantry_protocol::caches::memoized(&app, key, || async {
        let mut doc = json!({
            "packages": [],
            "metadata-url": format!("/{}/{}/composer/p2/%package%.json", repo.namespace, repo.name),
        });
        // The complete list of names spares Composer a request per unknown name; with
        // upstreams the list is not known, so Composer must ask.
        let upstreams = gantry_protocol::caches::upstreams(&app, repo.id, FORMAT).await?;
        if upstreams.is_empty() {
            doc["available-packages"] = json!(app.db.composer_names(repo.id).await?);
        }
        let body = Bytes::from(doc.to_string());
        let etag = etag_of(&body);
        Ok((body, etag))
    })
    .await?;
    answer(&headers, root.0.clone(), &root.1)
}

/// A metadata file's path below `/{owner}/{repo}/composer/p2/`.
#[derive(Deserialize)]
pub(crate) struct MetadataPath {
    vendor: String,
    file: String,
}

/// `GET /{owner}/{repo}/composer/p2/{vendor}/{package}.json` (and `~dev.json`).
pub(crate) async fn metadata(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    base: BaseUrl,
    ApiPath(MetadataPath { vendor, file }): ApiPath<MetadataPath>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let repo = repo.into_row();
    let stem = file.strip_suffix(".json");
    let (package, dev) = match stem.map(|s| (s.strip_suffix("~dev"), s)) {
        Some((Some(package), _)) => (package, true),
        Some((None, package)) => (package, false),
        None => ("", false),
    };
    let Some(name) = super::package_name(&vendor, package) else {
        return Err(AppError::NotFound(format!(
            "'{}' is not a metadata file of this repository (want p2/VENDOR/PACKAGE.json)",
            gantry_formats::archive::quote(&file)
        )));
    };
    let local = local(&app, &repo, &name).await?;
    let mut found = local.any;
    let mut remote = Vec::new();
    let mut failures = Vec::new();
    for upstream in upstreams_for_name(&app, repo.id, FORMAT, local.any).await? {
        match crate::upstream::versions(&app, &upstream, &name, dev).await {
            Ok(Some(versions)) => {
                found = true;
                remote.extend(versions);
            }
            Ok(None) => {}
            Err(e) => failures.push(format!("{}: {e}", upstream.name)),
        }
    }
    if !found {
        if failures.is_empty() {
            return Err(AppError::NotFound(format!(
                "{name} not found in {}",
                repo.slug()
            )));
        }
        return Err(AppError::BadGateway(format!(
            "{name} not found in {}, and its upstreams failed: {}",
            repo.slug(),
            failures.join("; ")
        )));
    }
    if remote.is_empty() {
        let key = format!("composer-p2|{}|{name}|{dev}|{}", repo.id, base.0);
        let rendered = gantry_protocol::caches::memoized(&app, key, || async {
            let versions = local_entries(&local, dev, &base.0);
            let body = render(&name, versions);
            let etag = etag_of(&body);
            Ok((body, etag))
        })
        .await?;
        return answer(&headers, rendered.0.clone(), &rendered.1);
    }
    let mut versions = local_entries(&local, dev, &base.0);
    let mut seen = local.held.clone();
    for mut entry in remote {
        let normalized = entry["version_normalized"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let version = entry["version"].as_str().unwrap_or_default().to_owned();
        if !seen.insert(normalized) {
            continue;
        }
        if let Value::Object(fields) = &mut entry {
            // Installs go through this repository, never around it.
            fields.remove("source");
            fields.remove("notification-url");
            let path = dist_path(&repo.namespace, &repo.name, &name, &version);
            fields.insert("name".into(), json!(name));
            if let Some(Value::Object(dist)) = fields.get_mut("dist") {
                dist.insert("url".into(), json!(format!("{}{path}", base.0)));
            }
        }
        versions.push(entry);
    }
    let body = render(&name, versions);
    let etag = etag_of(&body);
    answer(&headers, body, &etag)
}

fn local_entries(local: &Local, dev: bool, base: &str) -> Vec<Value> {
    local
        .versions
        .iter()
        .filter(|v| v.dev == dev)
        .map(|v| with_url(&v.entry, format!("{base}{}", v.dist_path)))
        .collect()
}
