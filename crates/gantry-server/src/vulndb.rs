//! Importing OSV advisories: a directory of JSON records, a zip of them, or a tree of
//! per-ecosystem bundles laid out as `<Ecosystem>/all.zip`. Records whose `modified` is
//! unchanged are skipped, so an import is incremental and idempotent; packages whose names
//! gained or lost advisories are rescanned.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_db::JobRow;
use gantry_jobs::{Completion, Job, JobContext, JobError};

use gantry_db::NewAdvisory;
use gantry_vuln::Ecosystem;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::jobs::{AppJob, JobResult};

/// Entries a zip may hold, and the largest record read.
const MAX_ENTRIES: usize = 500_000;
const MAX_RECORD: u64 = 4 * 1024 * 1024;
/// Files a directory walk visits.
const MAX_FILES: usize = 1_000_000;

#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct ImportReport {
    /// Records read.
    pub(crate) records: usize,
    pub(crate) added: usize,
    pub(crate) updated: usize,
    pub(crate) unchanged: usize,
    /// Records that could not be parsed, with their names (at most 20 shown).
    pub(crate) skipped: usize,
    pub(crate) skipped_examples: Vec<String>,
    /// Packages queued for a rescan because their advisories changed.
    pub(crate) rescans: usize,
    pub(crate) seconds: f64,
}

/// Turns raw records into advisories to store.
fn collect(records: Vec<(String, Vec<u8>)>, report: &mut ImportReport) -> Vec<NewAdvisory> {
    let mut out = Vec::with_capacity(records.len());
    for (name, bytes) in records {
        report.records += 1;
        let parsed = gantry_vuln::parse_advisory(&bytes);
        let Ok(advisory) = parsed else {
            report.skipped += 1;
            if report.skipped_examples.len() < 20 {
                report.skipped_examples.push(name);
            }
            continue;
        };
        let mut packages: Vec<(String, String)> = advisory
            .affected
            .iter()
            .filter_map(|a| {
                // A distribution's records are stored under their release (`Debian:12`).
                let eco = Ecosystem::parse(&a.ecosystem)?;
                Some((Ecosystem::key(&a.ecosystem)?, eco.normalize_name(&a.name)))
            })
            .collect();
        packages.sort();
        packages.dedup();
        out.push(NewAdvisory {
            id: advisory.id.clone(),
            modified: advisory.modified.clone(),
            withdrawn: advisory.withdrawn.clone(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
            packages,
        });
    }
    out
}

fn read_zip(bytes: &[u8], label: &str, records: &mut Vec<(String, Vec<u8>)>) -> Result<(), String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("{label} is not a valid zip: {e}"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!("{label} has more than {MAX_ENTRIES} entries"));
    }
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("{label}: cannot read entry {i}: {e}"))?;
        let name = entry.name().to_owned();
        if !name.ends_with(".json") || entry.is_dir() {
            continue;
        }
        let mut body = Vec::new();
        (&mut entry)
            .take(MAX_RECORD + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("{label}: cannot read {name}: {e}"))?;
        if body.len() as u64 > MAX_RECORD {
            return Err(format!("{label}: {name} is larger than {MAX_RECORD} bytes"));
        }
        records.push((format!("{label}:{name}"), body));
    }
    Ok(())
}

/// Reads every record under `path` (a file or a directory tree).
fn read_path(path: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut records = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    let mut visited = 0usize;
    while let Some(p) = stack.pop() {
        visited += 1;
        if visited > MAX_FILES {
            return Err(format!(
                "more than {MAX_FILES} files under {}",
                path.display()
            ));
        }
        let meta = std::fs::symlink_metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(&p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect();
            entries.sort();
            stack.extend(entries);
            continue;
        }
        if !meta.is_file() {
            continue; // links and devices are not followed
        }
        let label = p.display().to_string();
        if label.ends_with(".zip") {
            let bytes = std::fs::read(&p).map_err(|e| format!("{label}: {e}"))?;
            read_zip(&bytes, &label, &mut records)?;
        } else if label.ends_with(".json") {
            if meta.len() > MAX_RECORD {
                return Err(format!("{label} is larger than {MAX_RECORD} bytes"));
            }
            let bytes = std::fs::read(&p).map_err(|e| format!("{label}: {e}"))?;
            records.push((label, bytes));
        }
    }
    Ok(records)
}

/// Imports records read from `path` on the server.
pub(crate) async fn import_path(app: &Arc<App>, path: &Path) -> Result<ImportReport, String> {
    let start = Instant::now();
    let owned = path.to_path_buf();
    let records = tokio::task::spawn_blocking(move || read_path(&owned))
        .await
        .map_err(|e| e.to_string())??;
    finish(app, records, start).await
}

/// Imports an uploaded zip or JSON record.
pub(crate) async fn import_bytes(app: &Arc<App>, bytes: Vec<u8>) -> Result<ImportReport, String> {
    let start = Instant::now();
    let records = tokio::task::spawn_blocking(move || {
        let mut records = Vec::new();
        if bytes.starts_with(b"PK") {
            read_zip(&bytes, "upload", &mut records)?;
        } else {
            records.push(("upload".to_owned(), bytes));
        }
        Ok::<_, String>(records)
    })
    .await
    .map_err(|e| e.to_string())??;
    finish(app, records, start).await
}

async fn finish(
    app: &Arc<App>,
    records: Vec<(String, Vec<u8>)>,
    start: Instant,
) -> Result<ImportReport, String> {
    let mut report = ImportReport::default();
    let advisories = tokio::task::block_in_place(|| collect(records, &mut report));
    let outcome = app
        .db
        .import_advisories(&advisories)
        .await
        .map_err(|e| e.to_string())?;
    report.added = outcome.added;
    report.updated = outcome.updated;
    report.unchanged = outcome.unchanged;
    report.rescans = rescan(app, &outcome.touched).await?;
    report.seconds = start.elapsed().as_secs_f64();
    tracing::info!(
        records = report.records,
        added = report.added,
        updated = report.updated,
        rescans = report.rescans,
        seconds = report.seconds,
        "vulnerability database imported"
    );
    Ok(report)
}

/// Queues scans of live packages whose names an import touched.
async fn rescan(app: &Arc<App>, touched: &[(String, String)]) -> Result<usize, String> {
    let mut queued = 0;
    let epoch = crate::jobs::scan_batch::new_epoch();
    for format_id in app.formats.ids() {
        let Some(format) = app.formats.get(format_id) else {
            continue;
        };
        let Some(eco) = format.vulnerability_ecosystem() else {
            continue;
        };
        let names: Vec<String> = touched
            .iter()
            .filter(|(e, _)| e == eco)
            .map(|(_, n)| n.clone())
            .collect();
        for chunk in names.chunks(500) {
            let packages = app
                .db
                .packages_named(format_id, chunk)
                .await
                .map_err(|e| e.to_string())?;
            // One job per batch: the batch reads and writes in bulk (jobs/scan_batch.rs).
            let ids: Vec<i64> = packages.iter().map(|(id, _)| *id).collect();
            for batch in ids.chunks(crate::jobs::scan_batch::BATCH) {
                let job = crate::jobs::scan_batch::ScanBatch {
                    package_ids: batch.to_vec(),
                    reason: "vulndb import".into(),
                    epoch: Some(epoch.clone()),
                }
                .to_new_job();
                app.db
                    .queue_scan_batch(batch, &job)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            queued += ids.len();
        }
    }
    // Packages scanned by their contents (images) hold packages of other ecosystems.
    for format_id in app.formats.ids() {
        let Some(scan) = crate::plugin::plugins()
            .get(format_id)
            .and_then(|p| p.content_scan())
        else {
            continue;
        };
        let packages = (scan.touched)(app, touched)
            .await
            .map_err(|e| e.to_string())?;
        queued += queue_rescans(app, &packages).await?;
    }
    if queued > 0 {
        app.wake_workers();
    }
    Ok(queued)
}

/// Queues scans of `packages` ((id, slug_perm)); how many.
async fn queue_rescans(app: &App, packages: &[(i64, String)]) -> Result<usize, String> {
    let jobs: Vec<_> = packages
        .iter()
        .map(|(id, slug)| (*id, crate::jobs::scan::scan_job(slug, "vulndb import")))
        .collect();
    app.db.queue_scans(&jobs).await.map_err(|e| e.to_string())?;
    Ok(jobs.len())
}

/// OSV ecosystems fetched by the periodic sync.
const SYNC_ECOSYSTEMS: &[&str] = &[
    "PyPI",
    "npm",
    "crates.io",
    "Go",
    "Maven",
    "NuGet",
    "RubyGems",
    "Packagist",
];

crate::jobs::periodic_job!(
    /// One round of the periodic sync of the vulnerability database (`vulndb.sync`): a
    /// scheduled job, so it runs on one replica at a time, stops with the workers on shutdown,
    /// and is taken over by another worker if its own dies. Each round schedules the next.
    VulndbSync,
    "vulndb.sync"
);

/// Schedules the first round when `vulndb_url` is set and no round is outstanding (a
/// round scheduled by an earlier run keeps its time).
pub(crate) async fn schedule_sync(app: &App) -> anyhow::Result<()> {
    if app.config.vulndb_url.is_some() {
        app.db
            .schedule_job(&VulndbSync {}.to_new_job(), None)
            .await?;
    }
    Ok(())
}

impl AppJob for VulndbSync {
    async fn run(self, app: &Arc<App>, job: &JobRow, _ctx: &JobContext) -> JobResult {
        let Some(base) = app.config.vulndb_url.clone() else {
            // The operator removed the URL: the schedule ends here.
            return Ok(Completion::Done);
        };
        let failed = sync_round(app, &base).await;
        let interval = Duration::from_secs(app.config.vulndb_sync_interval_seconds);
        // A failed round is tried again within a minute rather than a whole interval.
        let wait = if failed {
            interval.min(Duration::from_secs(60))
        } else {
            interval
        };
        crate::jobs::schedule_round::<Self>(app, wait, Some(job.id))
            .await
            .map_err(JobError::retry)?;
        Ok(Completion::Done)
    }
}

/// Fetches `<base>/<Ecosystem>/all.zip` for every ecosystem and imports what changed; true
/// when a fetch failed.
async fn sync_round(app: &Arc<App>, base: &str) -> bool {
    let mut failed = false;
    for eco in SYNC_ECOSYSTEMS {
        let url = format!("{base}/{}/all.zip", url_escape(eco));
        match fetch_bundle(app, &url).await {
            Ok(Some(bytes)) => match import_bytes(app, bytes).await {
                Ok(report) => {
                    tracing::info!(%url, added = report.added, updated = report.updated, "vulnerability database synced")
                }
                Err(e) => tracing::warn!(%url, error = %e, "importing a synced bundle failed"),
            },
            Ok(None) => tracing::debug!(%url, "no bundle for this ecosystem"),
            Err(e) => {
                failed = true;
                tracing::warn!(%url, error = %e, "fetching a vulnerability bundle failed");
            }
        }
    }
    failed
}

fn url_escape(segment: &str) -> String {
    segment.replace(' ', "%20")
}

async fn fetch_bundle(app: &App, url: &str) -> Result<Option<Vec<u8>>, String> {
    let response = app
        .http
        .get(url)
        .timeout(std::time::Duration::from_secs(600))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let mut out = Vec::new();
    let mut stream = response.bytes_stream();
    use futures::StreamExt as _;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if out.len() + chunk.len() > 1024 * 1024 * 1024 {
            return Err("bundle larger than 1 GiB".into());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}
