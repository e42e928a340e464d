//! A distribution's metadata as one immutable *generation*: every `Packages` file, `Release`,
//! `InRelease` and `Release.gpg`, built together and signed, then published by swapping one
//! pointer. A client therefore never reads a `Release` whose indexes are missing; and since
//! the last few generations stay reachable by hash (`by-hash/SHA256/…`), a client that read
//! the previous `InRelease` just before a swap still gets the indexes it names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use gantry_db::RepoRow;
use gantry_protocol::app::App;
use gantry_protocol::error::{AppError, AppResult};
use gantry_signing::RepositoryKey;
use sha2::{Digest, Sha256};

use crate::pure::index::{self, IndexEntry, ReleaseHead};
use crate::queries::DebRow;

/// Generations kept per distribution for by-hash reads.
const KEPT: usize = 3;
/// Distributions kept in memory across repositories before the oldest are dropped (they
/// are rebuilt on their next read).
const MAX_DISTRIBUTIONS: usize = 4096;

pub(crate) struct Generation {
    validator: String,
    /// Paths under `dists/<dist>/`, with their entity tags (computed once, not per read).
    pub(crate) files: HashMap<String, (Bytes, String)>,
    /// Index files by SHA256.
    pub(crate) by_hash: HashMap<String, Bytes>,
}

type Store = Mutex<HashMap<(i64, String), Vec<Arc<Generation>>>>;

fn store() -> &'static Store {
    static STORE: std::sync::OnceLock<Store> = std::sync::OnceLock::new();
    STORE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn latest(key: &(i64, String)) -> Option<Arc<Generation>> {
    store().lock().ok()?.get(key)?.last().cloned()
}

/// The kept generations of a distribution, newest last.
pub(crate) fn kept(repository_id: i64, dist: &str) -> Vec<Arc<Generation>> {
    store()
        .lock()
        .ok()
        .and_then(|s| s.get(&(repository_id, dist.to_owned())).cloned())
        .unwrap_or_default()
}

fn publish(key: (i64, String), generation: Arc<Generation>) {
    if let Ok(mut s) = store().lock() {
        if s.len() >= MAX_DISTRIBUTIONS && !s.contains_key(&key) {
            s.clear();
        }
        let list = s.entry(key).or_default();
        list.push(generation);
        if list.len() > KEPT {
            list.remove(0);
        }
    }
}

/// The packages of `rows` listed in `dist` and available, as index entries.
fn entries(rows: &[DebRow], dist: &str) -> Vec<IndexEntry> {
    let mut out = Vec::new();
    for row in rows.iter().filter(|r| r.state == "available") {
        let Ok(metadata) = serde_json::from_str::<serde_json::Value>(&row.metadata) else {
            continue;
        };
        let components: Vec<String> = metadata["listings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["distribution"] == dist)
            .filter_map(|l| l["component"].as_str().map(str::to_owned))
            .collect();
        let Some(first) = components.first() else {
            continue;
        };
        let control = metadata["control"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|pair| Some((pair[0].as_str()?.to_owned(), pair[1].as_str()?.to_owned())))
            .collect();
        out.push(IndexEntry {
            control,
            architecture: row.qualifier.clone(),
            filename: index::pool_path(first, &row.name, &row.filename),
            size: row.size,
            md5: row.md5.clone(),
            sha1: row.sha1.clone(),
            sha256: row.sha256.clone(),
            sha512: row.sha512.clone(),
            components,
        });
    }
    out
}

/// What a generation is built from: its entries and the key; equal validators build the
/// same indexes.
fn validator(entries: &[IndexEntry], key: &RepositoryKey) -> String {
    let mut hash = Sha256::new();
    hash.update(key.fingerprint());
    for e in entries {
        hash.update([0]);
        hash.update(&e.filename);
        hash.update([0]);
        hash.update(&e.sha256);
        hash.update([0]);
        hash.update(e.components.join(","));
    }
    hex::encode(hash.finalize())
}

/// The current generation of `dist` in `repo`, built now if its packages or key changed;
/// `None` when nothing is listed in `dist`.
pub(crate) async fn current(
    app: &App,
    repo: &RepoRow,
    dist: &str,
) -> AppResult<Option<Arc<Generation>>> {
    let rows = super::packages(app, repo.id).await?;
    let entries = entries(&rows, dist);
    if entries.is_empty() {
        return Ok(None);
    }
    let key = gantry_signing::active_key(app, repo).await?;
    let validator = validator(&entries, &key);
    let store_key = (repo.id, dist.to_owned());
    if let Some(generation) = latest(&store_key).filter(|g| g.validator == validator) {
        return Ok(Some(generation));
    }
    let label = format!("{}/{}", repo.namespace, repo.name);
    let dist_owned = dist.to_owned();
    let generation =
        tokio::task::spawn_blocking(move || build(&entries, &key, &label, &dist_owned, validator))
            .await
            .map_err(AppError::internal)??;
    let generation = Arc::new(generation);
    publish(store_key, Arc::clone(&generation));
    Ok(Some(generation))
}

fn build(
    entries: &[IndexEntry],
    key: &RepositoryKey,
    label: &str,
    dist: &str,
    validator: String,
) -> AppResult<Generation> {
    let mut components: Vec<String> = entries.iter().flat_map(|e| e.components.clone()).collect();
    components.sort();
    components.dedup();
    let archs = index::architectures(entries);
    let files = index::packages_files(entries, &components, &archs).map_err(AppError::internal)?;
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S UTC")
        .to_string();
    let head = ReleaseHead {
        label,
        distribution: dist,
        date: &date,
        components: &components,
        architectures: &archs,
    };
    let release = index::release(&head, &files);
    let inrelease = key.clear_sign(&release).map_err(AppError::internal)?;
    let detached = key
        .detached_sign(release.as_bytes())
        .map_err(AppError::internal)?;
    let mut by_hash = HashMap::new();
    let mut out = HashMap::new();
    let tagged = |body: Vec<u8>| {
        let etag = format!("\"{}\"", hex::encode(Sha256::digest(&body)));
        (Bytes::from(body), etag)
    };
    for f in files {
        let body = Bytes::from(f.body);
        by_hash.insert(f.sha256.clone(), body.clone());
        out.insert(f.path, (body, format!("\"{}\"", f.sha256)));
    }
    out.insert("Release".to_owned(), tagged(release.into_bytes()));
    out.insert("InRelease".to_owned(), tagged(inrelease.into_bytes()));
    out.insert("Release.gpg".to_owned(), tagged(detached.into_bytes()));
    Ok(Generation {
        validator,
        files: out,
        by_hash,
    })
}
