//! API tokens and entitlements: create (shown once), list (prefix only), revoke.

use axum::http::StatusCode;
use gantry_core::{EventType, OwnerName, Privilege, RepoName};
use gantry_db::{NewToken, TokenRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access_control::resolve_principal;
use super::{op, repo_event, Api, Repo, RepoPath};
use crate::access::Op;
use crate::app::App;
use crate::auth::{Caller, ENTITLEMENT};
use crate::bootstrap::new_token_secret;
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError, AppResult, ErrorBody};

const MAX_EXPIRY_DAYS: i64 = 3650;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// `OWNER` for the whole namespace or `OWNER/REPO` for one repository. Required for a
    /// standalone token; narrows a principal's token.
    pub(crate) scope: Option<String>,
    /// Required for a standalone token; caps a principal's token.
    pub(crate) privilege: Option<Privilege>,
    /// `service:OWNER/NAME` or `user:NAME`: the principal the token acts for. Without it the
    /// token is standalone: its scope and privilege are its grant.
    pub(crate) principal: Option<String>,
    /// Days until the token stops working; never when absent.
    pub(crate) expires_in_days: Option<i64>,
    /// Seconds until the token stops working, for short-lived automation tokens; wins over
    /// `expires_in_days`.
    pub(crate) expires_in_seconds: Option<i64>,
    /// Shown as the actor of everything done with the token.
    pub(crate) description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    /// The secret: shown once, stored only as a hash.
    pub(crate) token: String,
    pub(crate) id: i64,
    pub(crate) scope: Option<String>,
    pub(crate) privilege: Option<String>,
    pub(crate) principal: Option<String>,
    pub(crate) expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenInfo {
    pub(crate) id: i64,
    /// The first characters of the secret, to recognise it.
    pub(crate) prefix: String,
    pub(crate) description: String,
    /// `api` or `entitlement`.
    pub(crate) kind: String,
    pub(crate) scope: Option<String>,
    pub(crate) privilege: String,
    pub(crate) principal_id: Option<i64>,
    pub(crate) created_by: Option<String>,
    pub(crate) created_at: String,
    pub(crate) expires_at: Option<String>,
    pub(crate) revoked_at: Option<String>,
    pub(crate) max_downloads: Option<i64>,
    pub(crate) download_count: i64,
}

pub(crate) fn render_token(t: &TokenRow) -> TokenInfo {
    TokenInfo {
        id: t.id,
        prefix: t.prefix.clone(),
        description: t.description.clone(),
        kind: t.kind.clone(),
        scope: scope_text(t),
        privilege: t.privilege.clone(),
        principal_id: t.principal_id,
        created_by: t.created_by.clone(),
        created_at: gantry_core::time::rfc3339(t.created_at),
        expires_at: t.expires_at.map(gantry_core::time::rfc3339),
        revoked_at: t.revoked_at.map(gantry_core::time::rfc3339),
        max_downloads: t.max_downloads,
        download_count: t.download_count,
    }
}

fn scope_text(t: &TokenRow) -> Option<String> {
    t.namespace.as_ref().map(|ns| match &t.repository {
        Some(repo) => format!("{ns}/{repo}"),
        None => ns.clone(),
    })
}

/// Unix ms of an expiry `days` from now.
pub(crate) fn expiry(days: Option<i64>) -> AppResult<Option<i64>> {
    match days {
        None => Ok(None),
        Some(days) if (1..=MAX_EXPIRY_DAYS).contains(&days) => {
            Ok(Some(gantry_core::time::now_millis() + days * 86_400_000))
        }
        Some(_) => Err(AppError::BadRequest(format!(
            "expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}"
        ))),
    }
}

fn check_description(description: &str) -> AppResult<()> {
    if description.len() > 200 || description.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "description must be at most 200 characters without control characters".into(),
        ));
    }
    Ok(())
}

fn parse_scope(scope: &str) -> AppResult<(String, Option<String>)> {
    let (namespace, repository) = match scope.split_once('/') {
        Some((ns, repo)) => (ns, Some(repo)),
        None => (scope, None),
    };
    OwnerName::parse(namespace)?;
    if let Some(repo) = repository {
        RepoName::parse(repo)?;
    }
    Ok((namespace.to_owned(), repository.map(str::to_owned)))
}

async fn check_scope_exists(app: &App, namespace: &str, repository: Option<&str>) -> AppResult<()> {
    if !app.db.namespace_exists(namespace).await? {
        return Err(AppError::NotFound(format!(
            "namespace {namespace} not found"
        )));
    }
    if let Some(repo) = repository {
        if app.db.get_repo(namespace, repo).await?.is_none() {
            return Err(AppError::NotFound(format!(
                "repository {namespace}/{repo} not found"
            )));
        }
    }
    Ok(())
}

/// Whether the caller administers `namespace` (or just `repository` in it).
fn administers(caller: &Caller, namespace: &str, repository: Option<&str>) -> bool {
    caller
        .granted(namespace, repository)
        .is_some_and(|g| g.covers(Privilege::Admin))
}

/// Whether `caller` may create a token for `principal` (standalone when `None`) with this
/// scope and privilege.
async fn may_create(
    app: &App,
    caller: &Caller,
    scope: Option<&(String, Option<String>)>,
    privilege: Option<Privilege>,
    principal: Option<&gantry_db::PrincipalRow>,
) -> AppResult<()> {
    match principal {
        None => {
            let (Some((ns, repo)), Some(_)) = (scope, privilege) else {
                return Err(AppError::BadRequest(
                    "a token without a principal needs a scope and a privilege".into(),
                ));
            };
            if !administers(caller, ns, repo.as_deref()) {
                caller.require_namespace(ns, Privilege::Admin)?;
            }
            check_scope_exists(app, ns, repo.as_deref()).await?;
        }
        Some(p) if p.kind == "user" => {
            // A narrowed token must not mint a broader one for its user.
            let own = caller.owner.as_ref().is_some_and(|o| o.id == p.id) && caller.is_full_token();
            if !own && !caller.is_site_admin() {
                return Err(caller.deny(
                    AppError::Forbidden(
                        "only the user or a site admin may create a user's tokens".into(),
                    ),
                    None,
                ));
            }
        }
        Some(p) if p.kind == "service" => {
            caller.require_namespace(&p.namespace, Privilege::Admin)?;
            if let Some((ns, _)) = scope {
                if *ns != p.namespace {
                    return Err(AppError::BadRequest(format!(
                        "{} cannot be scoped to another namespace",
                        p.reference()
                    )));
                }
            }
        }
        Some(p) => {
            return Err(AppError::BadRequest(format!(
                "{} cannot hold tokens; grant the team privileges and log in as a member",
                p.reference()
            )))
        }
    }
    Ok(())
}

/// When a new token stops working: `expires_in_seconds` wins over `expires_in_days`.
fn expires_at(body: &CreateToken) -> AppResult<Option<i64>> {
    Ok(match body.expires_in_seconds {
        Some(secs) if (1..=MAX_EXPIRY_DAYS * 86_400).contains(&secs) => {
            Some(gantry_core::time::now_millis() + secs * 1000)
        }
        Some(_) => {
            return Err(AppError::BadRequest(format!(
                "expires_in_seconds must be between 1 and {}",
                MAX_EXPIRY_DAYS * 86_400
            )))
        }
        None => expiry(body.expires_in_days)?,
    })
}

/// Creates a token; the secret is returned once. A standalone token needs admin on its scope;
/// a service account's token needs admin on its namespace; a user's token is for the user
/// themself or a site admin.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    Api { app, caller }: Api,
    ApiJson(body): ApiJson<CreateToken>,
) -> AppResult<(StatusCode, ApiJson<CreatedToken>)> {
    let scope = body.scope.as_deref().map(parse_scope).transpose()?;
    let principal = match &body.principal {
        None => None,
        Some(reference) => {
            let owner = scope.as_ref().map_or("", |(ns, _)| ns.as_str());
            Some(resolve_principal(&app, owner, reference).await?)
        }
    };
    may_create(
        &app,
        &caller,
        scope.as_ref(),
        body.privilege,
        principal.as_ref(),
    )
    .await?;
    let expires_at = expires_at(&body)?;
    let scope_label = body
        .scope
        .clone()
        .unwrap_or_else(|| "everything it may".into());
    let description = body
        .description
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| match (&principal, body.privilege) {
            (Some(p), _) => format!("token of {}", p.reference()),
            (None, Some(priv_)) => format!("{priv_} token for {scope_label}"),
            (None, None) => "token".into(),
        });
    check_description(&description)?;
    let secret = new_token_secret();
    let (namespace, repository) = scope.clone().unzip();
    let privilege = body.privilege.unwrap_or(Privilege::Admin);
    let id = app
        .db
        .create_token(&NewToken {
            secret: secret.clone(),
            description,
            site_admin: false,
            namespace: namespace.clone(),
            repository: repository.flatten(),
            privilege: privilege.as_str().to_owned(),
            expires_at,
            created_by: Some(caller.actor()),
            principal_id: principal.as_ref().map(|p| p.id),
            kind: "api".into(),
            max_downloads: None,
        })
        .await?;
    let mut event = caller.event(EventType::TokenCreated);
    event.namespace = namespace.clone().or_else(|| {
        principal
            .as_ref()
            .map(|p| p.namespace.clone())
            .filter(|n| !n.is_empty())
    });
    event.context = serde_json::json!({
        "token_id": id, "scope": body.scope, "privilege": body.privilege.map(|p| p.as_str()),
        "principal": principal.as_ref().map(|p| p.reference()),
    });
    app.db.record_event(&event).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedToken {
            token: secret,
            id,
            scope: body.scope,
            privilege: body.privilege.map(|p| p.as_str().to_owned()),
            principal: principal.map(|p| p.reference()),
            expires_at: expires_at.map(gantry_core::time::rfc3339),
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ListParams {
    /// `OWNER` or `OWNER/REPO`: tokens scoped there (needs admin on it). Without it: the
    /// tokens of the caller's own principal.
    pub(crate) scope: Option<String>,
}

/// Lists tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(ListParams),
    responses((status = 200, body = Vec<TokenInfo>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub(crate) async fn list(
    Api { app, caller }: Api,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<ApiJson<Vec<TokenInfo>>> {
    let rows = match params.scope.as_deref() {
        Some(scope) => {
            let (ns, repo) = parse_scope(scope)?;
            if !administers(&caller, &ns, repo.as_deref()) {
                caller.require_namespace(&ns, Privilege::Admin)?;
            }
            app.db.list_tokens(&ns, repo.as_deref(), None).await?
        }
        None => match (&caller.owner, caller.token()) {
            (Some(owner), _) => app.db.list_principal_tokens(owner.id).await?,
            (None, Some(token)) => vec![token.clone()],
            (None, None) => {
                return Err(caller.deny(
                    AppError::Unauthorized("authentication required".into()),
                    None,
                ))
            }
        },
    };
    Ok(ApiJson(rows.iter().map(render_token).collect()))
}

/// Revokes a token: the token's own principal, an admin of its scope, or a site admin.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = i64, Path)),
    responses((status = 204, description = "revoked"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke(
    Api { app, caller }: Api,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    let not_found = || AppError::NotFound(format!("token {id} not found"));
    let token = app.db.get_token(id).await?.ok_or_else(not_found)?;
    let own = caller
        .owner
        .as_ref()
        .is_some_and(|o| Some(o.id) == token.principal_id)
        || caller.token().is_some_and(|t| t.id == token.id);
    let scope_admin = token
        .namespace
        .as_deref()
        .is_some_and(|ns| administers(&caller, ns, token.repository.as_deref()));
    if !(own || scope_admin || caller.is_site_admin()) {
        // Whether a token exists is no business of strangers.
        return Err(caller.deny(not_found(), token.namespace.as_deref()));
    }
    if !app.db.revoke_token(id).await? {
        return Err(AppError::Conflict(format!("token {id} is already revoked")));
    }
    let mut event = caller.event(EventType::TokenRevoked);
    event.namespace = token.namespace.clone();
    event.context = serde_json::json!({ "token_id": id, "kind": token.kind });
    app.db.record_event(&event).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateEntitlement {
    /// Who the entitlement is for, e.g. a customer's name.
    pub(crate) description: Option<String>,
    pub(crate) expires_in_days: Option<i64>,
    /// Downloads allowed in all; unlimited when absent.
    pub(crate) max_downloads: Option<i64>,
}

/// Creates a read-only distribution token (entitlement) for one repository. Needs admin on
/// the repository.
#[utoipa::path(post, path = "/api/v1/entitlements/{owner}/{repo}", tag = "tokens",
    params(("owner" = String, Path), ("repo" = String, Path)), request_body = CreateEntitlement,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn create_entitlement(
    Api { app, caller }: Api,
    path: RepoPath,
    ApiJson(body): ApiJson<CreateEntitlement>,
) -> AppResult<(StatusCode, ApiJson<CreatedToken>)> {
    let repo = path.load(&app, &caller, Op::Admin).await?;
    if body
        .max_downloads
        .is_some_and(|n| !(1..=1_000_000_000).contains(&n))
    {
        return Err(AppError::BadRequest(
            "max_downloads must be at least 1".into(),
        ));
    }
    let expires_at = expiry(body.expires_in_days)?;
    let description = body
        .description
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| format!("entitlement for {}", repo.slug()));
    check_description(&description)?;
    let secret = new_token_secret();
    let id = app
        .db
        .create_token(&NewToken {
            secret: secret.clone(),
            description,
            site_admin: false,
            namespace: Some(repo.namespace.clone()),
            repository: Some(repo.name.clone()),
            privilege: Privilege::Read.as_str().into(),
            expires_at,
            created_by: Some(caller.actor()),
            principal_id: None,
            kind: ENTITLEMENT.into(),
            max_downloads: body.max_downloads,
        })
        .await?;
    let context = serde_json::json!({
        "token_id": id, "kind": ENTITLEMENT, "max_downloads": body.max_downloads,
    });
    app.db
        .record_event(&repo_event(
            &caller,
            EventType::TokenCreated,
            &repo,
            context,
        ))
        .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedToken {
            token: secret,
            id,
            scope: Some(repo.slug()),
            privilege: Some("read".into()),
            principal: None,
            expires_at: expires_at.map(gantry_core::time::rfc3339),
        }),
    ))
}

/// Entitlements of a repository, with their download counts.
#[utoipa::path(get, path = "/api/v1/entitlements/{owner}/{repo}", tag = "tokens",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = Vec<TokenInfo>), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn list_entitlements(
    Api { app, .. }: Api,
    repo: Repo<op::Admin>,
) -> AppResult<ApiJson<Vec<TokenInfo>>> {
    let rows = app
        .db
        .list_tokens(&repo.namespace, Some(&repo.name), Some(ENTITLEMENT))
        .await?;
    Ok(ApiJson(rows.iter().map(render_token).collect()))
}
