//! Users, password login, teams, service accounts and privilege grants.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::StatusCode;
use gantry_core::{EventType, OwnerName, Privilege, RepoName};
use gantry_db::{NewToken, PrincipalRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::tokens::{expiry, CreatedToken};
use super::{namespace_event, privilege, Api, Namespace, OwnerPath};
use crate::app::App;
use crate::auth::Caller;
use crate::bootstrap::new_token_secret;
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError, AppResult, ErrorBody};

const MIN_PASSWORD_LEN: usize = 8;
/// An argon2id hash of a random password, verified against when the user does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZfXVDcWDdHZXsaEe3obvTmPr5Ebw0Lm4Nwo0tFCVsUU";
const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PrincipalInfo {
    pub(crate) id: i64,
    /// `user`, `team` or `service`.
    pub(crate) kind: String,
    /// `user:NAME`, `team:OWNER/NAME` or `service:OWNER/NAME`.
    pub(crate) reference: String,
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    pub(crate) site_admin: bool,
    pub(crate) created_at: String,
    /// For teams: the member users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) members: Option<Vec<String>>,
}

pub(crate) fn render_principal(p: &PrincipalRow, members: Option<Vec<String>>) -> PrincipalInfo {
    PrincipalInfo {
        id: p.id,
        kind: p.kind.clone(),
        reference: p.reference(),
        name: p.name.clone(),
        namespace: (!p.namespace.is_empty()).then(|| p.namespace.clone()),
        site_admin: p.site_admin != 0,
        created_at: gantry_core::time::rfc3339(p.created_at),
        members,
    }
}

/// Resolves `user:NAME`, `team:[OWNER/]NAME` or `service:[OWNER/]NAME` (OWNER defaults to
/// `owner`).
pub(crate) async fn resolve_principal(
    app: &App,
    owner: &str,
    reference: &str,
) -> AppResult<PrincipalRow> {
    let (kind, rest) = reference.split_once(':').ok_or_else(|| {
        AppError::BadRequest(format!(
            "principal '{reference}' must be user:NAME, team:NAME or service:NAME"
        ))
    })?;
    let (namespace, name) = match kind {
        "user" => ("", rest),
        "team" | "service" => rest.split_once('/').unwrap_or((owner, rest)),
        _ => {
            return Err(AppError::BadRequest(format!(
                "unknown principal kind '{kind}' (user, team or service)"
            )))
        }
    };
    app.db
        .find_principal(kind, namespace, name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("{reference} not found")))
}

fn check_password(password: &str) -> AppResult<()> {
    if password.len() < MIN_PASSWORD_LEN || password.len() > MAX_PASSWORD_LEN {
        return Err(AppError::BadRequest(format!(
            "passwords must have {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(AppError::internal)
    })
    .await
    .map_err(AppError::internal)?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUser {
    /// Lowercase letters, digits, `-`, `_`, `.`.
    pub(crate) name: String,
    /// At least 8 characters; stored as an argon2 hash.
    pub(crate) password: String,
    #[serde(default)]
    pub(crate) site_admin: bool,
}

/// Creates a user. Site admins only.
#[utoipa::path(post, path = "/api/v1/users", tag = "access", request_body = CreateUser,
    responses((status = 201, body = PrincipalInfo), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create_user(
    Api { app, caller }: Api,
    ApiJson(body): ApiJson<CreateUser>,
) -> AppResult<(StatusCode, ApiJson<PrincipalInfo>)> {
    caller.require_site_admin()?;
    OwnerName::parse(&body.name)?;
    check_password(&body.password)?;
    let hash = hash_password(body.password).await?;
    let user = app
        .db
        .create_principal("user", "", &body.name, Some(&hash), &caller.actor())
        .await?;
    if body.site_admin {
        app.db.set_site_admin(user.id, true).await?;
    }
    let user = app.db.get_principal(user.id).await?.unwrap_or(user);
    let mut event = caller.event(EventType::PrincipalCreated);
    event.context =
        serde_json::json!({ "principal": user.reference(), "site_admin": body.site_admin });
    app.db.record_event(&event).await?;
    Ok((StatusCode::CREATED, ApiJson(render_principal(&user, None))))
}

/// Every user. Site admins only.
#[utoipa::path(get, path = "/api/v1/users", tag = "access",
    responses((status = 200, body = Vec<PrincipalInfo>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_users(Api { app, caller }: Api) -> AppResult<ApiJson<Vec<PrincipalInfo>>> {
    caller.require_site_admin()?;
    let users = app.db.list_users().await?;
    Ok(ApiJson(
        users.iter().map(|u| render_principal(u, None)).collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) expires_in_days: Option<i64>,
    pub(crate) description: Option<String>,
}

/// Exchanges a user's name and password for a new token of that user. Failed attempts count
/// towards the per-address limit.
#[utoipa::path(post, path = "/api/v1/login", tag = "access", request_body = Login,
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn login(
    Api { app, caller }: Api,
    ApiJson(body): ApiJson<Login>,
) -> AppResult<(StatusCode, ApiJson<CreatedToken>)> {
    if let Some(wait) = caller.address.and_then(|a| app.auth_limiter.blocked(a)) {
        return Err(AppError::TooManyRequests {
            message: format!("too many failed authentication attempts; retry in {wait} s"),
            retry_after: wait,
        });
    }
    let user = app.db.find_principal("user", "", &body.username).await?;
    // Unknown users cost the same argon2 work as known ones, so timing tells nothing.
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_owned());
    let ok = verify_password(body.password.clone(), hash).await && user.is_some();
    let Some(user) = user.filter(|_| ok) else {
        if let Some(wait) = caller.address.and_then(|a| app.auth_limiter.fail(a)) {
            return Err(AppError::TooManyRequests {
                message: format!("too many failed authentication attempts; retry in {wait} s"),
                retry_after: wait,
            });
        }
        return Err(caller.deny(
            AppError::Unauthorized("wrong user name or password".into()),
            None,
        ));
    };
    let expires_at = expiry(body.expires_in_days)?;
    let secret = new_token_secret();
    let description = body
        .description
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| format!("login of {}", user.name));
    let id = app
        .db
        .create_token(&NewToken {
            secret: secret.clone(),
            description,
            site_admin: false,
            namespace: None,
            repository: None,
            privilege: Privilege::Admin.as_str().into(),
            expires_at,
            created_by: Some(user.reference()),
            principal_id: Some(user.id),
            kind: "api".into(),
            max_downloads: None,
        })
        .await?;
    let mut event = gantry_db::NewEvent::new(EventType::UserLoggedIn, &user.reference());
    event.source_address = caller.address.map(|a| a.to_string());
    event.context = serde_json::json!({ "token_id": id });
    app.db.record_event(&event).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedToken {
            token: secret,
            id,
            scope: None,
            privilege: None,
            principal: Some(user.reference()),
            expires_at: expires_at.map(gantry_core::time::rfc3339),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateNamed {
    pub(crate) name: String,
}

async fn create_in_namespace(
    app: &App,
    caller: &Caller,
    owner: &OwnerName,
    kind: &str,
    name: &str,
) -> AppResult<PrincipalRow> {
    RepoName::parse(name)?;
    let row = app
        .db
        .create_principal(kind, owner.as_str(), name, None, &caller.actor())
        .await?;
    let context = serde_json::json!({ "principal": row.reference() });
    namespace_event(app, caller, owner, EventType::PrincipalCreated, context).await?;
    Ok(row)
}

/// Creates a team in a namespace. Needs admin on the namespace.
#[utoipa::path(post, path = "/api/v1/teams/{owner}", tag = "access",
    params(("owner" = String, Path)), request_body = CreateNamed,
    responses((status = 201, body = PrincipalInfo), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(crate) async fn create_team(
    Api { app, caller }: Api,
    owner: Namespace<privilege::Admin>,
    ApiJson(body): ApiJson<CreateNamed>,
) -> AppResult<(StatusCode, ApiJson<PrincipalInfo>)> {
    let row = create_in_namespace(&app, &caller, &owner, "team", &body.name).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(render_principal(&row, Some(Vec::new()))),
    ))
}

/// Teams of a namespace with their members. Needs admin on the namespace.
#[utoipa::path(get, path = "/api/v1/teams/{owner}", tag = "access",
    params(("owner" = String, Path)),
    responses((status = 200, body = Vec<PrincipalInfo>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_teams(
    Api { app, .. }: Api,
    owner: Namespace<privilege::Admin>,
) -> AppResult<ApiJson<Vec<PrincipalInfo>>> {
    let mut out = Vec::new();
    for team in app.db.list_principals(owner.as_str(), "team").await? {
        let members = app
            .db
            .team_members(team.id)
            .await?
            .iter()
            .map(PrincipalRow::reference)
            .collect();
        out.push(render_principal(&team, Some(members)));
    }
    Ok(ApiJson(out))
}

async fn team_and_user(
    app: &App,
    owner: &OwnerName,
    team: &str,
    user: &str,
) -> AppResult<(PrincipalRow, PrincipalRow)> {
    let team = app
        .db
        .find_principal("team", owner.as_str(), team)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("team {owner}/{team} not found")))?;
    let user = app
        .db
        .find_principal("user", "", user)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("user {user} not found")))?;
    Ok((team, user))
}

/// The `{team}` and `{user}` of a team membership's route.
#[derive(Deserialize)]
pub(crate) struct TeamMember {
    team: String,
    user: String,
}

/// Adds a user to a team. Needs admin on the namespace.
#[utoipa::path(put, path = "/api/v1/teams/{owner}/{team}/members/{user}", tag = "access",
    params(("owner" = String, Path), ("team" = String, Path), ("user" = String, Path)),
    responses((status = 204, description = "added"), (status = 404, body = ErrorBody)))]
pub(crate) async fn add_member(
    Api { app, caller }: Api,
    owner: Namespace<privilege::Admin>,
    ApiPath(TeamMember { team, user }): ApiPath<TeamMember>,
) -> AppResult<StatusCode> {
    let (team, user) = team_and_user(&app, &owner, &team, &user).await?;
    app.db.add_team_member(team.id, user.id).await?;
    let context = serde_json::json!({ "team": team.reference(), "user": user.reference() });
    namespace_event(&app, &caller, &owner, EventType::TeamMemberAdded, context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user from a team. Needs admin on the namespace.
#[utoipa::path(delete, path = "/api/v1/teams/{owner}/{team}/members/{user}", tag = "access",
    params(("owner" = String, Path), ("team" = String, Path), ("user" = String, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
pub(crate) async fn remove_member(
    Api { app, caller }: Api,
    owner: Namespace<privilege::Admin>,
    ApiPath(TeamMember { team, user }): ApiPath<TeamMember>,
) -> AppResult<StatusCode> {
    let (team, user) = team_and_user(&app, &owner, &team, &user).await?;
    if !app.db.remove_team_member(team.id, user.id).await? {
        return Err(AppError::NotFound(format!(
            "{} is not a member of {}",
            user.reference(),
            team.reference()
        )));
    }
    let context = serde_json::json!({ "team": team.reference(), "user": user.reference() });
    namespace_event(&app, &caller, &owner, EventType::TeamMemberRemoved, context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates a service account (a principal for automation) in a namespace.
#[utoipa::path(post, path = "/api/v1/service-accounts/{owner}", tag = "access",
    params(("owner" = String, Path)), request_body = CreateNamed,
    responses((status = 201, body = PrincipalInfo), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(crate) async fn create_service_account(
    Api { app, caller }: Api,
    owner: Namespace<privilege::Admin>,
    ApiJson(body): ApiJson<CreateNamed>,
) -> AppResult<(StatusCode, ApiJson<PrincipalInfo>)> {
    let row = create_in_namespace(&app, &caller, &owner, "service", &body.name).await?;
    Ok((StatusCode::CREATED, ApiJson(render_principal(&row, None))))
}

/// Service accounts of a namespace.
#[utoipa::path(get, path = "/api/v1/service-accounts/{owner}", tag = "access",
    params(("owner" = String, Path)),
    responses((status = 200, body = Vec<PrincipalInfo>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_service_accounts(
    Api { app, .. }: Api,
    owner: Namespace<privilege::Admin>,
) -> AppResult<ApiJson<Vec<PrincipalInfo>>> {
    let rows = app.db.list_principals(owner.as_str(), "service").await?;
    Ok(ApiJson(
        rows.iter().map(|r| render_principal(r, None)).collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Grant {
    pub(crate) principal: String,
    /// Absent for a namespace-wide grant.
    pub(crate) repository: Option<String>,
    pub(crate) privilege: String,
    pub(crate) created_by: Option<String>,
    pub(crate) created_at: String,
}

/// Privileges granted on a namespace and its repositories. Needs admin on the namespace.
#[utoipa::path(get, path = "/api/v1/privileges/{owner}", tag = "access",
    params(("owner" = String, Path)),
    responses((status = 200, body = Vec<Grant>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_privileges(
    Api { app, .. }: Api,
    owner: Namespace<privilege::Admin>,
) -> AppResult<ApiJson<Vec<Grant>>> {
    let rows = app.db.list_grants(owner.as_str()).await?;
    Ok(ApiJson(
        rows.into_iter()
            .map(|g| {
                let reference = if g.principal_namespace.is_empty() {
                    format!("{}:{}", g.principal_kind, g.principal_name)
                } else {
                    format!(
                        "{}:{}/{}",
                        g.principal_kind, g.principal_namespace, g.principal_name
                    )
                };
                Grant {
                    principal: reference,
                    repository: (!g.repository.is_empty()).then_some(g.repository),
                    privilege: g.privilege,
                    created_by: g.created_by,
                    created_at: gantry_core::time::rfc3339(g.created_at),
                }
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetPrivilege {
    /// `user:NAME`, `team:NAME` or `service:NAME`.
    pub(crate) principal: String,
    /// A repository of the namespace; the whole namespace when absent.
    pub(crate) repository: Option<String>,
    pub(crate) privilege: Privilege,
}

async fn grant_scope(
    app: &App,
    caller: &Caller,
    owner: &OwnerName,
    repository: Option<&str>,
) -> AppResult<()> {
    match repository {
        // A repository's admins manage its grants; namespace admins manage all.
        Some(repo) => {
            RepoName::parse(repo)?;
            super::load_repo(app, caller, owner.as_str(), repo, crate::access::Op::Admin).await?;
        }
        None => caller.require_namespace(owner.as_str(), Privilege::Admin)?,
    }
    Ok(())
}

/// Grants a principal a privilege on the namespace or one repository (replacing an earlier
/// grant on the same scope).
#[utoipa::path(put, path = "/api/v1/privileges/{owner}", tag = "access",
    params(("owner" = String, Path)), request_body = SetPrivilege,
    responses((status = 204, description = "granted"), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn set_privilege(
    Api { app, caller }: Api,
    OwnerPath { owner }: OwnerPath,
    ApiJson(body): ApiJson<SetPrivilege>,
) -> AppResult<StatusCode> {
    grant_scope(&app, &caller, &owner, body.repository.as_deref()).await?;
    let principal = resolve_principal(&app, owner.as_str(), &body.principal).await?;
    if !principal.namespace.is_empty() && principal.namespace != owner.as_str() {
        return Err(AppError::BadRequest(format!(
            "{} belongs to another namespace",
            principal.reference()
        )));
    }
    let repository = body.repository.clone().unwrap_or_default();
    app.db
        .set_grant(
            principal.id,
            owner.as_str(),
            &repository,
            body.privilege.as_str(),
            &caller.actor(),
        )
        .await?;
    let mut event = caller.event(EventType::PrivilegeGranted);
    event.namespace = Some(owner.to_string());
    event.repository = body.repository.as_ref().map(|r| format!("{owner}/{r}"));
    event.context = serde_json::json!({
        "principal": principal.reference(), "privilege": body.privilege.as_str(),
    });
    app.db.record_event(&event).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct RevokeParams {
    pub(crate) principal: String,
    pub(crate) repository: Option<String>,
}

/// Removes a grant.
#[utoipa::path(delete, path = "/api/v1/privileges/{owner}", tag = "access",
    params(("owner" = String, Path), RevokeParams),
    responses((status = 204, description = "revoked"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_privilege(
    Api { app, caller }: Api,
    OwnerPath { owner }: OwnerPath,
    ApiQuery(params): ApiQuery<RevokeParams>,
) -> AppResult<StatusCode> {
    grant_scope(&app, &caller, &owner, params.repository.as_deref()).await?;
    let principal = resolve_principal(&app, owner.as_str(), &params.principal).await?;
    let repository = params.repository.clone().unwrap_or_default();
    if !app
        .db
        .delete_grant(principal.id, owner.as_str(), &repository)
        .await?
    {
        return Err(AppError::NotFound("no such grant".into()));
    }
    let mut event = caller.event(EventType::PrivilegeRevoked);
    event.namespace = Some(owner.to_string());
    event.repository = params.repository.as_ref().map(|r| format!("{owner}/{r}"));
    event.context = serde_json::json!({ "principal": principal.reference() });
    app.db.record_event(&event).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_real_argon2_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
