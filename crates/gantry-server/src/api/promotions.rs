//! Bulk promotion: every selected package is copied or moved, or none is.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gantry_core::{EventType, PackageQuery, SlugPerm};
use gantry_db::{GateRecord, NewEvent, NewJob, PackageRow, Promotion, PromotionMode, RepoRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{load_package, load_repo, parse_destination, Api};
use crate::access::Op;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiJson, AppError, AppResult, ErrorBody};

/// Most packages one promotion may move or copy.
const MAX_PACKAGES: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromotionRequest {
    /// `OWNER/REPO` the packages are in.
    pub(crate) source: String,
    /// `REPO` (in the source's namespace) or `OWNER/REPO`.
    pub(crate) destination: String,
    /// Select by query (`name:app tag:tested`, as in listings)…
    pub(crate) query: Option<String>,
    /// …or by `slug_perm`s.
    pub(crate) slugs: Option<Vec<String>>,
    /// `copy` (default) or `move`.
    #[serde(default = "copy")]
    pub(crate) mode: String,
    /// Report what would happen without changing anything.
    #[serde(default)]
    pub(crate) dry_run: bool,
    /// Replace packages with the same identity in the destination.
    #[serde(default)]
    pub(crate) republish: bool,
}

fn copy() -> String {
    "copy".into()
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PromotionItem {
    pub(crate) slug_perm: String,
    pub(crate) format: String,
    pub(crate) name: String,
    pub(crate) version: String,
    /// `promoted`, `would_promote`, `refused`, or `not_promoted` (another package was refused).
    pub(crate) status: String,
    pub(crate) reason: Option<String>,
    /// The `slug_perm` in the destination (new for a copy).
    pub(crate) result_slug_perm: Option<String>,
    /// True when a denying policy's `quarantine` quarantined the package in the source
    /// repository (never on a dry run; the reason then says it would be).
    pub(crate) quarantined: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PromotionResult {
    pub(crate) source: String,
    pub(crate) destination: String,
    pub(crate) mode: String,
    pub(crate) dry_run: bool,
    pub(crate) promoted: usize,
    pub(crate) refused: usize,
    pub(crate) packages: Vec<PromotionItem>,
}

fn item(
    p: &PackageRow,
    status: &str,
    reason: Option<String>,
    result: Option<String>,
) -> PromotionItem {
    PromotionItem {
        slug_perm: p.slug_perm.clone(),
        format: p.format.to_string(),
        name: p.name.clone(),
        version: p.version.clone(),
        status: status.into(),
        reason,
        result_slug_perm: result,
        quarantined: false,
    }
}

/// Copies or moves every selected package, in one transaction: either all are promoted or
/// none is, and a refusal (422) lists every package's reason. `dry_run` runs every check and
/// reports without changing anything.
#[utoipa::path(post, path = "/api/v1/promotions", tag = "packages", request_body = PromotionRequest,
    responses((status = 200, body = PromotionResult), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, description = "nothing was promoted; the body lists every reason")))]
pub(crate) async fn promote(
    Api { app, caller }: Api,
    ApiJson(body): ApiJson<PromotionRequest>,
) -> AppResult<Response> {
    let mode = match body.mode.as_str() {
        "copy" => PromotionMode::Copy,
        "move" => PromotionMode::Move,
        other => {
            return Err(AppError::BadRequest(format!(
                "mode '{other}' must be copy or move"
            )))
        }
    };
    let (source, dest) = repositories(&app, &caller, &body, mode).await?;
    let packages = select(&app, &source, &body).await?;
    let mut event = caller.event(match mode {
        PromotionMode::Copy => EventType::PackageCopied,
        PromotionMode::Move => EventType::PackageMoved,
    });
    event.context = serde_json::json!({ "bulk": true });
    let gated = gate_all(&app, &packages, &source, &dest, &event, body.dry_run).await?;
    let planned = plan(&app, &packages, gated.gates, mode);
    let outcome = if gated.refusals.is_empty() {
        app.db
            .promote_many(
                Promotion {
                    dest: &dest,
                    mode,
                    republish: body.republish,
                    actor: &event,
                },
                &planned,
                body.dry_run,
            )
            .await?
    } else {
        Err(gated.refusals)
    };
    if let (Ok(_), false) = (&outcome, body.dry_run) {
        attest_all(&app, &planned, &source, &dest, mode, &event.actor).await;
    }
    let ends = Ends {
        source: &source,
        dest: &dest,
    };
    Ok(answer(
        &app,
        &body,
        ends,
        &planned,
        &gated.quarantined,
        outcome,
    ))
}

/// Records the attestation of each promoted package (after the transaction committed).
async fn attest_all(
    app: &App,
    planned: &[Planned],
    source: &RepoRow,
    dest: &RepoRow,
    mode: PromotionMode,
    actor: &str,
) {
    let promotion = crate::attest::Promotion {
        mode,
        source,
        dest,
        actor,
    };
    for (before, new_slug, _, gate) in planned {
        let after = match app.db.get_package_by_slug(new_slug).await {
            Ok(Some(after)) => after,
            Ok(None) => continue,
            Err(error) => {
                tracing::error!(%error, "loading a promoted package for its attestation failed");
                continue;
            }
        };
        let promoted = crate::attest::Promoted {
            before,
            after: &after,
            decisions: &gate.decisions,
        };
        crate::attest::record_promotion(app, &promotion, promoted).await;
    }
}

/// The source and destination repositories, with the privileges the mode needs on each.
async fn repositories(
    app: &App,
    caller: &Caller,
    body: &PromotionRequest,
    mode: PromotionMode,
) -> AppResult<(RepoRow, RepoRow)> {
    let (src_owner, src_name) = body
        .source
        .split_once('/')
        .ok_or_else(|| AppError::BadRequest("source must be OWNER/REPO".into()))?;
    let source = load_repo(
        app,
        caller,
        src_owner,
        src_name,
        if mode == PromotionMode::Move {
            Op::MoveOut
        } else {
            Op::Read
        },
    )
    .await?;
    let (dest_owner, dest_name) = parse_destination(src_owner, &body.destination)?;
    let dest = load_repo(app, caller, dest_owner, dest_name, Op::CopyInto).await?;
    if dest.id == source.id {
        return Err(AppError::Conflict(
            "source and destination are the same repository".into(),
        ));
    }
    Ok((source, dest))
}

/// The selected packages of `source`, oldest first and each once.
async fn select(
    app: &App,
    source: &RepoRow,
    body: &PromotionRequest,
) -> AppResult<Vec<PackageRow>> {
    let mut packages: Vec<PackageRow> = Vec::new();
    match (&body.query, &body.slugs) {
        (Some(q), None) => {
            let query = PackageQuery::parse(q)?;
            let first = app.db.list_packages(source, &query, 1, 1000).await?;
            if usize::try_from(first.total).unwrap_or(usize::MAX) > MAX_PACKAGES {
                return Err(AppError::Unprocessable(format!(
                    "the query selects {} packages; a promotion takes at most {MAX_PACKAGES}",
                    first.total
                )));
            }
            packages = first.packages;
        }
        (None, Some(slugs)) => {
            if slugs.len() > MAX_PACKAGES {
                return Err(AppError::Unprocessable(format!(
                    "a promotion takes at most {MAX_PACKAGES} packages"
                )));
            }
            for slug in slugs {
                packages.push(load_package(app, source, slug).await?);
            }
        }
        _ => {
            return Err(AppError::BadRequest(
                "give either a query or a list of slugs".into(),
            ))
        }
    }
    // Oldest first, so that the destination's events follow the source's order.
    packages.sort_by_key(|p| p.id);
    packages.dedup_by_key(|p| p.id);
    if packages.is_empty() {
        return Err(AppError::Unprocessable(
            "nothing matches the selection".into(),
        ));
    }
    Ok(packages)
}

/// What the checks and the policy gate said about the selected packages.
struct Gated {
    /// `(slug_perm, reason)` of every refused package.
    refusals: Vec<(String, String)>,
    /// One record per package, in selection order (default for refused ones).
    gates: Vec<GateRecord>,
    /// `slug_perm`s a denying policy quarantined in the source.
    quarantined: Vec<String>,
}

async fn gate_all(
    app: &App,
    packages: &[PackageRow],
    source: &RepoRow,
    dest: &RepoRow,
    event: &NewEvent,
    dry_run: bool,
) -> AppResult<Gated> {
    let mut refusals: Vec<(String, String)> = packages
        .iter()
        .filter_map(|p| crate::policy::precheck(p).map(|r| (p.slug_perm.clone(), r)))
        .collect();
    // The gate runs for every package so that one answer lists every reason; denials are
    // recorded (event, decision log, actions) unless this is a dry run.
    let mut gates = Vec::with_capacity(packages.len());
    let mut quarantined: Vec<String> = Vec::new();
    for p in packages {
        if refusals.iter().any(|(s, _)| *s == p.slug_perm) {
            gates.push(GateRecord::default());
            continue;
        }
        match crate::policy::gate(app, p, source, dest, event, !dry_run).await? {
            Ok(record) => gates.push(record),
            Err(denial) => {
                if denial.quarantine.is_some() && !dry_run {
                    quarantined.push(p.slug_perm.clone());
                }
                refusals.push((
                    p.slug_perm.clone(),
                    format!("blocked by policy: {}", denial.message(p, !dry_run)),
                ));
                gates.push(GateRecord::default());
            }
        }
    }
    Ok(Gated {
        refusals,
        gates,
        quarantined,
    })
}

/// One package's plan: the package, its `slug_perm` in the destination, the jobs that follow
/// its promotion, and what the gate recorded.
type Planned = (PackageRow, String, Vec<NewJob>, GateRecord);

fn plan(
    app: &App,
    packages: &[PackageRow],
    gates: Vec<GateRecord>,
    mode: PromotionMode,
) -> Vec<Planned> {
    packages
        .iter()
        .zip(gates)
        .map(|(p, gate)| {
            let new_slug = match mode {
                PromotionMode::Copy => SlugPerm::generate().to_string(),
                PromotionMode::Move => p.slug_perm.clone(),
            };
            let followups = crate::policy::promotion_followups(app, mode, &p.format, &new_slug);
            (p.clone(), new_slug, followups, gate)
        })
        .collect()
}

/// The source and destination of a promotion, as its answer names them.
#[derive(Clone, Copy)]
struct Ends<'a> {
    source: &'a RepoRow,
    dest: &'a RepoRow,
}

fn summary(
    body: &PromotionRequest,
    ends: Ends<'_>,
    items: Vec<PromotionItem>,
    promoted: usize,
    refused: usize,
) -> PromotionResult {
    PromotionResult {
        source: ends.source.slug(),
        destination: ends.dest.slug(),
        mode: body.mode.clone(),
        dry_run: body.dry_run,
        promoted,
        refused,
        packages: items,
    }
}

fn answer(
    app: &App,
    body: &PromotionRequest,
    ends: Ends<'_>,
    planned: &[Planned],
    quarantined: &[String],
    outcome: Result<Vec<i64>, Vec<(String, String)>>,
) -> Response {
    match outcome {
        Ok(_) => {
            let status = if body.dry_run {
                "would_promote"
            } else {
                "promoted"
            };
            let items: Vec<PromotionItem> = planned
                .iter()
                .map(|(p, new_slug, _, _)| item(p, status, None, Some(new_slug.clone())))
                .collect();
            if !body.dry_run {
                app.wake_workers();
            }
            let n = items.len();
            (
                StatusCode::OK,
                ApiJson(summary(
                    body,
                    ends,
                    items,
                    if body.dry_run { 0 } else { n },
                    0,
                )),
            )
                .into_response()
        }
        Err(refused) => {
            let items: Vec<PromotionItem> = planned
                .iter()
                .map(
                    |(p, _, _, _)| match refused.iter().find(|(s, _)| *s == p.slug_perm) {
                        Some((_, reason)) => PromotionItem {
                            quarantined: quarantined.contains(&p.slug_perm),
                            ..item(p, "refused", Some(reason.clone()), None)
                        },
                        None => item(p, "not_promoted", None, None),
                    },
                )
                .collect();
            let n = refused.len();
            let body_json = serde_json::json!({
                "error": {
                    "code": "unprocessable",
                    "message": format!("{n} of {} packages cannot be promoted; nothing was promoted", items.len()),
                },
                "result": summary(body, ends, items, 0, n),
            });
            let status = if body.dry_run {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            if body.dry_run {
                return (status, axum::Json(body_json["result"].clone())).into_response();
            }
            (status, axum::Json(body_json)).into_response()
        }
    }
}
