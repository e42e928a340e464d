//! The scan job: match a package against the advisories that name it, and record the
//! findings, the package's scan status and a `package.security_scanned` event.

use std::sync::Arc;

use gantry_core::{EventType, PackageState, ScanStatus};
use gantry_db::{JobRow, NewEvent, NewJob, ScanResult};
use gantry_jobs::{Completion, Job as _, JobContext, JobError};

use super::{AppJob, JobResult};
use gantry_vuln::{Ecosystem, MatchResult, Severity};

use crate::app::App;
use crate::pipeline::ScanPackage;

const SCAN_ACTOR: &str = "gantry (scan)";

/// A scan of the package `slug_perm`; `reason` says what asked for it (push, sync, copy,
/// upstream, rescan, vulndb import).
pub(crate) fn scan_job(slug_perm: &str, reason: &str) -> NewJob {
    ScanPackage {
        slug_perm: slug_perm.to_owned(),
        reason: reason.to_owned(),
    }
    .to_new_job()
}

impl AppJob for ScanPackage {
    async fn run(self, app: &Arc<App>, job: &JobRow, ctx: &JobContext) -> JobResult {
        scan(app, self, job, ctx).await
    }
}

/// The outcome of matching one package.
pub(crate) struct Scanned {
    pub(crate) result: ScanResult,
    pub(crate) ids: Vec<String>,
}

/// Matches `(ecosystem, name, version)` against the stored advisories.
pub(crate) async fn evaluate(
    app: &App,
    ecosystem_name: &str,
    name: &str,
    version: &str,
) -> Result<Scanned, String> {
    let known = Ecosystem::parse(ecosystem_name).zip(Ecosystem::key(ecosystem_name));
    let Some((ecosystem, key)) = known else {
        return Ok(Scanned {
            result: ScanResult {
                status: "indeterminate".into(),
                reason: Some(format!(
                    "no version ordering for the ecosystem {ecosystem_name}"
                )),
                max_severity: None,
                findings: Vec::new(),
                num_vulnerabilities: 0,
            },
            ids: Vec::new(),
        });
    };
    let normalized = ecosystem.normalize_name(name);
    let bodies = app
        .db
        .advisories_for(&key, &normalized)
        .await
        .map_err(|e| e.to_string())?;
    let advisories: Vec<gantry_vuln::Advisory> = bodies
        .iter()
        .filter_map(|b| gantry_vuln::parse_advisory(b.as_bytes()).ok())
        .collect();
    let refs: Vec<&gantry_vuln::Advisory> = advisories.iter().collect();
    let (matched, indeterminate) = match_parsed(ecosystem, &key, name, version, &refs);
    let alias_records = alias_records(app, &wanted_aliases(&matched)).await?;
    Ok(summarize(ecosystem, matched, indeterminate, &alias_records))
}

/// Matches parsed advisories (those naming the package) against one version: the
/// findings, and why some advisories could not be judged.
pub(crate) fn match_parsed(
    ecosystem: Ecosystem,
    key: &str,
    name: &str,
    version: &str,
    advisories: &[&gantry_vuln::Advisory],
) -> (Vec<gantry_vuln::Finding>, Vec<String>) {
    // `Debian:12`: only the entries for release 12 apply.
    let release = ecosystem
        .has_release()
        .then(|| key.split_once(':').map(|(_, r)| r))
        .flatten();
    let mut matched = Vec::new();
    let mut indeterminate = Vec::new();
    for advisory in advisories {
        match gantry_vuln::match_advisory_in(advisory, ecosystem, release, name, version) {
            MatchResult::Affected(finding) => matched.push(finding),
            MatchResult::NotAffected => {}
            MatchResult::Indeterminate(reason) => {
                indeterminate.push(format!("{}: {reason}", advisory.id));
            }
        }
    }
    (matched, indeterminate)
}

/// The scan result of a package's findings: aliases merged (ratings borrowed from
/// `alias_records`), the status and the highest severity.
pub(crate) fn summarize(
    ecosystem: Ecosystem,
    matched: Vec<gantry_vuln::Finding>,
    indeterminate: Vec<String>,
    alias_records: &[gantry_vuln::Advisory],
) -> Scanned {
    let mut findings = Vec::new();
    let mut max: Option<Severity> = None;
    for finding in gantry_vuln::merge_aliases(ecosystem, matched, alias_records) {
        if max.is_none_or(|m| finding.severity.rank() > m.rank()) {
            max = Some(finding.severity);
        }
        let json = serde_json::json!({
            "advisory_id": finding.advisory_id,
            "aliases": finding.aliases,
            "summary": finding.summary,
            "severity": finding.severity.as_str(),
            "severity_source": finding.severity_source,
            "affected_ranges": finding.affected_ranges,
            "fixed_versions": finding.fixed_versions,
            "references": finding.references,
        });
        findings.push((
            finding.advisory_id.clone(),
            finding.severity.as_str().to_owned(),
            json.to_string(),
        ));
    }
    let ids: Vec<String> = findings.iter().map(|(id, _, _)| id.clone()).collect();
    scanned(findings, ids, &indeterminate, max)
}

/// The result of a scan's findings (id, severity, finding JSON): its status — undecided
/// advisories count only when nothing was found — and its highest severity.
fn scanned(
    findings: Vec<(String, String, String)>,
    ids: Vec<String>,
    indeterminate: &[String],
    max: Option<Severity>,
) -> Scanned {
    let (status, reason) = if !findings.is_empty() {
        ("vulnerabilities_found", None)
    } else if !indeterminate.is_empty() {
        ("indeterminate", Some(indeterminate.join("; ")))
    } else {
        ("no_vulnerabilities", None)
    };
    Scanned {
        result: ScanResult {
            status: status.into(),
            reason,
            max_severity: Some(max.map_or("none", Severity::as_str).to_owned()),
            num_vulnerabilities: findings.len(),
            findings,
        },
        ids,
    }
}

/// Matches every component a package contains (an image's OS and language packages) and
/// merges the findings: each advisory once per package, naming every component (and where
/// it was found) that it affects.
fn not_supported(reason: Option<String>) -> Scanned {
    Scanned {
        result: ScanResult {
            status: "not_supported".into(),
            reason,
            max_severity: None,
            findings: Vec::new(),
            num_vulnerabilities: 0,
        },
        ids: Vec::new(),
    }
}

pub(crate) async fn evaluate_contents(
    app: &App,
    hooks: crate::plugin::ContentScan,
    package: &gantry_db::PackageRow,
) -> Result<Scanned, String> {
    let components = (hooks.components)(app, package)
        .await
        .map_err(|e| e.to_string())?;
    let mut merged: std::collections::BTreeMap<String, (String, serde_json::Value)> =
        std::collections::BTreeMap::new();
    let mut indeterminate = Vec::new();
    let mut max: Option<Severity> = None;
    for component in &components {
        let scanned = evaluate(
            app,
            &component.ecosystem,
            &component.name,
            &component.version,
        )
        .await?;
        if scanned.result.status == "indeterminate" {
            indeterminate.extend(scanned.result.reason);
        }
        for (id, severity, json) in scanned.result.findings {
            let found = serde_json::json!({
                "ecosystem": component.ecosystem, "name": component.name,
                "version": component.version, "location": component.location,
            });
            let entry = merged.entry(id).or_insert_with(|| {
                let mut finding: serde_json::Value =
                    serde_json::from_str(&json).unwrap_or_default();
                finding["components"] = serde_json::json!([]);
                (severity.clone(), finding)
            });
            if let Some(list) = entry.1["components"].as_array_mut() {
                list.push(found);
            }
            let rank = Severity::from_rating(&severity);
            if let Some(rank) = rank {
                if max.is_none_or(|m| rank.rank() > m.rank()) {
                    max = Some(rank);
                }
            }
        }
    }
    let ids: Vec<String> = merged.keys().cloned().collect();
    let findings: Vec<(String, String, String)> = merged
        .into_iter()
        .map(|(id, (severity, finding))| (id, severity, finding.to_string()))
        .collect();
    Ok(scanned(findings, ids, &indeterminate, max))
}

/// The ids named as aliases by unrated findings (and not found themselves): the records
/// that may lend them a rating.
pub(crate) fn wanted_aliases(matched: &[gantry_vuln::Finding]) -> Vec<String> {
    let mut wanted: Vec<String> = matched
        .iter()
        .filter(|f| f.severity == Severity::Unknown)
        .flat_map(|f| f.aliases.iter().cloned())
        .filter(|id| !matched.iter().any(|m| &m.advisory_id == id))
        .collect();
    wanted.sort();
    wanted.dedup();
    wanted
}

/// The stored records of `ids`, parsed.
pub(crate) async fn alias_records(
    app: &App,
    ids: &[String],
) -> Result<Vec<gantry_vuln::Advisory>, String> {
    let bodies = app
        .db
        .advisories_by_id(ids)
        .await
        .map_err(|e| e.to_string())?;
    Ok(bodies
        .iter()
        .filter_map(|b| gantry_vuln::parse_advisory(b.as_bytes()).ok())
        .collect())
}

/// The `package.security_scanned` event of a scan: the figures, and which advisories are
/// new, resolved or excepted since the previous scan (`previous`: its finding ids).
pub(crate) fn scanned_event(
    scanned: &Scanned,
    excepted: &[String],
    previous: &[String],
    reason: &str,
) -> NewEvent {
    let new: Vec<&String> = scanned
        .ids
        .iter()
        .filter(|id| !previous.contains(id))
        .collect();
    let resolved: Vec<&String> = previous
        .iter()
        .filter(|id| !scanned.ids.contains(id))
        .collect();
    let mut event = NewEvent::new(EventType::PackageSecurityScanned, SCAN_ACTOR);
    event.context = serde_json::json!({
        "security_scan_status": scanned.result.status,
        "max_severity": scanned.result.max_severity,
        "num_vulnerabilities": scanned.result.num_vulnerabilities,
        "excepted_advisories": excepted,
        "new_advisories": new,
        "resolved_advisories": resolved,
        "reason": reason,
        "detail": scanned.result.reason,
    });
    event
}

/// The package's scan result: by its contents, as a package of its ecosystem, or
/// `not_supported`. Marks the package `scanning` while it matches, and `scan_failed` when the
/// job's last attempt fails.
async fn evaluate_package(
    app: &App,
    package: &gantry_db::PackageRow,
    ecosystem: Option<&str>,
    job: &JobRow,
) -> Result<Scanned, JobError> {
    let by_contents = crate::plugin::plugins()
        .get(&package.format)
        .and_then(|p| p.content_scan());
    let unsupported = match &by_contents {
        Some(hooks) => (hooks.unsupported)(app, package)
            .await
            .map_err(JobError::retry)?,
        None => None,
    };
    if unsupported.is_some() {
        return Ok(not_supported(unsupported));
    }
    let db = &app.db;
    let outcome = match (by_contents, ecosystem) {
        (None, None) => {
            return Ok(not_supported(Some(format!(
                "{} packages are not scanned",
                package.format
            ))))
        }
        (Some(hooks), _) => {
            db.set_scan_status(package.id, ScanStatus::Scanning)
                .await
                .map_err(JobError::retry)?;
            evaluate_contents(app, hooks, package).await
        }
        (None, Some(eco)) => {
            db.set_scan_status(package.id, ScanStatus::Scanning)
                .await
                .map_err(JobError::retry)?;
            evaluate(app, eco, &package.name, &package.version).await
        }
    };
    match outcome {
        Ok(scanned) => Ok(scanned),
        Err(e) if job.attempts < job.max_attempts => Err(JobError::retry(e)),
        Err(e) => {
            // The last attempt: say so on the package rather than leave it waiting.
            db.set_scan_status(package.id, ScanStatus::ScanFailed)
                .await
                .map_err(JobError::retry)?;
            Err(JobError::Fatal(e))
        }
    }
}

async fn scan(
    app: &Arc<App>,
    payload: ScanPackage,
    job: &JobRow,
    ctx: &JobContext,
) -> Result<Completion, JobError> {
    let slug = payload.slug_perm.as_str();
    let db = &app.db;
    let Some(package) = db
        .get_package_by_slug(slug)
        .await
        .map_err(JobError::retry)?
    else {
        return Ok(Completion::Done);
    };
    if package.state() == PackageState::Deleted {
        // Nothing to scan; do not leave the package marked as waiting for one.
        if matches!(
            package.scan_status,
            ScanStatus::AwaitingScan | ScanStatus::Scanning
        ) {
            db.set_scan_status(package.id, ScanStatus::NotScanned)
                .await
                .map_err(JobError::retry)?;
        }
        return Ok(Completion::Done);
    }
    let previous: Vec<String> = db
        .package_findings(package.id)
        .await
        .map_err(JobError::retry)?
        .into_iter()
        .map(|f| f.advisory_id)
        .collect();
    let ecosystem = app
        .formats
        .get(&package.format)
        .and_then(|f| f.vulnerability_ecosystem());
    let mut scanned = evaluate_package(app, &package, ecosystem, job).await?;
    let exceptions = db
        .repository_exceptions(package.repository_id)
        .await
        .map_err(JobError::retry)?;
    let excepted = crate::vex::apply(
        &mut scanned.result,
        &exceptions,
        &crate::vex::Target {
            slug_perm: &package.slug_perm,
            name: &package.name,
            version: &package.version,
            ecosystem,
        },
        gantry_core::time::now_millis(),
    );
    let event = scanned_event(&scanned, &excepted, &previous, &payload.reason);
    let followups: Vec<NewJob> = crate::pipeline::evaluation(
        app,
        &package.namespace,
        package.repository_id,
        &package.slug_perm,
        crate::pipeline::TRIGGER_SCANNED,
    )
    .await
    .map_err(|e| JobError::retry(e.to_string()))?
    .into_iter()
    .collect();
    db.record_scan(
        &package,
        &scanned.result,
        &event,
        job.id,
        &ctx.worker_id,
        &followups,
    )
    .await
    .map_err(JobError::retry)?;
    // The first scan follows the sync, also of packages synced inline by a native client.
    if package.scanned_at.is_none() {
        if let Err(error) = crate::attest::record_upload(app, &package).await {
            tracing::warn!(%error, package = %package.slug_perm, "recording an upload attestation failed");
        }
    }
    app.wake_workers();
    Ok(Completion::Completed)
}
