//! Policies at work: building a policy's input, evaluating a namespace's policies (off the
//! async runtime, under limits), the promotion gate, and the evaluation that follows sync and
//! scan, including built-in promotion rules.

use std::sync::Arc;

use gantry_core::{EventType, PackageState, SlugPerm, SyncStatus};
use gantry_db::{
    DecisionSubject, GateRecord, NewDecision, NewEvent, NewJob, PackageActions, PackageRow,
    PolicyRow, Promotion, PromotionMode, RepoRow, RuleRow,
};

use gantry_policy::child::Response;
use gantry_policy::{Condition, Decision};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::render::{self, BaseUrl};

mod evaluator;

pub(crate) use crate::pipeline::{TRIGGER_PROMOTION, TRIGGER_SCANNED};
pub(crate) use evaluator::{check, run};
use evaluator::{in_evaluator, unexpected, Ask};

/// What follows a promotion: a copy is a new package and gets its own scan.
pub(crate) fn promotion_followups(
    app: &App,
    mode: PromotionMode,
    format: &str,
    new_slug: &str,
) -> Vec<NewJob> {
    match mode {
        PromotionMode::Copy => crate::pipeline::scan(app, format, new_slug, "copy")
            .into_iter()
            .collect(),
        PromotionMode::Move => Vec::new(),
    }
}

/// What a policy evaluates: a package where it is, the destination of the promotion being
/// gated (if any), what triggered the evaluation and who.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub(crate) package: &'a PackageRow,
    pub(crate) repository: &'a RepoRow,
    pub(crate) destination: Option<&'a RepoRow>,
    pub(crate) trigger: &'a str,
    pub(crate) actor: &'a str,
}

/// The input document of a policy, as documented in docs/policies.md.
pub(crate) async fn input(app: &App, subject: Subject<'_>) -> AppResult<serde_json::Value> {
    let Subject {
        package,
        repository,
        destination,
        trigger,
        actor,
    } = subject;
    let base = BaseUrl(app.base_url());
    let vulnerabilities: Vec<serde_json::Value> = app
        .db
        .package_findings(package.id)
        .await?
        .iter()
        .filter_map(|f| serde_json::from_str(&f.finding).ok())
        .filter(crate::vex::counts)
        .collect();
    Ok(serde_json::json!({
        "package": render::package(&base, package),
        "vulnerabilities": vulnerabilities,
        "repository": render::repository(repository, false),
        "destination": destination.map(|d| render::repository(d, false)),
        "event": trigger,
        "actor": { "name": actor },
    }))
}

/// The outcome of a namespace's policies on one input.
#[derive(Debug, Default)]
pub(crate) struct Evaluation {
    pub(crate) decisions: Vec<NewDecision>,
    /// Every reason, prefixed with the policy's name.
    pub(crate) deny: Vec<String>,
    pub(crate) actions: PackageActions,
    /// (policy name, its decision) for reports.
    pub(crate) per_policy: Vec<(String, Decision, Option<String>)>,
}

impl Evaluation {
    pub(crate) fn denied(&self) -> bool {
        !self.deny.is_empty()
    }
}

/// Evaluates `policies` over `input`. A policy that fails to evaluate denies (fail closed).
pub(crate) async fn evaluate(
    policies: &[PolicyRow],
    input: &serde_json::Value,
    subject: Subject<'_>,
) -> Evaluation {
    let Subject {
        package,
        destination,
        trigger,
        actor,
        ..
    } = subject;
    let mut out = Evaluation::default();
    if policies.is_empty() {
        return out;
    }
    let digest = gantry_policy::input_digest(input);
    let mut quarantine_reasons = Vec::new();
    for policy in policies {
        let result = run(policy.rego.clone(), input.clone()).await;
        let (decision, error) = match result {
            Ok(d) => (d, None),
            Err(e) => (
                Decision {
                    deny: vec![format!("the policy could not be evaluated: {e}")],
                    ..Decision::default()
                },
                Some(e),
            ),
        };
        for reason in &decision.deny {
            out.deny.push(format!("{}: {reason}", policy.name));
        }
        if decision.quarantine {
            quarantine_reasons.push(if decision.deny.is_empty() {
                format!("quarantined by policy {}", policy.name)
            } else {
                format!("policy {}: {}", policy.name, decision.deny.join("; "))
            });
        }
        for tag in &decision.add_tags {
            if !out.actions.add_tags.contains(tag) {
                out.actions.add_tags.push(tag.clone());
            }
        }
        for tag in &decision.remove_tags {
            if !out.actions.remove_tags.contains(tag) {
                out.actions.remove_tags.push(tag.clone());
            }
        }
        out.decisions.push(NewDecision {
            subject: DecisionSubject {
                namespace: policy.namespace.clone(),
                policy_id: Some(policy.id),
                policy_name: policy.name.clone(),
                policy_version: policy.version,
                trigger_event: trigger.to_owned(),
                slug_perm: Some(package.slug_perm.clone()),
                repository: Some(package.repository_slug()),
                destination: destination.map(RepoRow::slug),
                input_digest: digest.clone(),
                error: error.clone(),
                actor: actor.to_owned(),
            },
            denied: decision.denied(),
            output: serde_json::json!({ "deny": decision.deny }),
            actions: serde_json::json!({
                "quarantine": decision.quarantine,
                "add_tags": decision.add_tags,
                "remove_tags": decision.remove_tags,
            }),
        });
        out.per_policy.push((policy.name.clone(), decision, error));
    }
    if !quarantine_reasons.is_empty() {
        out.actions.quarantine = Some(quarantine_reasons.join("; "));
    }
    out
}

/// The namespace's enabled policies and the evaluation of `package` by them.
async fn evaluate_package(app: &App, subject: Subject<'_>) -> AppResult<Evaluation> {
    let namespace = subject
        .destination
        .map_or(&subject.repository.namespace, |d| &d.namespace);
    let policies = app.db.list_policies(namespace, true).await?;
    if policies.is_empty() {
        return Ok(Evaluation::default());
    }
    let input = input(app, subject).await?;
    Ok(evaluate(&policies, &input, subject).await)
}

fn violation_event(
    actor: &NewEvent,
    trigger: &str,
    evaluation: &Evaluation,
    destination: Option<&RepoRow>,
) -> NewEvent {
    let mut event = actor.clone();
    event.event_type = EventType::PackagePolicyViolated;
    event.destination_repository = destination.map(RepoRow::slug);
    event.context = serde_json::json!({
        "trigger": trigger,
        "reasons": evaluation.deny,
        "policies": evaluation
            .per_policy
            .iter()
            .filter(|(_, d, _)| d.denied())
            .map(|(name, _, _)| name)
            .collect::<Vec<_>>(),
        "destination": destination.map(RepoRow::slug),
    });
    event
}

/// The promotion gate: the destination namespace's policies on `package`. When they deny,
/// the decisions, a `package.policy_violated` event and the actions they ask for are
/// recorded (unless `record` is false, for dry runs) and the reasons are returned; when they
/// allow, the caller logs the returned record in the promotion's own transaction.
/// A gate's denial: the reasons, and the quarantine a policy asked for, which is applied to
/// the source package when the denial is recorded (the caller must tell the user).
#[derive(Debug, Clone, Default)]
pub(crate) struct GateDenial {
    pub(crate) reasons: Vec<String>,
    /// Why the package was quarantined (or would be, on a dry run).
    pub(crate) quarantine: Option<String>,
}

impl GateDenial {
    /// The reasons, then what happened to the package, for an error message.
    pub(crate) fn message(&self, package: &PackageRow, recorded: bool) -> String {
        let mut text = self.reasons.join("; ");
        if let Some(why) = &self.quarantine {
            let verb = if recorded {
                "was quarantined"
            } else {
                "would be quarantined"
            };
            text.push_str(&format!(
                "; the package {verb} in {} ({why})",
                package.repository_slug()
            ));
        }
        text
    }
}

pub(crate) async fn gate(
    app: &App,
    package: &PackageRow,
    source: &RepoRow,
    destination: &RepoRow,
    actor: &NewEvent,
    record: bool,
) -> AppResult<Result<GateRecord, GateDenial>> {
    let evaluation = evaluate_package(
        app,
        Subject {
            package,
            repository: source,
            destination: Some(destination),
            trigger: TRIGGER_PROMOTION,
            actor: &actor.actor,
        },
    )
    .await?;
    if !evaluation.denied() {
        return Ok(Ok(GateRecord {
            decisions: evaluation.decisions,
            actions: evaluation.actions,
        }));
    }
    if record {
        let violation = violation_event(actor, TRIGGER_PROMOTION, &evaluation, Some(destination));
        let mut template = actor.clone();
        template.context = serde_json::json!({ "policy": "promotion gate" });
        app.db
            .record_decisions(
                package,
                &evaluation.decisions,
                &evaluation.actions,
                &template,
                Some(&violation),
            )
            .await?;
    }
    Ok(Err(GateDenial {
        quarantine: evaluation.actions.quarantine.clone(),
        reasons: evaluation.deny,
    }))
}

/// Why a package cannot be promoted at all (before policies are asked).
pub(crate) fn precheck(p: &PackageRow) -> Option<String> {
    match p.state() {
        PackageState::Deleted => return Some("the package is deleted".into()),
        PackageState::Quarantined => {
            return Some(format!(
                "the package is quarantined: {}",
                p.status_reason.as_deref().unwrap_or("no reason given")
            ))
        }
        PackageState::Available => {}
    }
    (p.sync_status != SyncStatus::Completed)
        .then(|| format!("the package's sync has not completed ({})", p.sync_status))
}

/// Copies or moves one package through the gate, as a manual promotion and a rule do.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn promote(
    app: &App,
    package: &PackageRow,
    source: &RepoRow,
    dest: &RepoRow,
    mode: PromotionMode,
    republish: bool,
    actor: &NewEvent,
) -> AppResult<PackageRow> {
    let gate = match gate(app, package, source, dest, actor, true).await? {
        Ok(record) => record,
        Err(denial) => {
            return Err(AppError::Unprocessable(format!(
                "the promotion of {} {} to {} is blocked by policy: {}",
                package.name,
                package.version,
                dest.slug(),
                denial.message(package, true)
            )))
        }
    };
    let new_slug = match mode {
        PromotionMode::Copy => SlugPerm::generate().to_string(),
        PromotionMode::Move => package.slug_perm.clone(),
    };
    // A copy is a new package: it gets its own scan.
    let followups = promotion_followups(app, mode, &package.format, &new_slug);
    let promoted = app
        .db
        .promote(
            Promotion {
                dest,
                mode,
                republish,
                actor,
            },
            package,
            &new_slug,
            &followups,
            &gate,
        )
        .await?;
    let promotion = crate::attest::Promotion {
        mode,
        source,
        dest,
        actor: &actor.actor,
    };
    let attested = crate::attest::Promoted {
        before: package,
        after: &promoted,
        decisions: &gate.decisions,
    };
    crate::attest::record_promotion(app, &promotion, attested).await;
    app.wake_workers();
    Ok(promoted)
}

/// Whether a rule's condition holds for the package.
async fn rule_matches(
    app: &App,
    rule: &RuleRow,
    package: &PackageRow,
    repo: &RepoRow,
) -> Result<bool, String> {
    match rule.condition_kind.as_str() {
        "rego" => {
            let actor = rule_actor(rule);
            let subject = Subject {
                package,
                repository: repo,
                destination: None,
                trigger: &rule.on_event,
                actor: &actor,
            };
            let input = input(app, subject).await.map_err(|e| e.to_string())?;
            match in_evaluator(Ask::Promote, rule.condition.clone(), input).await? {
                Response::Promote(p) => Ok(p),
                other => Err(unexpected(&other)),
            }
        }
        _ => {
            let condition = Condition::parse(&rule.condition).map_err(|e| e.to_string())?;
            let json = serde_json::to_value(render::package(&BaseUrl(app.base_url()), package))
                .map_err(|e| e.to_string())?;
            Ok(condition.matches(&json))
        }
    }
}

fn rule_actor(rule: &RuleRow) -> String {
    format!("rule:{}", rule.name)
}

/// After `trigger` happened to the package: its namespace's policies, then its repository's
/// rules listening for `trigger`.
pub(crate) async fn after_event(app: &Arc<App>, slug_perm: &str, trigger: &str) -> AppResult<()> {
    let Some(package) = app.db.get_package_by_slug(slug_perm).await? else {
        return Ok(());
    };
    if package.state() == PackageState::Deleted {
        return Ok(());
    }
    let Some(repo) = app
        .db
        .get_repo(&package.namespace, &package.repository_name)
        .await?
    else {
        return Ok(());
    };
    let subject = Subject {
        package: &package,
        repository: &repo,
        destination: None,
        trigger,
        actor: "policy",
    };
    let evaluation = evaluate_package(app, subject).await?;
    if !evaluation.decisions.is_empty() {
        let actor = NewEvent::new(EventType::PackagePolicyViolated, "policy");
        let violation = evaluation
            .denied()
            .then(|| violation_event(&actor, trigger, &evaluation, None));
        let mut template = NewEvent::new(EventType::PackageTagsUpdated, "policy");
        template.context = serde_json::json!({ "trigger": trigger });
        app.db
            .record_decisions(
                &package,
                &evaluation.decisions,
                &evaluation.actions,
                &template,
                violation.as_ref(),
            )
            .await?;
    }
    for rule in app.db.list_rules(repo.id, Some(trigger)).await? {
        // The package as it is now: a policy or an earlier rule may have changed it.
        let Some(package) = app.db.get_package_by_slug(slug_perm).await? else {
            return Ok(());
        };
        if package.repository_id != repo.id || precheck(&package).is_some() {
            continue;
        }
        match rule_matches(app, &rule, &package, &repo).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::warn!(rule = %rule.name, %error, "rule condition failed; not promoting");
                continue;
            }
        }
        let Some(dest) = app
            .db
            .get_repo_by_id(rule.destination_repository_id)
            .await?
        else {
            continue;
        };
        let mode = if rule.action == "move" {
            PromotionMode::Move
        } else {
            PromotionMode::Copy
        };
        let mut actor = NewEvent::new(
            match mode {
                PromotionMode::Copy => EventType::PackageCopied,
                PromotionMode::Move => EventType::PackageMoved,
            },
            &rule_actor(&rule),
        );
        actor.context = serde_json::json!({ "rule": rule.name, "trigger": trigger });
        match promote(app, &package, &repo, &dest, mode, false, &actor).await {
            Ok(promoted) => {
                tracing::info!(rule = %rule.name, package = %package.slug_perm, to = %dest.slug(), result = %promoted.slug_perm, "rule promoted a package");
            }
            // Blocked by policy (recorded), or already present: the rule's work is done.
            Err(AppError::Unprocessable(reason) | AppError::Conflict(reason)) => {
                tracing::info!(rule = %rule.name, package = %package.slug_perm, %reason, "rule did not promote");
            }
            Err(other) => return Err(other),
        }
    }
    Ok(())
}
