//! The Maven 2 repository layout under `/{owner}/{repo}/maven/`: `GET`/`HEAD` of files,
//! checksum sidecars and `maven-metadata.xml` (written by Gantry), and `PUT` deploys. The
//! paths cannot be written as templates (a group id is any number of directories), so one
//! catch-all route dispatches on the parsed path. Errors carry Gantry's message as the HTTP
//! reason phrase, which Maven prints (`status code: 409, reason phrase: …`).

mod deploy;
mod download;
mod metadata;
mod seal;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use gantry_db::RepoRow;
use gantry_protocol::access::Op;
use gantry_protocol::client_error::ClientShape;
use gantry_protocol::extract::RepoPath;
use gantry_protocol::plugin::{ContentScan, FormatPlugin, RouteSet};
use serde::Deserialize;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use crate::pure::{self, path};

pub(crate) use download::{find_file, not_found};
pub(crate) use metadata::versions;
pub(crate) use seal::{ingest, pom_filename, seal_artifact, stored_file};

/// The `{*path}` below `/maven/`.
#[derive(Deserialize)]
struct MavenPath {
    path: String,
}

/// Loads the repository for `op`. An anonymous caller who may not see it is asked for
/// credentials (401 with a Basic challenge) rather than told it is missing: Maven sends the
/// `<server>` credentials of `settings.xml` only when challenged. Whether it exists is not
/// revealed, as every unseen repository answers the same.
pub(crate) async fn load(
    app: &App,
    caller: &Caller,
    path: &RepoPath,
    op: Op,
) -> AppResult<RepoRow> {
    match path.load(app, caller, op).await {
        Ok(repo) => Ok(repo),
        Err(err) if caller.is_anonymous() && err.status() == StatusCode::NOT_FOUND => Err(caller
            .deny(
                AppError::Unauthorized(format!(
                "authentication required for {}/{}; add a <server> with a token to settings.xml",
                path.owner, path.repo
            )),
                Some(path.owner.as_str()),
            )),
        Err(err) => Err(err),
    }
}

async fn dispatch(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(MavenPath { path: raw }): ApiPath<MavenPath>,
    repo_path: RepoPath,
    body: Body,
) -> AppResult<Response> {
    seal::start_sweeper(&app);
    let op = if method == Method::PUT {
        Op::Push
    } else {
        Op::Read
    };
    let repo = load(&app, &caller, &repo_path, op).await?;
    let parsed = path::parse(&raw)?;
    if method == Method::PUT {
        let length = headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        deploy::put(&app, &caller, &repo, parsed, length, body).await
    } else {
        download::get(&app, &caller, &method, &headers, &repo, &raw, parsed).await
    }
}

/// Maven: the repository layout, deploys, metadata, upstreams.
pub struct Plugin;

impl FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(pure::Maven)
    }

    fn native_push(&self) -> Option<gantry_client::push::NativePush> {
        Some(|client, request| Box::pin(crate::push::push(client, request)))
    }

    fn routes(&self) -> RouteSet {
        RouteSet::new().methods_upload(
            "/{owner}/{repo}/maven/{*path}",
            &["GET", "HEAD", "PUT"],
            dispatch,
        )
    }

    fn client_shape(&self) -> Option<ClientShape> {
        Some(ClientShape::ReasonPhrase)
    }

    fn migrations(&self) -> Option<gantry_db::MigrationSet> {
        Some(crate::queries::MIGRATIONS)
    }

    fn has_upstreams(&self) -> bool {
        true
    }

    /// A JAR may carry other libraries (shaded dependencies); each is matched with the
    /// artifact itself.
    fn content_scan(&self) -> Option<ContentScan> {
        Some(ContentScan::new(|app, package| {
            Box::pin(seal::components(app, package))
        }))
    }
}
