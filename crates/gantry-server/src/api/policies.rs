//! Policies of a namespace (create, list, get, update, delete, simulate) and package tags
//! (which policies and rules read). The decision log is in `decisions`, promotion rules of a
//! repository in `rules`.
//! Changing policies needs admin on the namespace; reading them needs read there.

use axum::http::StatusCode;
use gantry_core::{EventType, PackageQuery};
use gantry_db::{PolicyRow, PolicyUpdate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    load_package, load_repo, namespace_event, parse_destination, privilege, Api, Namespace,
    PackagePath,
};
use crate::access::Op;
use crate::app::App;
use crate::error::{ApiJson, ApiPath, AppError, AppResult, ErrorBody};
use crate::render::{self, BaseUrl};

const MAX_POLICIES: usize = 100;
/// Most packages one simulation evaluates.
const MAX_SIMULATED: i64 = 1000;
const MAX_TAGS: usize = 50;

/// Policy and rule names: 1–64 of letters, digits, `-`, `_`, `.`, starting with a letter or
/// digit. `decisions` is taken by the decision-log route.
pub(super) fn check_name(kind: &str, name: &str) -> AppResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok || name == "decisions" {
        return Err(AppError::BadRequest(format!(
            "{kind} name '{name}' must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit (and not 'decisions')"
        )));
    }
    Ok(())
}

fn check_tag(tag: &str) -> AppResult<()> {
    if tag.is_empty()
        || tag.len() > 64
        || !tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(AppError::BadRequest(format!(
            "tag '{tag}' must be 1-64 letters, digits, '-', '_', '.' or ':'"
        )));
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePolicy {
    pub(crate) name: String,
    /// A Rego (v1) module declaring `package gantry`.
    pub(crate) rego: String,
    #[serde(default = "yes")]
    pub(crate) enabled: bool,
    /// Lower numbers are evaluated first (default 100); every enabled policy is evaluated.
    #[serde(default = "hundred")]
    pub(crate) precedence: i64,
}

pub(super) fn yes() -> bool {
    true
}
fn hundred() -> i64 {
    100
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdatePolicy {
    pub(crate) rego: Option<String>,
    pub(crate) enabled: Option<bool>,
    pub(crate) precedence: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Policy {
    pub(crate) id: i64,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) rego: String,
    pub(crate) enabled: bool,
    pub(crate) precedence: i64,
    /// Grows with every change of `rego`; decisions name the version they were made with.
    pub(crate) version: i64,
    pub(crate) created_by: String,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
}

fn render_policy(p: &PolicyRow) -> Policy {
    Policy {
        id: p.id,
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        rego: p.rego.clone(),
        enabled: p.enabled != 0,
        precedence: p.precedence,
        version: p.version,
        created_by: p.created_by.clone(),
        created_at: gantry_core::time::rfc3339(p.created_at),
        updated_at: gantry_core::time::rfc3339(p.updated_at),
    }
}

pub(super) async fn compile(rego: &str) -> AppResult<()> {
    crate::policy::check(rego).await
}

pub(super) async fn load_policy(app: &App, owner: &str, policy: &str) -> AppResult<PolicyRow> {
    let by_id = match policy.parse::<i64>() {
        Ok(id) => app
            .db
            .get_policy_by_id(id)
            .await?
            .filter(|p| p.namespace == owner),
        Err(_) => None,
    };
    match by_id {
        Some(p) => Ok(p),
        None => app
            .db
            .get_policy(owner, policy)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("policy {policy} not found in {owner}"))),
    }
}

/// Creates a policy. A module that does not compile is refused with the compiler's message.
#[utoipa::path(post, path = "/api/v1/policies/{owner}", tag = "policies",
    params(("owner" = String, Path)), request_body = CreatePolicy,
    responses((status = 201, body = Policy), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    Api { app, caller }: Api,
    owner: Namespace<privilege::Admin>,
    ApiJson(body): ApiJson<CreatePolicy>,
) -> AppResult<(StatusCode, ApiJson<Policy>)> {
    check_name("policy", &body.name)?;
    if !(0..=10_000).contains(&body.precedence) {
        return Err(AppError::BadRequest(
            "precedence must be between 0 and 10000".into(),
        ));
    }
    compile(&body.rego).await?;
    if app.db.list_policies(owner.as_str(), false).await?.len() >= MAX_POLICIES {
        return Err(AppError::Conflict(format!(
            "a namespace may have at most {MAX_POLICIES} policies"
        )));
    }
    let row = app
        .db
        .create_policy(
            owner.as_str(),
            &body.name,
            &body.rego,
            body.enabled,
            body.precedence,
            &caller.actor(),
        )
        .await?;
    namespace_event(
        &app,
        &caller,
        &owner,
        EventType::PolicyCreated,
        serde_json::json!({ "policy": row.name, "version": row.version, "enabled": row.enabled != 0 }),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(render_policy(&row))))
}

/// The namespace's policies in evaluation order.
#[utoipa::path(get, path = "/api/v1/policies/{owner}", tag = "policies",
    params(("owner" = String, Path)),
    responses((status = 200, body = Vec<Policy>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list(
    Api { app, .. }: Api,
    owner: Namespace<privilege::Read>,
) -> AppResult<ApiJson<Vec<Policy>>> {
    let rows = app.db.list_policies(owner.as_str(), false).await?;
    Ok(ApiJson(rows.iter().map(render_policy).collect()))
}

/// The `{policy}` of a policy's routes: its name or id.
#[derive(Deserialize)]
pub(crate) struct PolicyParam {
    policy: String,
}

/// One policy, by name or id.
#[utoipa::path(get, path = "/api/v1/policies/{owner}/{policy}", tag = "policies",
    params(("owner" = String, Path), ("policy" = String, Path, description = "name or id")),
    responses((status = 200, body = Policy), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    Api { app, .. }: Api,
    ns: Namespace<privilege::Read>,
    ApiPath(PolicyParam { policy }): ApiPath<PolicyParam>,
) -> AppResult<ApiJson<Policy>> {
    let owner = ns.as_str();
    Ok(ApiJson(render_policy(
        &load_policy(&app, owner, &policy).await?,
    )))
}

/// Changes a policy's source (a new version), enables or disables it, or changes its
/// precedence.
#[utoipa::path(patch, path = "/api/v1/policies/{owner}/{policy}", tag = "policies",
    params(("owner" = String, Path), ("policy" = String, Path)), request_body = UpdatePolicy,
    responses((status = 200, body = Policy), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn update(
    Api { app, caller }: Api,
    ns: Namespace<privilege::Admin>,
    ApiPath(PolicyParam { policy }): ApiPath<PolicyParam>,
    ApiJson(body): ApiJson<UpdatePolicy>,
) -> AppResult<ApiJson<Policy>> {
    let owner = ns.as_str();
    let row = load_policy(&app, owner, &policy).await?;
    if let Some(rego) = &body.rego {
        compile(rego).await?;
    }
    if body.precedence.is_some_and(|p| !(0..=10_000).contains(&p)) {
        return Err(AppError::BadRequest(
            "precedence must be between 0 and 10000".into(),
        ));
    }
    let updated = app
        .db
        .update_policy(
            row.id,
            &PolicyUpdate {
                rego: body.rego,
                enabled: body.enabled,
                precedence: body.precedence,
            },
        )
        .await?;
    namespace_event(
        &app,
        &caller,
        &ns,
        EventType::PolicyUpdated,
        serde_json::json!({ "policy": updated.name, "version": updated.version, "enabled": updated.enabled != 0 }),
    )
    .await?;
    Ok(ApiJson(render_policy(&updated)))
}

/// Deletes a policy; decisions it made stay in the log.
#[utoipa::path(delete, path = "/api/v1/policies/{owner}/{policy}", tag = "policies",
    params(("owner" = String, Path), ("policy" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    Api { app, caller }: Api,
    ns: Namespace<privilege::Admin>,
    ApiPath(PolicyParam { policy }): ApiPath<PolicyParam>,
) -> AppResult<StatusCode> {
    let owner = ns.as_str();
    let row = load_policy(&app, owner, &policy).await?;
    app.db.delete_policy(row.id).await?;
    namespace_event(
        &app,
        &caller,
        &ns,
        EventType::PolicyDeleted,
        serde_json::json!({ "policy": row.name, "version": row.version }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SimulateRequest {
    /// `REPO` (in the policy's namespace) or `OWNER/REPO` whose packages are evaluated;
    /// every repository of the namespace the caller may read when absent.
    pub(crate) repository: Option<String>,
    /// Which packages (the listing query language); all when empty.
    #[serde(default)]
    pub(crate) query: String,
    /// Evaluate as a promotion into this repository (`REPO` or `OWNER/REPO`).
    pub(crate) destination: Option<String>,
    /// The trigger to simulate when there is no destination (default `package.security_scanned`).
    pub(crate) event: Option<String>,
    /// Evaluate this source instead of the stored one (try a change before saving it).
    pub(crate) rego: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SimulatedPackage {
    pub(crate) slug_perm: String,
    /// `OWNER/REPO`.
    pub(crate) repository: String,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) denied: bool,
    pub(crate) deny: Vec<String>,
    pub(crate) quarantine: bool,
    pub(crate) add_tags: Vec<String>,
    pub(crate) remove_tags: Vec<String>,
    pub(crate) error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SimulateResult {
    pub(crate) policy: String,
    pub(crate) evaluated: usize,
    pub(crate) denied: usize,
    pub(crate) packages: Vec<SimulatedPackage>,
}

/// Evaluates a policy over existing packages without acting or logging.
#[utoipa::path(post, path = "/api/v1/policies/{owner}/{policy}/simulate", tag = "policies",
    params(("owner" = String, Path), ("policy" = String, Path)), request_body = SimulateRequest,
    responses((status = 200, body = SimulateResult), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn simulate(
    Api { app, caller }: Api,
    ns: Namespace<privilege::Read>,
    ApiPath(PolicyParam { policy }): ApiPath<PolicyParam>,
    ApiJson(body): ApiJson<SimulateRequest>,
) -> AppResult<ApiJson<SimulateResult>> {
    let owner = ns.as_str();
    let row = load_policy(&app, owner, &policy).await?;
    let source = match body.rego {
        Some(rego) => {
            compile(&rego).await?;
            rego
        }
        None => row.rego.clone(),
    };
    let repos = match &body.repository {
        Some(name) => {
            let (o, r) = parse_destination(owner, name)?;
            vec![load_repo(&app, &caller, o, r, Op::Read).await?]
        }
        None => app
            .db
            .list_repos(owner)
            .await?
            .into_iter()
            .filter(|r| caller.may(r, Op::Read))
            .collect(),
    };
    let destination = match &body.destination {
        Some(d) => {
            let (o, r) = parse_destination(owner, d)?;
            Some(load_repo(&app, &caller, o, r, Op::Read).await?)
        }
        None => None,
    };
    let trigger = match (&destination, body.event.as_deref()) {
        (Some(_), _) => crate::policy::TRIGGER_PROMOTION.to_owned(),
        (None, None) => crate::policy::TRIGGER_SCANNED.to_owned(),
        (None, Some(e @ ("package.synced" | "package.security_scanned"))) => e.to_owned(),
        (None, Some(other)) => {
            return Err(AppError::BadRequest(format!(
                "event '{other}' must be package.synced or package.security_scanned"
            )))
        }
    };
    let query = PackageQuery::parse(&body.query)?;
    let mut selected = Vec::new();
    for repo in &repos {
        let room = MAX_SIMULATED - i64::try_from(selected.len()).unwrap_or(MAX_SIMULATED);
        if room <= 0 {
            break;
        }
        let page = app.db.list_packages(repo, &query, 1, room).await?;
        selected.extend(page.packages.into_iter().map(|p| (repo, p)));
    }
    let mut packages = Vec::new();
    let actor = caller.actor();
    for (repo, p) in &selected {
        let subject = crate::policy::Subject {
            package: p,
            repository: repo,
            destination: destination.as_ref(),
            trigger: &trigger,
            actor: &actor,
        };
        let input = crate::policy::input(&app, subject).await?;
        let (decision, error) = match crate::policy::run(source.clone(), input).await {
            Ok(d) => (d, None),
            Err(e) => (gantry_policy::Decision::default(), Some(e)),
        };
        packages.push(SimulatedPackage {
            slug_perm: p.slug_perm.clone(),
            repository: repo.slug(),
            name: p.name.clone(),
            version: p.version.clone(),
            denied: decision.denied() || error.is_some(),
            deny: decision.deny,
            quarantine: decision.quarantine,
            add_tags: decision.add_tags,
            remove_tags: decision.remove_tags,
            error,
        });
    }
    Ok(ApiJson(SimulateResult {
        policy: row.name,
        evaluated: packages.len(),
        denied: packages.iter().filter(|p| p.denied).count(),
        packages,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TagsRequest {
    #[serde(default)]
    pub(crate) add: Vec<String>,
    #[serde(default)]
    pub(crate) remove: Vec<String>,
}

/// Adds and removes tags of a package (`package.tags_updated`). Needs the `tag` privilege.
#[utoipa::path(post, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/tags", tag = "packages",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    request_body = TagsRequest,
    responses((status = 200, body = gantry_core::Package), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn tags(
    Api { app, caller }: Api,
    base: BaseUrl,
    path: PackagePath,
    ApiJson(body): ApiJson<TagsRequest>,
) -> AppResult<ApiJson<gantry_core::Package>> {
    let (repo, package) = path.load(&app, &caller, Op::Tag).await?;
    if body.add.len() + body.remove.len() > MAX_TAGS {
        return Err(AppError::BadRequest(format!(
            "at most {MAX_TAGS} tags at once"
        )));
    }
    for tag in body.add.iter().chain(&body.remove) {
        check_tag(tag)?;
    }
    let event = caller.event(EventType::PackageTagsUpdated);
    app.db
        .update_tags(&package, &body.add, &body.remove, &event)
        .await?;
    let package = load_package(&app, &repo, &package.slug_perm).await?;
    Ok(ApiJson(render::package(&base, &package)))
}
