//! The REST API under `/api/v1`. Each resource has its own module; every handler is
//! annotated for the OpenAPI document, which the router is built from so the two cannot drift.

pub(crate) mod access_control;
pub(crate) mod attestations;
pub(crate) mod audit;
pub(crate) mod decisions;
pub(crate) mod exceptions;
pub(crate) mod maintenance;
pub(crate) mod packages;
pub(crate) mod policies;
pub(crate) mod promotions;
pub(crate) mod repos;
pub(crate) mod retention;
pub(crate) mod rules;
pub(crate) mod sbom;
pub(crate) mod security;
pub(crate) mod signing;
pub(crate) mod system;
pub(crate) mod tokens;
pub(crate) mod upload;
pub(crate) mod upstreams;
pub(crate) mod webhooks;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use gantry_core::EventType;
use gantry_db::{NewEvent, RepoRow};

pub(crate) use gantry_protocol::extract::{
    op, privilege, IdParam, NameParam, Namespace, OwnerPath, PackageAt, PackagePath, Repo, RepoPath,
};
pub(crate) use gantry_protocol::repo::{load_package, load_repo, parse_destination};

use crate::app::App;
use crate::auth::Caller;
use crate::error::AppError;

/// The app and the authenticated caller: what almost every REST handler starts from, taken
/// as one extractor so the handlers do not each spell out both.
pub(crate) struct Api {
    pub(crate) app: Arc<App>,
    pub(crate) caller: Caller,
}

/// An event by `caller` in `repo`, for the audit log and webhooks.
pub(crate) fn repo_event(
    caller: &Caller,
    event_type: EventType,
    repo: &RepoRow,
    context: serde_json::Value,
) -> NewEvent {
    let mut event = caller.event(event_type);
    event.namespace = Some(repo.namespace.clone());
    event.repository = Some(repo.slug());
    event.context = context;
    event
}

impl FromRequestParts<Arc<App>> for Api {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        let caller = Caller::from_request_parts(parts, app).await?;
        Ok(Self {
            app: Arc::clone(app),
            caller,
        })
    }
}

/// Records an event of a namespace-wide change (a policy, a team, a principal).
pub(crate) async fn namespace_event(
    app: &App,
    caller: &Caller,
    owner: &gantry_core::OwnerName,
    event_type: EventType,
    context: serde_json::Value,
) -> Result<(), AppError> {
    let mut event = caller.event(event_type);
    event.namespace = Some(owner.to_string());
    event.context = context;
    app.db.record_event(&event).await?;
    Ok(())
}
