//! Rescans in batches (`scan_batch`): after an advisory import touches thousands of packages,
//! one job scans up to [`BATCH`] of them. The advisories of all their names are read and
//! parsed once (one query per ecosystem and 500 names), matched in memory, and every result is
//! written in one transaction, so throughput is not bound by one round trip per package.
//! Packages the batch cannot match by ecosystem and name (images, whose contents are read)
//! get the one-package scan job instead. The outcome per package is the one-package job's:
//! the same findings, figures, exceptions, event and policy evaluation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gantry_core::{PackageState, ScanStatus};
use gantry_db::{ExceptionRow, JobRow, NewEvent, NewJob, PackageRow, ScanResult};
use gantry_jobs::{Completion, Job, JobContext, JobError};
use gantry_vuln::{Advisory, Ecosystem, Finding, MatchResult, Matcher};

use super::scan::{alias_records, scan_job, scanned_event, summarize, wanted_aliases};
use super::{scan_cache, AppJob, JobResult};
use crate::app::App;

/// Packages per batch job.
pub(crate) const BATCH: usize = 500;
/// Alias records read per query.
const ALIAS_CHUNK: usize = 500;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct ScanBatch {
    pub(crate) package_ids: Vec<i64>,
    pub(crate) reason: String,
    /// The import that queued the batch (see `scan_cache`); batches queued before it existed
    /// have none and read every record themselves.
    #[serde(default)]
    pub(crate) epoch: Option<String>,
}

/// A new import's epoch: its start time first, so that epochs order like imports.
pub(crate) fn new_epoch() -> String {
    format!(
        "{:016}-{}",
        gantry_core::time::now_millis(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Time spent in a batch, by step (bench/scan.sh reads them from the log line).
#[derive(Default)]
struct Timings {
    reading: std::time::Duration,
    parsing: std::time::Duration,
    matching: std::time::Duration,
}

impl Job for ScanBatch {
    const KIND: &'static str = "scan_batch";
    const MAX_ATTEMPTS: i64 = 5;
}

impl AppJob for ScanBatch {
    async fn run(self, app: &Arc<App>, job: &JobRow, ctx: &JobContext) -> JobResult {
        scan_batch(app, self, job, ctx).await
    }
}

/// A package matched in memory, before its result is summarised.
struct Matched<'p> {
    package: &'p PackageRow,
    ecosystem: Ecosystem,
    osv_name: &'static str,
    findings: Vec<Finding>,
    indeterminate: Vec<String>,
}

/// Splits the batch: packages matched here, by ecosystem key, and the scan jobs of the rest.
fn partition<'p>(
    app: &App,
    packages: &'p [PackageRow],
    reason: &str,
) -> (BTreeMap<String, Vec<&'p PackageRow>>, Vec<NewJob>) {
    let mut groups: BTreeMap<String, Vec<&PackageRow>> = BTreeMap::new();
    let mut singles = Vec::new();
    for p in packages {
        let contents = crate::plugin::plugins()
            .get(p.format.as_str())
            .is_some_and(|plugin| plugin.content_scan().is_some());
        let key = app
            .formats
            .get(p.format.as_str())
            .and_then(|f| f.vulnerability_ecosystem())
            .and_then(Ecosystem::key);
        match key {
            Some(key) if !contents => groups.entry(key).or_default().push(p),
            _ => singles.push(scan_job(&p.slug_perm, reason)),
        }
    }
    (groups, singles)
}

/// The prepared advisories of each of `names` in `key`: from the import's index when it has
/// them, else read, parsed and prepared (and kept for the import's other batches).
async fn matchers_of(
    app: &App,
    epoch: Option<&str>,
    ecosystem: Ecosystem,
    key: &str,
    names: &[String],
    timings: &mut Timings,
) -> Result<HashMap<String, Arc<Matcher>>, String> {
    let (mut found, missing) = scan_cache::MATCHERS.lookup(epoch, key, names);
    if missing.is_empty() {
        return Ok(found);
    }
    let read = std::time::Instant::now();
    let rows = app
        .db
        .advisories_for_names(key, &missing)
        .await
        .map_err(|e| e.to_string())?;
    let parse = std::time::Instant::now();
    timings.reading += parse - read;
    let mut parsed: HashMap<String, Vec<Advisory>> =
        missing.into_iter().map(|n| (n, Vec::new())).collect();
    for (name, body) in rows {
        if let Ok(advisory) = gantry_vuln::parse_advisory(body.as_bytes()) {
            parsed.entry(name).or_default().push(advisory);
        }
    }
    // `Debian:12`: only the entries for release 12 apply.
    let release = ecosystem
        .has_release()
        .then(|| key.split_once(':').map(|(_, r)| r))
        .flatten();
    let made: HashMap<String, Arc<Matcher>> = parsed
        .into_iter()
        .map(|(name, list)| {
            let matcher = Matcher::new(list, ecosystem, release, &name);
            (name, Arc::new(matcher))
        })
        .collect();
    scan_cache::MATCHERS.store(epoch, key, &made);
    timings.parsing += parse.elapsed();
    found.extend(made);
    Ok(found)
}

/// Matches every package of one ecosystem key against the advisories of their names.
async fn match_group<'p>(
    app: &App,
    epoch: Option<&str>,
    key: &str,
    packages: &[&'p PackageRow],
    timings: &mut Timings,
) -> Result<Vec<Matched<'p>>, String> {
    let Some(ecosystem) = Ecosystem::parse(key) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = packages
        .iter()
        .map(|p| ecosystem.normalize_name(&p.name))
        .collect();
    names.sort();
    names.dedup();
    let by_name = matchers_of(app, epoch, ecosystem, key, &names, timings).await?;
    let started = std::time::Instant::now();
    let osv_name = ecosystem.as_str();
    let matched = packages
        .iter()
        .map(|p| {
            let mut findings = Vec::new();
            let mut indeterminate = Vec::new();
            let outcomes = by_name
                .get(&ecosystem.normalize_name(&p.name))
                .map(|m| m.match_version(&p.version))
                .unwrap_or_default();
            // As `match_parsed` collects them for the one-package scan.
            for (advisory, outcome) in outcomes {
                match outcome {
                    MatchResult::Affected(finding) => findings.push(finding),
                    MatchResult::NotAffected => {}
                    MatchResult::Indeterminate(reason) => {
                        indeterminate.push(format!("{}: {reason}", advisory.id));
                    }
                }
            }
            Matched {
                package: p,
                ecosystem,
                osv_name,
                findings,
                indeterminate,
            }
        })
        .collect();
    timings.matching += started.elapsed();
    Ok(matched)
}

/// The records the unrated findings of `matched` may borrow a rating from.
async fn aliases_of(
    app: &App,
    epoch: Option<&str>,
    matched: &[Matched<'_>],
    timings: &mut Timings,
) -> Result<Vec<Advisory>, String> {
    let mut wanted: Vec<String> = matched
        .iter()
        .flat_map(|m| wanted_aliases(&m.findings))
        .collect();
    wanted.sort();
    wanted.dedup();
    let (mut found, missing) = scan_cache::BY_ID.lookup(epoch, "", &wanted);
    let read = std::time::Instant::now();
    let mut parsed: HashMap<String, Vec<Advisory>> =
        missing.iter().map(|n| (n.clone(), Vec::new())).collect();
    for chunk in missing.chunks(ALIAS_CHUNK) {
        for advisory in alias_records(app, chunk).await? {
            parsed
                .entry(advisory.id.clone())
                .or_default()
                .push(advisory);
        }
    }
    let parsed: HashMap<String, Arc<Vec<Advisory>>> = parsed
        .into_iter()
        .map(|(n, list)| (n, Arc::new(list)))
        .collect();
    scan_cache::BY_ID.store(epoch, "", &parsed);
    timings.reading += read.elapsed();
    found.extend(parsed);
    // In `wanted`'s order, as one query per chunk returned them before.
    Ok(wanted
        .iter()
        .filter_map(|id| found.get(id))
        .flat_map(|list| list.iter().cloned())
        .collect())
}

async fn scan_batch(
    app: &Arc<App>,
    payload: ScanBatch,
    job: &JobRow,
    ctx: &JobContext,
) -> Result<Completion, JobError> {
    let db = &app.db;
    let all = db
        .packages_by_ids(&payload.package_ids)
        .await
        .map_err(JobError::retry)?;
    let mut live = Vec::with_capacity(all.len());
    for p in all {
        if p.state() != PackageState::Deleted {
            live.push(p);
        } else if matches!(
            p.scan_status,
            ScanStatus::AwaitingScan | ScanStatus::Scanning
        ) {
            // Nothing to scan; do not leave the package marked as waiting for one.
            db.set_scan_status(p.id, ScanStatus::NotScanned)
                .await
                .map_err(JobError::retry)?;
        }
    }
    let started = std::time::Instant::now();
    let (groups, mut followups) = partition(app, &live, &payload.reason);
    let mut matched = Vec::new();
    let mut timings = Timings::default();
    let epoch = payload.epoch.as_deref();
    for (key, packages) in &groups {
        let found = match_group(app, epoch, key, packages, &mut timings)
            .await
            .map_err(JobError::retry)?;
        matched.extend(found);
    }
    let aliases = aliases_of(app, epoch, &matched, &mut timings)
        .await
        .map_err(JobError::retry)?;
    let ids: Vec<i64> = matched.iter().map(|m| m.package.id).collect();
    let previous = db.finding_ids_of(&ids).await.map_err(JobError::retry)?;
    let mut exceptions: HashMap<i64, Vec<ExceptionRow>> = HashMap::new();
    let mut evaluated: HashMap<(String, i64), bool> = HashMap::new();
    let now = gantry_core::time::now_millis();
    let mut scans: Vec<(&PackageRow, ScanResult, NewEvent)> = Vec::with_capacity(matched.len());
    for m in matched {
        let p = m.package;
        let mut scanned = summarize(m.ecosystem, m.findings, m.indeterminate, &aliases);
        if let std::collections::hash_map::Entry::Vacant(slot) = exceptions.entry(p.repository_id) {
            slot.insert(
                db.repository_exceptions(p.repository_id)
                    .await
                    .map_err(JobError::retry)?,
            );
        }
        let excepted = crate::vex::apply(
            &mut scanned.result,
            exceptions.get(&p.repository_id).map_or(&[], Vec::as_slice),
            &crate::vex::Target {
                slug_perm: &p.slug_perm,
                name: &p.name,
                version: &p.version,
                ecosystem: Some(m.osv_name),
            },
            now,
        );
        let before = previous.get(&p.id).map_or(&[][..], Vec::as_slice);
        let event = scanned_event(&scanned, &excepted, before, &payload.reason);
        let scope = (p.namespace.clone(), p.repository_id);
        let wants = match evaluated.get(&scope) {
            Some(w) => *w,
            None => {
                let w = db
                    .has_policies_or_rules(&p.namespace, p.repository_id)
                    .await
                    .map_err(JobError::retry)?;
                evaluated.insert(scope, w);
                w
            }
        };
        if wants {
            followups.push(
                crate::pipeline::EvaluatePolicies {
                    slug_perm: p.slug_perm.clone(),
                    trigger: crate::pipeline::TRIGGER_SCANNED.to_owned(),
                }
                .to_new_job(),
            );
        }
        scans.push((p, scanned.result, event));
    }
    let writing = std::time::Instant::now();
    db.record_scans(&scans, job.id, &ctx.worker_id, &followups)
        .await
        .map_err(JobError::retry)?;
    // bench/scan.sh reads these figures (matching alone, and the batch in all).
    tracing::info!(
        packages = scans.len(),
        reading_ms = timings.reading.as_secs_f64() * 1000.0,
        parsing_ms = timings.parsing.as_secs_f64() * 1000.0,
        matching_ms = timings.matching.as_secs_f64() * 1000.0,
        writing_ms = writing.elapsed().as_secs_f64() * 1000.0,
        total_ms = started.elapsed().as_secs_f64() * 1000.0,
        "scan batch"
    );
    app.wake_workers();
    Ok(Completion::Completed)
}
