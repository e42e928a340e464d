//! The repository of a feed request. nuget.exe sends the `packageSourceCredentials` of a
//! source only after a 401 with a Basic challenge, so an anonymous caller who may not see a
//! repository is asked to authenticate on every read route instead of told it is missing.
//! Every unseen repository answers the same, existing or not, so nothing is revealed; callers
//! with a token that may not see it still get 404.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use gantry_db::RepoRow;
use gantry_protocol::extract::{RepoOp, RepoPath};

use crate::app::App;
use crate::auth::Caller;
use crate::error::AppError;

/// The repository at `{owner}/{repo}`, the caller allowed to do `O` there.
pub(crate) struct Feed<O> {
    row: RepoRow,
    op: PhantomData<fn() -> O>,
}

impl<O> Deref for Feed<O> {
    type Target = RepoRow;
    fn deref(&self) -> &RepoRow {
        &self.row
    }
}

impl<O> Feed<O> {
    pub(crate) fn into_row(self) -> RepoRow {
        self.row
    }
}

impl<O: RepoOp> FromRequestParts<Arc<App>> for Feed<O> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        let caller = Caller::from_request_parts(parts, app).await?;
        let path = RepoPath::from_request_parts(parts, app).await?;
        match path.load(app, &caller, O::OP).await {
            Ok(row) => Ok(Self {
                row,
                op: PhantomData,
            }),
            Err(err) if caller.is_anonymous() && err.status() == StatusCode::NOT_FOUND => {
                Err(caller.deny(
                    AppError::Unauthorized(format!(
                        "authentication required for the NuGet feed {}/{}; add packageSourceCredentials with a Gantry token as the password",
                        path.owner, path.repo
                    )),
                    Some(path.owner.as_str()),
                ))
            }
            Err(err) => Err(err),
        }
    }
}
