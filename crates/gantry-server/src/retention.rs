//! Retention rules: which packages of a repository a round soft-deletes, the round itself
//! (for one repository on request, or for every rule as a scheduled job), and the dry run.
//!
//! A rule looks at the repository's packages that are not deleted and match its query. With
//! `keep_last N` the newest N uploads of each name are kept; with `older_than_days D` only
//! packages uploaded more than D days ago go; with both, a package goes only when it is
//! beyond the newest N *and* older than D. Packages with a live copy in another repository
//! (promoted onwards) are kept unless the rule says otherwise. Deletions are soft (restorable
//! until garbage collection) and recorded in each package's trail with the rule's name.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use gantry_core::{EventType, PackageQuery, PackageState};
use gantry_db::{JobRow, NewEvent, PackageRow, RepoRow, RetentionRuleRow};
use gantry_jobs::{Completion, JobContext, JobError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::jobs::{AppJob, JobResult};

/// Packages one rule looks at per round at most (newest first).
const MAX_CANDIDATES: usize = 100_000;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Seconds between scheduled rounds unless `GANTRY_RETENTION_INTERVAL_SECONDS` says otherwise.
const DEFAULT_INTERVAL: u64 = 3600;

/// A package a round deletes (or, in a dry run, would delete).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Removal {
    pub(crate) slug_perm: String,
    pub(crate) format: String,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) uploaded_at: String,
    /// The rule that selected it.
    pub(crate) rule: String,
    /// Why: `beyond the newest N of its name`, `uploaded more than D days ago`, or both.
    pub(crate) reason: String,
}

/// The packages `rule` selects among `packages` (any order), with the reason for each.
fn select<'p>(
    rule: &RetentionRuleRow,
    packages: &'p [PackageRow],
    promoted: &HashSet<String>,
    now: i64,
) -> Vec<(&'p PackageRow, String)> {
    let mut by_name: BTreeMap<(&str, &str), Vec<&PackageRow>> = BTreeMap::new();
    for p in packages {
        by_name
            .entry((p.format.as_str(), p.normalized_name.as_str()))
            .or_default()
            .push(p);
    }
    let cutoff = rule
        .older_than_days
        .map(|d| now.saturating_sub(d.saturating_mul(DAY_MS)));
    let mut out = Vec::new();
    for group in by_name.values_mut() {
        // Newest first; the id breaks ties between uploads in the same millisecond.
        group.sort_by_key(|p| std::cmp::Reverse((p.uploaded_at, p.id)));
        for (rank, p) in group.iter().enumerate() {
            let beyond = rule
                .keep_last
                .map(|n| i64::try_from(rank).unwrap_or(i64::MAX) >= n);
            let old = cutoff.map(|c| p.uploaded_at < c);
            let mut reasons = Vec::new();
            match (beyond, old) {
                (Some(false), _) | (_, Some(false)) | (None, None) => continue,
                (b, o) => {
                    if b == Some(true) {
                        reasons.push(format!(
                            "beyond the newest {} of its name",
                            rule.keep_last.unwrap_or_default()
                        ));
                    }
                    if o == Some(true) {
                        reasons.push(format!(
                            "uploaded more than {} days ago",
                            rule.older_than_days.unwrap_or_default()
                        ));
                    }
                }
            }
            if rule.protect_promoted != 0 && promoted.contains(&p.slug_perm) {
                continue;
            }
            out.push((*p, reasons.join(" and ")));
        }
    }
    out
}

/// The packages of `repo` a rule looks at: not deleted, matching its query.
async fn candidates(
    app: &App,
    repo: &RepoRow,
    rule: &RetentionRuleRow,
) -> anyhow::Result<Vec<PackageRow>> {
    let query = PackageQuery::parse(&rule.query)?;
    let mut out = Vec::new();
    for page in 1.. {
        let listed = app.db.list_packages(repo, &query, page, 1000).await?;
        let done = listed.packages.len() < 1000;
        out.extend(
            listed
                .packages
                .into_iter()
                .filter(|p| p.state() != PackageState::Deleted),
        );
        if done || out.len() >= MAX_CANDIDATES {
            break;
        }
    }
    out.truncate(MAX_CANDIDATES);
    Ok(out)
}

/// Runs `rules` of `repo`: returns what they delete, and deletes it unless `dry_run`.
pub(crate) async fn run(
    app: &App,
    repo: &RepoRow,
    rules: &[RetentionRuleRow],
    dry_run: bool,
) -> anyhow::Result<Vec<Removal>> {
    let mut removed: Vec<Removal> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let now = gantry_core::time::now_millis();
    for rule in rules {
        let packages = candidates(app, repo, rule).await?;
        let slugs: Vec<String> = packages.iter().map(|p| p.slug_perm.clone()).collect();
        let promoted: HashSet<String> = if rule.protect_promoted != 0 {
            app.db.promoted_onwards(&slugs).await?.into_iter().collect()
        } else {
            HashSet::new()
        };
        for (p, reason) in select(rule, &packages, &promoted, now) {
            if !seen.insert(p.slug_perm.clone()) {
                continue;
            }
            if !dry_run {
                let mut event = NewEvent::new(
                    EventType::PackageDeleted,
                    &format!("retention:{}", rule.name),
                );
                event.context =
                    serde_json::json!({ "retention_rule": rule.name, "reason": reason });
                app.db
                    .set_package_state(
                        p,
                        PackageState::Deleted,
                        Some("deleted by retention"),
                        &event,
                    )
                    .await?;
            }
            removed.push(Removal {
                slug_perm: p.slug_perm.clone(),
                format: p.format.as_str().to_owned(),
                name: p.name.clone(),
                version: p.version.clone(),
                uploaded_at: gantry_core::time::rfc3339(p.uploaded_at),
                rule: rule.name.clone(),
                reason,
            });
        }
    }
    Ok(removed)
}

crate::jobs::periodic_job!(
    /// The scheduled round (`retention.run`): every repository's rules, then the next round.
    /// One outstanding round at a time across replicas, like the vulnerability database sync.
    RetentionRound,
    "retention.run"
);

fn interval() -> Duration {
    crate::jobs::interval_from_env("GANTRY_RETENTION_INTERVAL_SECONDS", DEFAULT_INTERVAL)
}

/// Makes sure a round is scheduled when rules exist (at start, and when a rule is made).
pub(crate) async fn schedule(app: &App) -> anyhow::Result<()> {
    if app.db.retention_rules(None).await?.is_empty() {
        return Ok(());
    }
    crate::jobs::schedule_round::<RetentionRound>(app, interval(), None).await?;
    Ok(())
}

impl AppJob for RetentionRound {
    async fn run(self, app: &Arc<App>, job: &JobRow, _ctx: &JobContext) -> JobResult {
        let rules = app
            .db
            .retention_rules(None)
            .await
            .map_err(JobError::retry)?;
        if rules.is_empty() {
            // The last rule was removed: the schedule ends here.
            return Ok(Completion::Done);
        }
        let mut by_repo: BTreeMap<i64, Vec<RetentionRuleRow>> = BTreeMap::new();
        for rule in rules {
            by_repo.entry(rule.repository_id).or_default().push(rule);
        }
        for (repo_id, rules) in by_repo {
            let Some(repo) = app
                .db
                .get_repo_by_id(repo_id)
                .await
                .map_err(JobError::retry)?
            else {
                continue;
            };
            match run(app, &repo, &rules, false).await {
                Ok(removed) if !removed.is_empty() => {
                    tracing::info!(repository = %repo.slug(), deleted = removed.len(), "retention round");
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(repository = %repo.slug(), %error, "retention round failed");
                }
            }
        }
        crate::jobs::schedule_round::<Self>(app, interval(), Some(job.id))
            .await
            .map_err(JobError::retry)?;
        Ok(Completion::Done)
    }
}
