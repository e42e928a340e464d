//! The processing pipeline's jobs and the one decision of what follows a package's sync:
//! a scan where the format has a vulnerability ecosystem, and a policy evaluation where the
//! namespace has policies or the repository rules. Ingest (processed inline) and the sync
//! job (processed later) both ask [`after_sync`], so the two paths cannot disagree.

use gantry_db::NewJob;
use gantry_jobs::Job;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::error::AppResult;

/// The trigger of a policy evaluation after sync.
pub const TRIGGER_SYNCED: &str = "package.synced";
/// The trigger of a policy evaluation after a scan.
pub const TRIGGER_SCANNED: &str = "package.security_scanned";
/// The trigger of a gate.
pub const TRIGGER_PROMOTION: &str = "promotion";

/// Process a stored package with its format (`package.sync`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncPackage {
    pub slug_perm: String,
    /// Who asked: the uploader, or the admin who asked for a resync.
    pub requested_by: String,
}

impl Job for SyncPackage {
    const KIND: &'static str = "package.sync";
}

/// Match a package against the vulnerability database (`package.scan`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanPackage {
    pub slug_perm: String,
    /// What asked for it: push, sync, copy, upstream, rescan, vulndb import.
    pub reason: String,
}

impl Job for ScanPackage {
    const KIND: &'static str = "package.scan";
}

/// Run the namespace's policies and the repository's rules on a package (`policy.evaluate`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvaluatePolicies {
    pub slug_perm: String,
    /// [`TRIGGER_SYNCED`] or [`TRIGGER_SCANNED`].
    pub trigger: String,
}

impl Job for EvaluatePolicies {
    const KIND: &'static str = "policy.evaluate";
}

/// The jobs to queue with a package's change, and whether they include its scan (the
/// package then awaits it).
#[derive(Debug, Clone, Default)]
pub struct Followups {
    pub jobs: Vec<NewJob>,
    pub scan: bool,
}

/// A scan of `slug_perm`, if `format` has a vulnerability ecosystem or its plugin scans
/// what its packages contain.
pub fn scan(app: &App, format: &str, slug_perm: &str, reason: &str) -> Option<NewJob> {
    let by_ecosystem = app
        .formats
        .get(format)
        .is_some_and(|f| f.vulnerability_ecosystem().is_some());
    let by_contents = crate::plugin::plugins()
        .get(format)
        .is_some_and(|p| p.content_scan().is_some());
    (by_ecosystem || by_contents).then(|| {
        ScanPackage {
            slug_perm: slug_perm.to_owned(),
            reason: reason.to_owned(),
        }
        .to_new_job()
    })
}

/// A policy evaluation of `slug_perm`, if the namespace has policies or the repository rules.
pub async fn evaluation(
    app: &App,
    namespace: &str,
    repository_id: i64,
    slug_perm: &str,
    trigger: &str,
) -> AppResult<Option<NewJob>> {
    let wanted = app
        .db
        .has_policies_or_rules(namespace, repository_id)
        .await?;
    Ok(wanted.then(|| {
        EvaluatePolicies {
            slug_perm: slug_perm.to_owned(),
            trigger: trigger.to_owned(),
        }
        .to_new_job()
    }))
}

/// What follows a completed sync of a package: its scan and its policy evaluation.
pub async fn after_sync(
    app: &App,
    format: &str,
    namespace: &str,
    repository_id: i64,
    slug_perm: &str,
    reason: &str,
) -> AppResult<Followups> {
    let mut followups = Followups::default();
    if let Some(job) = scan(app, format, slug_perm, reason) {
        followups.jobs.push(job);
        followups.scan = true;
    }
    if let Some(job) = evaluation(app, namespace, repository_id, slug_perm, TRIGGER_SYNCED).await? {
        followups.jobs.push(job);
    }
    Ok(followups)
}
