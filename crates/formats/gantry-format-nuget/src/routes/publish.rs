//! `nuget push` (a multipart `PUT` of the `.nupkg`, streamed into the blob store and checked
//! before it is answered), symbol packages, and `nuget delete`, which unlists: the version
//! stays installable by exact version but leaves search and "latest" (Gantry's yank). A
//! `POST` to the same URL relists it. Pushing a version that exists — the same bytes or
//! not, listed or unlisted — is a 409, as NuGet feeds answer (`-SkipDuplicate` treats it as
//! done); it never relists.

use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_db::RepoRow;
use gantry_formats::Declared;
use serde::Deserialize;

use super::{checked_id, FORMAT};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use crate::pure::Version;
use gantry_protocol::error::Closing;
use gantry_protocol::extract::{op, Repo, UploadTo};
use gantry_protocol::ingest::{ingest, Upload};

/// `PUT /{owner}/{repo}/nuget/v3/package/` (nuget.exe adds the slash).
pub(crate) async fn push(
    upload: UploadTo<op::Push>,
    request: axum::extract::Request,
) -> Result<Response, Closing> {
    receive(upload, request, "package.nupkg").await
}

/// `PUT /{owner}/{repo}/nuget/v3/symbolpackage/`: a `.snupkg`, stored beside its package.
pub(crate) async fn push_symbols(
    upload: UploadTo<op::Push>,
    request: axum::extract::Request,
) -> Result<Response, Closing> {
    receive(upload, request, "package.snupkg").await
}

async fn receive(
    UploadTo { app, caller, repo }: UploadTo<op::Push>,
    request: axum::extract::Request,
    filename: &str,
) -> Result<Response, Closing> {
    let repo: RepoRow = repo.into_row();
    let mut multipart = <Multipart as axum::extract::FromRequest<()>>::from_request(request, &())
        .await
        .map_err(|e| {
            AppError::BadRequest(format!(
                "expected a multipart package upload: {}",
                e.body_text()
            ))
        })?;
    let field = multipart
        .next_field()
        .await
        .map_err(|e| AppError::BadRequest(format!("malformed package upload: {}", e.body_text())))?
        .ok_or_else(|| AppError::BadRequest("the upload holds no package".into()))?;
    let format = app
        .formats
        .get(FORMAT)
        .ok_or_else(|| AppError::internal("nuget format missing"))?;
    let declared = Declared {
        filename: filename.to_owned(),
        ..Declared::default()
    };
    ingest(
        &app,
        &caller,
        &repo,
        format,
        Upload::inline(declared, false),
        field,
    )
    .await?;
    Ok(StatusCode::CREATED.into_response())
}

/// The `{id}/{version}` of a package's routes.
#[derive(Deserialize)]
pub(crate) struct PackageVersion {
    id: String,
    version: String,
}

/// `DELETE` (unlist) or `POST` (relist) `/{owner}/{repo}/nuget/v3/package/{id}/{version}`.
pub(crate) async fn unlist_or_relist(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    ApiPath(PackageVersion { id, version }): ApiPath<PackageVersion>,
    repo: Repo<op::Yank>,
) -> AppResult<Response> {
    let unlist = match method {
        Method::DELETE => true,
        Method::POST => false,
        _ => {
            return Err(AppError::MethodNotAllowed(format!(
                "{method} is not allowed here"
            )))
        }
    };
    let lid = checked_id(&id, &repo)?;
    let not_found = || AppError::NotFound(format!("{id} {version} not found in {}", repo.slug()));
    let key = Version::parse(&version).map_err(|_| not_found())?.key();
    let package = app
        .db
        .find_live_package(repo.id, FORMAT, &lid, &key, "")
        .await?
        .ok_or_else(not_found)?;
    if (package.yanked != 0) != unlist {
        let event = caller.event(if unlist {
            gantry_core::EventType::PackageYanked
        } else {
            gantry_core::EventType::PackageUnyanked
        });
        app.db.set_yanked(&package, unlist, None, &event).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
