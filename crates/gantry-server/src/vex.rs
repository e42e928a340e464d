//! Vulnerability exceptions (VEX): which packages an exception covers, how it changes a
//! scan's figures, the scheduled job that reports expiries, and the OpenVEX document.
//!
//! An exception never removes a finding: the finding keeps its place in the report with the
//! exception attached. `not_affected` and `fixed` take it out of `num_vulnerabilities`,
//! `max_severity` and the policy input (so gates and rules no longer see it);
//! `under_investigation` is recorded but changes nothing. An expired exception is ignored at
//! the next scan; the expiry job reports it once and rescans the packages it covered.

use std::sync::Arc;

use gantry_core::EventType;
use gantry_db::{ExceptionRow, JobRow, NewEvent, ScanResult};
use gantry_jobs::{Completion, Job, JobContext, JobError};
use gantry_vuln::Severity;

use crate::app::App;
use crate::jobs::{AppJob, JobResult};

/// OpenVEX statuses an exception may carry.
pub(crate) const STATUSES: [&str; 3] = ["not_affected", "fixed", "under_investigation"];
/// OpenVEX's justifications for `not_affected`.
pub(crate) const JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];
const EXPIRY_ACTOR: &str = "gantry (exception expiry)";

/// Whether an exception with this status takes a finding out of the counts.
pub(crate) fn suppresses(status: &str) -> bool {
    matches!(status, "not_affected" | "fixed")
}

/// The package fields scope matching needs.
pub(crate) struct Target<'a> {
    pub(crate) slug_perm: &'a str,
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    /// The OSV ecosystem of the package's format, for ordering versions.
    pub(crate) ecosystem: Option<&'a str>,
}

/// Names compared loosely: case and runs of `-`, `_`, `.` do not matter (PEP 503's rule,
/// harmless for formats with stricter names).
fn loose(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// Checks a version range such as `>=1.0,<2.0`, `=2.10` or `*`: comma-separated
/// comparisons, all of which must hold. `Err` names a malformed part.
pub(crate) fn parse_range(range: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut out = Vec::new();
    for part in range.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "*" {
            continue;
        }
        let op = ["<=", ">=", "==", "!=", "<", ">", "="]
            .into_iter()
            .find(|op| part.starts_with(op))
            .unwrap_or("=");
        let version = part.trim_start_matches(op).trim();
        if version.is_empty() {
            return Err(format!("'{part}' names no version"));
        }
        out.push((op, version));
    }
    Ok(out)
}

fn in_range(range: &str, version: &str, ecosystem: Option<&str>) -> bool {
    let Ok(parts) = parse_range(range) else {
        return false;
    };
    let eco = ecosystem.and_then(gantry_vuln::Ecosystem::parse);
    parts.iter().all(|(op, bound)| {
        // Without an ordering for the format only equality can be judged.
        let ord = match eco {
            Some(e) => gantry_vuln::compare(e, version, bound),
            None => Some(version.cmp(bound)),
        };
        let Some(ord) = ord else { return false };
        use std::cmp::Ordering::*;
        match *op {
            "<" => ord == Less,
            "<=" => ord != Greater,
            ">" => ord == Greater,
            ">=" => ord != Less,
            "!=" => ord != Equal,
            _ => ord == Equal,
        }
    })
}

/// Whether `exception` covers the package `target` (any advisory).
pub(crate) fn covers(exception: &ExceptionRow, target: &Target<'_>) -> bool {
    match exception.scope.as_str() {
        "package" => exception.slug_perm.as_deref() == Some(target.slug_perm),
        "name" => {
            exception
                .name
                .as_deref()
                .is_some_and(|n| loose(n) == loose(target.name))
                && exception
                    .versions
                    .as_deref()
                    .is_none_or(|r| in_range(r, target.version, target.ecosystem))
        }
        "repository" => true,
        _ => false,
    }
}

/// Whether `exception` is about the finding (its id or one of its aliases).
fn names_finding(exception: &ExceptionRow, finding: &serde_json::Value) -> bool {
    finding["advisory_id"].as_str() == Some(exception.advisory_id.as_str())
        || finding["aliases"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(&exception.advisory_id)))
}

/// An exception as a finding carries it.
pub(crate) fn summary(e: &ExceptionRow) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "status": e.status,
        "justification": e.justification,
        "impact_statement": e.impact_statement,
        "expires_at": e.expires_at.map(gantry_core::time::rfc3339),
        "author": e.author,
        "scope": e.scope,
    })
}

/// Whether a stored finding counts (no suppressing exception attached).
pub(crate) fn counts(finding: &serde_json::Value) -> bool {
    !finding["exception"]["status"]
        .as_str()
        .is_some_and(suppresses)
}

/// Attaches the repository's active exceptions to a scan's findings and recomputes the
/// figures from those that still count. Returns the ids of suppressed findings.
pub(crate) fn apply(
    result: &mut ScanResult,
    exceptions: &[ExceptionRow],
    target: &Target<'_>,
    now: i64,
) -> Vec<String> {
    let active: Vec<&ExceptionRow> = exceptions
        .iter()
        .filter(|e| e.is_active(now) && covers(e, target))
        .collect();
    let mut suppressed = Vec::new();
    let mut max: Option<Severity> = None;
    let mut counted = 0usize;
    for (id, severity, json) in &mut result.findings {
        let Ok(mut finding) = serde_json::from_str::<serde_json::Value>(json) else {
            continue;
        };
        // The narrowest exception speaks for the finding: package, then name, then repository.
        let rank = |e: &&&ExceptionRow| match e.scope.as_str() {
            "package" => 0,
            "name" => 1,
            _ => 2,
        };
        let mut matching: Vec<&&ExceptionRow> = active
            .iter()
            .filter(|e| names_finding(e, &finding))
            .collect();
        matching.sort_by_key(rank);
        if let Some(e) = matching.first() {
            finding["exception"] = summary(e);
            *json = finding.to_string();
            if suppresses(&e.status) {
                suppressed.push(id.clone());
                continue;
            }
        }
        counted += 1;
        let s = Severity::from_rating(severity).unwrap_or(Severity::Unknown);
        if max.is_none_or(|m| s.rank() > m.rank()) {
            max = Some(s);
        }
    }
    result.num_vulnerabilities = counted;
    if result.max_severity.is_some() {
        result.max_severity = Some(max.map_or("none", Severity::as_str).to_owned());
    }
    if counted == 0 && result.status == "vulnerabilities_found" {
        result.status = "no_vulnerabilities".into();
        result.reason = Some(format!(
            "every finding is excepted ({})",
            suppressed.join(", ")
        ));
    }
    suppressed
}

/// The scheduled check that reports expired exceptions (`vulnerability_exceptions.expire`):
/// one outstanding round at a time, across replicas, due at the earliest expiry not yet
/// reported; each round schedules the next while expiries remain, so a site without
/// expiring exceptions has no job waiting.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct ExpireExceptions {}

impl Job for ExpireExceptions {
    const KIND: &'static str = "vulnerability_exceptions.expire";
    const MAX_ATTEMPTS: i64 = 5;
}

/// At start: makes sure a round is due by the earliest pending expiry, if there is one
/// (covers a round lost with a database restored from backup, say).
pub(crate) async fn schedule_expiry(app: &App) -> anyhow::Result<()> {
    if let Some(at) = app.db.next_exception_expiry().await? {
        expiry_due_by(app, at).await?;
    }
    Ok(())
}

/// Makes sure a check runs by `at`: schedules one, or brings the outstanding one forward.
pub(crate) async fn expiry_due_by(app: &App, at: i64) -> gantry_db::Result<()> {
    let mut job = ExpireExceptions {}.to_new_job();
    job.run_at = Some(at);
    if !app.db.schedule_job(&job, None).await? {
        app.db.advance_job(ExpireExceptions::KIND, at).await?;
    }
    Ok(())
}

impl AppJob for ExpireExceptions {
    async fn run(self, app: &Arc<App>, job: &JobRow, _ctx: &JobContext) -> JobResult {
        let now = gantry_core::time::now_millis();
        for exception in app
            .db
            .due_exception_expiries(now)
            .await
            .map_err(JobError::retry)?
        {
            expire(app, &exception).await.map_err(JobError::retry)?;
        }
        if let Some(next) = app
            .db
            .next_exception_expiry()
            .await
            .map_err(JobError::retry)?
        {
            let mut job_next = ExpireExceptions {}.to_new_job();
            // Never a busy loop: at least a second between rounds.
            job_next.run_at = Some(next.max(now + 1000));
            app.db
                .schedule_job(&job_next, Some(job.id))
                .await
                .map_err(JobError::retry)?;
        }
        app.wake_workers();
        Ok(Completion::Done)
    }
}

/// Reports one expiry (an event for the repository and each package it covered) and
/// rescans those packages so they count the finding again.
async fn expire(app: &Arc<App>, exception: &ExceptionRow) -> anyhow::Result<()> {
    let covered = covered_packages(app, exception).await?;
    let namespace = exception
        .repository
        .split_once('/')
        .map(|(n, _)| n.to_owned());
    let context = serde_json::json!({
        "exception_id": exception.id,
        "advisory_id": exception.advisory_id,
        "status": exception.status,
        "expired_at": exception.expires_at.map(gantry_core::time::rfc3339),
    });
    let mut events = Vec::new();
    let mut audit = NewEvent::new(EventType::VulnerabilityExceptionExpired, EXPIRY_ACTOR);
    audit.namespace = namespace.clone();
    audit.repository = Some(exception.repository.clone());
    audit.context = context.clone();
    events.push(audit);
    for p in &covered {
        let mut e = NewEvent::new(EventType::VulnerabilityExceptionExpired, EXPIRY_ACTOR);
        e.namespace = namespace.clone();
        e.repository = Some(exception.repository.clone());
        e.slug_perm = Some(p.1.clone());
        e.checksum_sha256 = Some(p.6.clone());
        e.context = context.clone();
        events.push(e);
    }
    if !app.db.mark_exception_expired(exception.id, &events).await? {
        return Ok(());
    }
    tracing::info!(
        exception = exception.id,
        advisory = %exception.advisory_id,
        packages = covered.len(),
        "vulnerability exception expired"
    );
    rescan(app, &covered, "exception expired").await
}

/// A live package of a repository: (id, slug, name, normalized name, version, format, sha256).
pub(crate) type Brief = (i64, String, String, String, String, String, String);

/// The live packages of the exception's repository that it covers.
pub(crate) async fn covered_packages(
    app: &App,
    exception: &ExceptionRow,
) -> anyhow::Result<Vec<Brief>> {
    let all = app
        .db
        .repository_packages_brief(exception.repository_id)
        .await?;
    Ok(all
        .into_iter()
        .filter(|p| {
            let ecosystem = app
                .formats
                .get(&p.5)
                .and_then(|f| f.vulnerability_ecosystem());
            covers(
                exception,
                &Target {
                    slug_perm: &p.1,
                    name: &p.2,
                    version: &p.4,
                    ecosystem,
                },
            )
        })
        .collect())
}

/// Queues scans of `packages` so their figures follow an exception's change.
pub(crate) async fn rescan(app: &Arc<App>, packages: &[Brief], reason: &str) -> anyhow::Result<()> {
    let jobs: Vec<_> = packages
        .iter()
        .map(|p| (p.0, crate::jobs::scan::scan_job(&p.1, reason)))
        .collect();
    for chunk in jobs.chunks(500) {
        app.db.queue_scans(chunk).await?;
    }
    app.wake_workers();
    Ok(())
}

/// A package URL: `pkg:TYPE/NAME@VERSION`, with characters outside the unreserved set
/// percent-encoded (a scope's `@` included); `/` in a name is kept as the purl namespace
/// separator.
pub(crate) fn purl(purl_type: &str, name: &str, version: &str) -> String {
    fn encode(text: &str, keep_slash: bool) -> String {
        let mut out = String::with_capacity(text.len());
        for b in text.bytes() {
            let c = char::from(b);
            if c.is_ascii_alphanumeric()
                || matches!(c, '.' | '-' | '_' | '~')
                || (keep_slash && c == '/')
            {
                out.push(c);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
    format!(
        "pkg:{purl_type}/{}@{}",
        encode(name, true),
        encode(version, false)
    )
}

/// The repository's active exceptions as an OpenVEX (v0.2.0) document: one statement per
/// exception, whose products are the purls of the live packages it covers (for a
/// repository-wide exception, those whose findings name the advisory).
pub(crate) async fn openvex_document(
    app: &App,
    repo: &gantry_db::RepoRow,
) -> anyhow::Result<serde_json::Value> {
    let now = gantry_core::time::now_millis();
    let exceptions = app.db.repository_exceptions(repo.id).await?;
    let mut statements = Vec::new();
    let mut newest = 0i64;
    for e in exceptions.iter().filter(|e| e.is_active(now)) {
        newest = newest.max(e.created_at);
        let mut products = Vec::new();
        for p in covered_packages(app, e).await? {
            if e.scope == "repository" {
                let findings = app.db.package_findings(p.0).await?;
                let named = findings.iter().any(|f| {
                    serde_json::from_str::<serde_json::Value>(&f.finding)
                        .is_ok_and(|v| names_finding(e, &v))
                });
                if !named {
                    continue;
                }
            }
            let format = app.formats.get(&p.5);
            let purl_type = format.as_ref().map_or("generic", |f| f.purl_type());
            // The normalised name: purl types such as pypi require it.
            let name = format
                .as_ref()
                .map_or_else(|| p.3.clone(), |f| f.purl_name(&p.3));
            let id = purl(purl_type, &name, &p.4);
            products.push(serde_json::json!({
                "@id": id,
                "identifiers": { "purl": id },
                "hashes": { "sha-256": p.6 },
            }));
        }
        let mut statement = serde_json::json!({
            "vulnerability": { "name": e.advisory_id },
            "timestamp": gantry_core::time::rfc3339(e.created_at),
            "products": products,
            "status": e.status,
            "status_notes": format!(
                "exception {} in {} by {}{}",
                e.id,
                e.repository,
                e.author,
                e.expires_at
                    .map(|x| format!(", expires {}", gantry_core::time::rfc3339(x)))
                    .unwrap_or_default()
            ),
        });
        if let Some(j) = &e.justification {
            statement["justification"] = j.clone().into();
        }
        if let Some(i) = &e.impact_statement {
            statement["impact_statement"] = i.clone().into();
        }
        statements.push(statement);
    }
    let base = app.base_url();
    Ok(serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": format!(
            "{base}/api/v1/vulnerability-exceptions/{}/openvex#{now}",
            repo.slug()
        ),
        "author": format!("Gantry repository {}", repo.slug()),
        "role": "Document Creator",
        "timestamp": gantry_core::time::rfc3339(now),
        "last_updated": gantry_core::time::rfc3339(newest.max(now)),
        "version": 1,
        "tooling": "gantry",
        "statements": statements,
    }))
}

#[cfg(test)]
mod tests {
    use super::{in_range, loose, purl};

    #[test]
    fn ranges_names_and_purls() {
        assert!(in_range(">=2.0,<2.11", "2.10", Some("PyPI")));
        assert!(!in_range(">=2.0,<2.10", "2.10", Some("PyPI")));
        assert!(in_range("=2.10.0", "2.10", Some("PyPI")));
        assert!(in_range("*", "anything", None));
        assert!(!in_range("<1", "not a version", Some("PyPI")));
        assert_eq!(loose("Jinja2"), loose("jinja2"));
        assert_eq!(loose("zope.interface"), loose("zope-interface"));
        assert_eq!(
            purl("npm", "@acme/left-pad", "1.0.0"),
            "pkg:npm/%40acme/left-pad@1.0.0"
        );
        assert_eq!(
            purl("pypi", "Jinja2", "2.10+local"),
            "pkg:pypi/Jinja2@2.10%2Blocal"
        );
    }
}
