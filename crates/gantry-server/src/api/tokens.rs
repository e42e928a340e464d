//! API tokens.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use gantry_core::{EventType, OwnerName, Privilege, RepoName};
use gantry_db::NewToken;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::bootstrap::new_token_secret;
use crate::error::{ApiJson, AppError, AppResult, ErrorBody};

const MAX_EXPIRY_DAYS: i64 = 3650;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// `OWNER` for the whole namespace or `OWNER/REPO` for one repository.
    pub scope: String,
    pub privilege: Privilege,
    /// Days until the token stops working; never when absent.
    pub expires_in_days: Option<i64>,
    /// Shown as the actor of everything done with the token.
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    /// The secret: shown once, stored only as a hash.
    pub token: String,
    pub id: i64,
    pub scope: String,
    pub privilege: Privilege,
    pub expires_at: Option<String>,
}

/// Creates a token scoped to a namespace or repository. Needs admin on that scope; the
/// secret is returned once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateToken>,
) -> AppResult<(StatusCode, ApiJson<CreatedToken>)> {
    let (namespace, repository) = match body.scope.split_once('/') {
        Some((ns, repo)) => (ns, Some(repo)),
        None => (body.scope.as_str(), None),
    };
    OwnerName::parse(namespace)?;
    if let Some(repo) = repository {
        RepoName::parse(repo)?;
    }
    let allowed = caller
        .granted(namespace, repository)
        .is_some_and(|g| g.covers(Privilege::Admin));
    if !allowed {
        caller.require_namespace(namespace, Privilege::Admin)?;
    }
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
    let expires_at = match body.expires_in_days {
        None => None,
        Some(days) if (1..=MAX_EXPIRY_DAYS).contains(&days) => {
            Some(gantry_core::time::now_millis() + days * 86_400_000)
        }
        Some(_) => {
            return Err(AppError::BadRequest(format!(
                "expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}"
            )))
        }
    };
    let description = body
        .description
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| format!("{} token for {}", body.privilege, body.scope));
    if description.len() > 200 {
        return Err(AppError::BadRequest(
            "description is longer than 200 characters".into(),
        ));
    }
    let secret = new_token_secret();
    let id = app
        .db
        .create_token(&NewToken {
            secret: secret.clone(),
            description,
            site_admin: false,
            namespace: Some(namespace.to_owned()),
            repository: repository.map(str::to_owned),
            privilege: body.privilege.as_str().to_owned(),
            expires_at,
            created_by: Some(caller.actor()),
        })
        .await?;
    let mut event = caller.event(EventType::TokenCreated);
    event.namespace = Some(namespace.to_owned());
    event.context = serde_json::json!({
        "token_id": id, "scope": body.scope, "privilege": body.privilege.as_str(),
    });
    app.db.record_event(&event).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedToken {
            token: secret,
            id,
            scope: body.scope,
            privilege: body.privilege,
            expires_at: expires_at.map(gantry_core::time::rfc3339),
        }),
    ))
}
