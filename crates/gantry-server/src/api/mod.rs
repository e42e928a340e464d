//! The REST API under `/api/v1`. Each resource has its own module; every handler is
//! annotated for the OpenAPI document, which the router is built from so the two cannot drift.

pub(crate) mod access_control;
pub(crate) mod audit;
pub(crate) mod decisions;
pub(crate) mod packages;
pub(crate) mod policies;
pub(crate) mod promotions;
pub(crate) mod repos;
pub(crate) mod rules;
pub(crate) mod security;
pub(crate) mod system;
pub(crate) mod tokens;
pub(crate) mod upload;
pub(crate) mod upstreams;
pub(crate) mod webhooks;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

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
