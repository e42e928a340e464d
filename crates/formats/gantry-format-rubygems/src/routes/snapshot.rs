//! A repository's rendered indexes: every document of the compact index and the legacy
//! indexes, built together from one query of its live gems (`/versions` needs each gem's
//! `/info` digest anyway). A snapshot is kept per repository and reused while the
//! repository's gems are unchanged: within a cache epoch without any query, across epochs
//! after one cheap stamp query, so an index request does no database work when nothing
//! changed and renders nothing when nothing it shows changed.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use bytes::Bytes;
use sha2::Digest as _;

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::pure::index::{
    info_document, legacy_tuples, md5_hex, names_document, order, versions_document, IndexEntry,
    Legacy, VersionsLine,
};
use crate::pure::{marshal, stored_spec};
use crate::queries::{GemQueries, GemRow};

/// Repositories whose snapshots are kept across epochs (the least recent go first).
const KEPT: usize = 256;

/// A rendered document with its validators.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub body: Bytes,
    /// `"MD5"`: Bundler 2.3 checks a document it pieced together from ranges against it.
    pub etag: String,
    /// `sha-256=:BASE64:`, for `Repr-Digest`.
    pub digest: String,
}

impl Doc {
    pub(crate) fn new(body: impl Into<Bytes>) -> Self {
        let body = body.into();
        let etag = format!("\"{}\"", md5_hex(&body));
        let sha = sha2::Sha256::digest(&body);
        let digest = format!(
            "sha-256=:{}:",
            base64::engine::general_purpose::STANDARD.encode(sha)
        );
        Self { body, etag, digest }
    }
}

pub(crate) struct Snapshot {
    pub entries: Vec<IndexEntry>,
    /// The `/info` of each gem with an unyanked version.
    pub infos: BTreeMap<String, Doc>,
    pub version_lines: Vec<VersionsLine>,
    pub versions: Doc,
    pub names: Doc,
    /// The gzipped legacy indexes, in [`Legacy`] order, rendered when first asked for.
    legacy: [OnceLock<Option<Doc>>; 3],
    /// `created_at` of `/versions`: the newest change.
    pub created_at: String,
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).ok()?;
    gz.finish().ok()
}

impl Snapshot {
    fn build(rows: Vec<GemRow>) -> Self {
        let mut newest = 0i64;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let metadata: serde_json::Value =
                serde_json::from_str(&row.metadata).unwrap_or_default();
            let Some(spec) = stored_spec(&metadata) else {
                tracing::warn!(package = row.id, "stored gem metadata has no specification");
                continue;
            };
            newest = newest.max(row.updated_at);
            entries.push(IndexEntry {
                spec,
                sha256: row.primary_sha256,
                yanked: row.yanked != 0,
            });
        }
        let mut by_name: BTreeMap<&str, Vec<&IndexEntry>> = BTreeMap::new();
        for e in &entries {
            if !e.yanked {
                by_name.entry(e.spec.name.as_str()).or_default().push(e);
            }
        }
        let mut infos = BTreeMap::new();
        let mut version_lines = Vec::with_capacity(by_name.len());
        for (name, mut list) in by_name {
            let info = Doc::new(info_document(&list));
            list.sort_by(|a, b| order(a, b));
            version_lines.push(VersionsLine {
                name: name.to_owned(),
                versions: list.iter().map(|e| e.version_platform()).collect(),
                info_md5: info.etag.trim_matches('"').to_owned(),
            });
            infos.insert(name.to_owned(), info);
        }
        let created_at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(newest)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let versions = Doc::new(versions_document(&created_at, &version_lines));
        let names = Doc::new(names_document(infos.keys().map(String::as_str)));
        Self {
            entries,
            infos,
            version_lines,
            versions,
            names,
            legacy: Default::default(),
            created_at,
        }
    }

    /// A gzipped legacy index; `None` only past the Marshal writer's bound.
    pub(crate) fn legacy(&self, which: Legacy) -> Option<&Doc> {
        let slot = match which {
            Legacy::Specs => &self.legacy[0],
            Legacy::Latest => &self.legacy[1],
            Legacy::Prerelease => &self.legacy[2],
        };
        slot.get_or_init(|| {
            let tuples = legacy_tuples(&self.entries, which);
            let marshalled = marshal::spec_tuples(tuples.into_iter())?;
            Some(Doc::new(gzip(&marshalled)?))
        })
        .as_ref()
    }
}

type Kept = HashMap<(usize, i64), ([i64; 4], Arc<Snapshot>, u64)>;

fn kept() -> &'static Mutex<Kept> {
    static KEPT_SNAPSHOTS: OnceLock<Mutex<Kept>> = OnceLock::new();
    KEPT_SNAPSHOTS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The snapshot of a repository's indexes.
pub(crate) async fn snapshot(app: &Arc<App>, repository_id: i64) -> AppResult<Arc<Snapshot>> {
    let key = format!("rubygems-index|{repository_id}");
    let memo = gantry_protocol::caches::memoized(app, key, || async {
        let stamp = app.db.gems_stamp(repository_id).await?;
        // Keyed by the app too: one process may hold servers of several databases (tests).
        let kept_key = (Arc::as_ptr(app) as usize, repository_id);
        if let Ok(mut kept) = kept().lock() {
            if let Some((kept_stamp, snapshot, used)) = kept.get_mut(&kept_key) {
                if *kept_stamp == stamp {
                    *used = gantry_core::time::now_millis() as u64;
                    return Ok(Arc::clone(snapshot));
                }
            }
        }
        let rows = app.db.gem_rows(repository_id).await?;
        let snapshot = tokio::task::spawn_blocking(move || Snapshot::build(rows))
            .await
            .map_err(AppError::internal)?;
        let snapshot = Arc::new(snapshot);
        if let Ok(mut kept) = kept().lock() {
            if kept.len() >= KEPT {
                let oldest = kept.iter().min_by_key(|(_, v)| v.2).map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    kept.remove(&oldest);
                }
            }
            let now = gantry_core::time::now_millis() as u64;
            kept.insert(kept_key, (stamp, Arc::clone(&snapshot), now));
        }
        Ok(snapshot)
    })
    .await?;
    Ok(Arc::clone(&memo))
}
