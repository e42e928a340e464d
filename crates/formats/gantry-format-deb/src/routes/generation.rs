//! A distribution's metadata as one immutable *generation*: every `Packages` file, `Release`,
//! `InRelease` and `Release.gpg`, built together and signed, then published by swapping one
//! pointer. A client therefore never reads a `Release` whose indexes are missing; and since
//! the last few generations stay reachable by hash (`by-hash/SHA256/…`), a client that read
//! the previous `InRelease` just before a swap still gets the indexes it names.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use gantry_db::RepoRow;
use gantry_protocol::app::App;
use gantry_protocol::error::{AppError, AppResult};
use gantry_signing::RepositoryKey;
use sha2::{Digest, Sha256};

use crate::pure::index::{self, IndexEntry, ReleaseHead};
use crate::pure::remote::RemoteDeb;
use crate::queries::DebRow;
use crate::upstream::Remote;

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
    /// The upstreams' packages it lists, by `<upstream id>/<upstream path>`: only these are
    /// fetched from an upstream.
    pub(crate) upstream_files: HashMap<String, (i64, RemoteDeb)>,
    /// Upstream files a local package of the same identity shadows (by the same key): an apt
    /// whose lists predate a cache fill still asks for them there, and gets the local copy.
    pub(crate) shadowed: HashMap<String, RemoteDeb>,
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

/// The packages of `rows` listed in `dist` and available, as index entries, and the
/// identities of every live package listed in `dist` (a quarantined one shadows an
/// upstream's too: quarantine must not let the upstream's copy back in).
fn entries(rows: &[DebRow], dist: &str) -> (Vec<IndexEntry>, HashSet<(String, String, String)>) {
    let mut out = Vec::new();
    let mut identities = HashSet::new();
    for row in rows {
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
        identities.insert((row.name.clone(), row.version.clone(), row.qualifier.clone()));
        if row.state != "available" {
            continue;
        }
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
    (out, identities)
}

/// A distribution's local packages as index entries, with their identities (they shadow an
/// upstream's) and a validator of what they are; read at most once per cache epoch.
struct Local {
    entries: Vec<IndexEntry>,
    identities: HashSet<(String, String, String)>,
    validator: String,
}

async fn local(app: &App, repository_id: i64, dist: &str) -> AppResult<Arc<Local>> {
    let key = format!("deb-local:{repository_id}:{dist}");
    gantry_protocol::caches::memoized(app, key, || async {
        let rows = super::packages(app, repository_id).await?;
        let (entries, identities) = entries(&rows, dist);
        let mut hash = Sha256::new();
        for e in &entries {
            for part in [&e.filename, &e.sha256, &e.components.join(",")] {
                hash.update([0]);
                hash.update(part);
            }
        }
        Ok(Local {
            entries,
            identities,
            validator: hex::encode(hash.finalize()),
        })
    })
    .await
}

/// An upstream's packages in a distribution: (upstream id, whether it is local-names-only,
/// its packages).
type Upstream = (i64, bool, Arc<Remote>);

/// The upstreams' packages in `dist`, lowest priority first; an upstream that fails without
/// a kept copy lists nothing (and is logged and counted by the toolkit).
async fn remotes(app: &App, repository_id: i64, dist: &str) -> AppResult<Vec<Upstream>> {
    let upstreams = gantry_protocol::caches::upstreams(app, repository_id, "deb").await?;
    let mut out = Vec::new();
    for upstream in upstreams.iter() {
        match crate::upstream::packages(app, upstream, dist).await {
            Ok(remote) => out.push((upstream.id, upstream.local_names_only != 0, remote)),
            Err(error) => {
                tracing::warn!(upstream = %upstream.name, %dist, %error, "Debian upstream left out of the metadata");
            }
        }
    }
    Ok(out)
}

/// What a generation is built from: the local packages, the upstreams' and the key; equal
/// validators build the same indexes.
fn validator(local: &Local, remotes: &[Upstream], key: &RepositoryKey) -> String {
    let mut hash = Sha256::new();
    hash.update(key.fingerprint());
    hash.update(&local.validator);
    for (id, _, remote) in remotes {
        hash.update(id.to_le_bytes());
        hash.update(remote.digest.to_le_bytes());
    }
    hex::encode(hash.finalize())
}

/// What the upstreams add to a distribution.
#[derive(Default)]
struct FromUpstreams {
    entries: Vec<IndexEntry>,
    files: HashMap<String, (i64, RemoteDeb)>,
    shadowed: HashMap<String, RemoteDeb>,
}

/// The upstreams' packages not shadowed by a local one of the same (name, version,
/// architecture) nor by an upstream listed before — nor, from a local-names-only upstream,
/// by a local one of the same name — as index entries, and the files they name (by
/// `<upstream id>/<upstream path>`).
fn upstream_entries(local: &Local, remotes: &[Upstream], dist: &str) -> FromUpstreams {
    let mut seen = local.identities.clone();
    let local_names: HashSet<&str> = local
        .identities
        .iter()
        .map(|(n, _, _)| n.as_str())
        .collect();
    let mut out = FromUpstreams::default();
    for (id, local_names_only, remote) in remotes {
        for p in &remote.value {
            if *local_names_only && local_names.contains(p.name.as_str()) {
                continue;
            }
            let key = format!("{id}/{}", p.entry.filename);
            let identity = (
                p.name.clone(),
                p.version.clone(),
                p.entry.architecture.clone(),
            );
            if local.identities.contains(&identity) {
                out.shadowed.insert(key, p.clone());
                continue;
            }
            if !seen.insert(identity) {
                continue;
            }
            let mut entry = p.entry.clone();
            entry.filename = format!("upstream/{id}/{dist}/{}", p.entry.filename);
            out.entries.push(entry);
            out.files.insert(key, (*id, p.clone()));
        }
    }
    out
}

/// The current generation of `dist` in `repo`, built now if its packages, its upstreams'
/// or the key changed; `None` when nothing is listed in `dist`.
pub(crate) async fn current(
    app: &App,
    repo: &RepoRow,
    dist: &str,
) -> AppResult<Option<Arc<Generation>>> {
    let local = local(app, repo.id, dist).await?;
    let remotes = remotes(app, repo.id, dist).await?;
    if local.entries.is_empty() && remotes.iter().all(|(_, _, r)| r.value.is_empty()) {
        return Ok(None);
    }
    let key = gantry_signing::active_key(app, repo).await?;
    let validator = validator(&local, &remotes, &key);
    let store_key = (repo.id, dist.to_owned());
    if let Some(generation) = latest(&store_key).filter(|g| g.validator == validator) {
        return Ok(Some(generation));
    }
    let upstreams = upstream_entries(&local, &remotes, dist);
    let mut entries = local.entries.clone();
    entries.extend(upstreams.entries);
    let label = format!("{}/{}", repo.namespace, repo.name);
    let dist_owned = dist.to_owned();
    let mut generation =
        tokio::task::spawn_blocking(move || build(&entries, &key, &label, &dist_owned, validator))
            .await
            .map_err(AppError::internal)??;
    generation.upstream_files = upstreams.files;
    generation.shadowed = upstreams.shadowed;
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
        upstream_files: HashMap::new(),
        shadowed: HashMap::new(),
    })
}
