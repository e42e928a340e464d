//! The repodata generations a server holds per repository. A generation is built whole — the
//! three documents, then `repomd.xml` naming them, then its signature — and only then made
//! current by replacing one pointer, so a client never reads a `repomd.xml` whose files are
//! missing. The generations before it stay servable for a while (a client may have read the
//! old `repomd.xml` just before the switch). Which generation is current is decided by a
//! fingerprint of the listed packages, read once per cache epoch, and of the upstreams'
//! packages (kept in memory for their TTL): when nothing changed a read costs no database
//! work, and a change anywhere else costs one indexed count.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use gantry_db::{RepoRow, UpstreamRow};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::pure::remote::RemotePackage;
use crate::pure::repodata::{self, Listed};
use crate::pure::RpmMeta;
use crate::queries::{ListedRow, RpmQueries};
use crate::upstream::Remote;

/// Earlier generations kept per repository beside the current one.
const KEPT: usize = 3;
/// Repositories whose generations are kept in memory (the least recently built go first).
const MAX_REPOSITORIES: usize = 512;

/// One built generation: every file under `repodata/`, and the upstreams' packages it lists
/// (by their path under `upstream/`).
pub(crate) struct Built {
    pub(crate) repomd: Bytes,
    pub(crate) signature: Option<Bytes>,
    pub(crate) files: HashMap<String, Bytes>,
    pub(crate) upstream_files: HashMap<String, (i64, RemotePackage)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    local: (i64, i64, i64, i64),
    key: String,
    upstreams: Vec<(i64, u64)>,
}

struct Held {
    fingerprint: Fingerprint,
    current: Arc<Built>,
    earlier: VecDeque<Arc<Built>>,
    built_at: u64,
}

fn held() -> &'static Mutex<HashMap<i64, Held>> {
    static HELD: OnceLock<Mutex<HashMap<i64, Held>>> = OnceLock::new();
    HELD.get_or_init(|| Mutex::new(HashMap::new()))
}

fn lock() -> AppResult<std::sync::MutexGuard<'static, HashMap<i64, Held>>> {
    held()
        .lock()
        .map_err(|_| AppError::internal("the repodata generations' lock was poisoned"))
}

/// The upstreams' packages; an upstream that fails without a kept copy lists nothing (and
/// is logged and counted by the toolkit).
async fn remotes(app: &App, repo: &RepoRow) -> AppResult<Vec<(UpstreamRow, Arc<Remote>)>> {
    let upstreams = gantry_protocol::caches::upstreams(app, repo.id, crate::pure::ID).await?;
    let mut out = Vec::new();
    for upstream in upstreams.iter() {
        match crate::upstream::packages(app, upstream).await {
            Ok(remote) => out.push((upstream.clone(), remote)),
            Err(error) => {
                tracing::warn!(upstream = %upstream.name, %error, "RPM upstream left out of the repodata");
            }
        }
    }
    Ok(out)
}

/// The repository's current generation, built first if its packages changed.
pub(crate) async fn current(app: &App, repo: &RepoRow) -> AppResult<Arc<Built>> {
    let repository_id = repo.id;
    let local = *gantry_protocol::caches::memoized(
        app,
        format!("rpm-fingerprint|{repository_id}"),
        || async { Ok(app.db.rpm_fingerprint(repository_id).await?) },
    )
    .await?;
    let remotes = remotes(app, repo).await?;
    let fingerprint = Fingerprint {
        local,
        key: super::signing::fingerprint(app, repo).await?,
        upstreams: remotes.iter().map(|(u, r)| (u.id, r.digest)).collect(),
    };
    if let Some(h) = lock()?.get(&repository_id) {
        if h.fingerprint == fingerprint {
            return Ok(Arc::clone(&h.current));
        }
    }
    let built = Arc::new(build(app, repo, local.1, remotes).await?);
    let mut all = lock()?;
    let clock = all.values().map(|h| h.built_at).max().unwrap_or(0) + 1;
    if all.len() >= MAX_REPOSITORIES && !all.contains_key(&repository_id) {
        if let Some(oldest) = all.iter().min_by_key(|(_, h)| h.built_at).map(|(k, _)| *k) {
            all.remove(&oldest);
        }
    }
    let entry = all.entry(repository_id).or_insert_with(|| Held {
        fingerprint: fingerprint.clone(),
        current: Arc::clone(&built),
        earlier: VecDeque::new(),
        built_at: clock,
    });
    if entry.fingerprint != fingerprint {
        let previous = std::mem::replace(&mut entry.current, Arc::clone(&built));
        entry.earlier.push_front(previous);
        entry.earlier.truncate(KEPT);
        entry.fingerprint = fingerprint;
        entry.built_at = clock;
    }
    Ok(Arc::clone(&entry.current))
}

/// A document of the current or a recent generation, by its file name.
pub(crate) async fn data_file(
    app: &App,
    repo: &RepoRow,
    filename: &str,
) -> AppResult<Option<Bytes>> {
    let current = current(app, repo).await?;
    if let Some(bytes) = current.files.get(filename) {
        return Ok(Some(bytes.clone()));
    }
    let all = lock()?;
    Ok(all.get(&repo.id).and_then(|h| {
        h.earlier
            .iter()
            .find_map(|g| g.files.get(filename).cloned())
    }))
}

async fn build(
    app: &App,
    repo: &RepoRow,
    last_change_ms: i64,
    remotes: Vec<(UpstreamRow, Arc<Remote>)>,
) -> AppResult<Built> {
    let rows = app.db.rpm_listed(repo.id).await?;
    let shadowed: HashSet<(String, String, String)> = if remotes.is_empty() {
        HashSet::new()
    } else {
        app.db.rpm_identities(repo.id).await?.into_iter().collect()
    };
    let mut upstream_files = HashMap::new();
    let mut seen = HashSet::new();
    for (upstream, remote) in &remotes {
        for p in &remote.value {
            let identity = (p.meta.name.clone(), p.meta.evr(), p.meta.arch.clone());
            if shadowed.contains(&identity) || !seen.insert(identity) {
                continue;
            }
            let path = format!("{}/{}", upstream.id, p.href);
            upstream_files.insert(path, (upstream.id, p.clone()));
        }
    }
    let listed_upstream: Vec<(String, RemotePackage)> = upstream_files
        .iter()
        .map(|(path, (_, p))| (path.clone(), p.clone()))
        .collect();
    let timestamp = u64::try_from(last_change_ms / 1000).unwrap_or(0);
    // Decoding every package's metadata and compressing the documents is CPU work.
    let generation =
        tokio::task::spawn_blocking(move || render(&rows, &listed_upstream, timestamp))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
    let signature = super::signing::sign(app, repo, &generation.repomd).await?;
    Ok(Built {
        repomd: Bytes::from(generation.repomd),
        signature,
        files: generation
            .files
            .into_iter()
            .map(|f| (f.filename, Bytes::from(f.bytes)))
            .collect(),
        upstream_files,
    })
}

fn render(
    rows: &[ListedRow],
    upstream: &[(String, RemotePackage)],
    timestamp: u64,
) -> std::io::Result<repodata::Generation> {
    let metas: Vec<(&ListedRow, RpmMeta)> = rows
        .iter()
        .filter_map(|row| match serde_json::from_str(&row.metadata) {
            Ok(meta) => Some((row, meta)),
            Err(e) => {
                tracing::warn!(slug = %row.slug_perm, error = %e, "stored RPM metadata unreadable; left out of the repodata");
                None
            }
        })
        .collect();
    let mut listed: Vec<Listed<'_>> = metas
        .iter()
        .map(|(row, meta)| Listed {
            meta,
            sha256: &row.sha256,
            size: u64::try_from(row.size).unwrap_or(0),
            time: u64::try_from(row.uploaded_at / 1000).unwrap_or(0),
            href: format!(
                "files/{}/{}",
                row.slug_perm,
                gantry_formats::encode_segment(&row.filename)
            ),
        })
        .collect();
    let mut remote: Vec<&(String, RemotePackage)> = upstream.iter().collect();
    remote.sort_by(|a, b| a.0.cmp(&b.0));
    listed.extend(remote.into_iter().map(|(path, p)| Listed {
        meta: &p.meta,
        sha256: &p.sha256,
        size: p.size,
        time: p.time,
        href: format!("upstream/{path}"),
    }));
    repodata::generate(&listed, timestamp)
}
