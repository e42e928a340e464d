//! `npm dist-tag`: list, add and remove a package's dist-tags.

use std::sync::Arc;

use crate::pure::{normalize_version, validate_name};
use crate::queries::NpmQueries;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use gantry_core::{EventType, PackageState};
use gantry_db::{PackageRow, RepoRow};
use serde_json::{json, Value};

use super::{json_response, live_version, not_found, packument};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use gantry_protocol::extract::{op, Repo};
use serde::Deserialize;

/// Largest dist-tag request body.
const MAX_TAG_BODY: usize = 4096;

/// The dist-tags of a package as a client sees them.
async fn current_tags(
    app: &Arc<App>,
    repo: &RepoRow,
    name: &str,
) -> AppResult<std::collections::BTreeMap<String, String>> {
    let mut sources = packument::gather(app, repo, name).await?;
    if sources.is_empty() {
        return Err(not_found(name, repo));
    }
    sources.load(app, repo, true).await?;
    Ok(sources.dist_tags())
}

/// The `{package}` of the dist-tag routes.
#[derive(Deserialize)]
pub(crate) struct PackageParam {
    package: String,
}

/// The `{package}` and `{tag}` of one dist-tag's routes.
#[derive(Deserialize)]
pub(crate) struct TagPath {
    package: String,
    tag: String,
}

/// `GET /{owner}/{repo}/npm/-/package/{package}/dist-tags` (`npm dist-tag ls`).
pub(crate) async fn dist_tags(
    State(app): State<Arc<App>>,
    ApiPath(PackageParam { package }): ApiPath<PackageParam>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    validate_name(&package).map_err(|_| not_found(&package, &repo))?;
    let tags = current_tags(&app, &repo, &package).await?;
    Ok(json_response(StatusCode::OK, json!(tags)))
}

pub(super) fn valid_tag(tag: &str) -> AppResult<()> {
    // A tag that parses as a version would be ambiguous in `npm install name@tag`.
    if tag.is_empty()
        || tag.len() > 128
        || tag.contains(['/', '\\', '%', ' '])
        || tag.chars().any(char::is_control)
        || semver::Version::parse(tag.trim_start_matches('v')).is_ok()
        || semver::VersionReq::parse(tag)
            .is_ok_and(|_| tag.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Err(AppError::BadRequest(format!(
            "'{tag}' is not a valid dist-tag (it must not be empty or look like a version)"
        )));
    }
    Ok(())
}

pub(super) async fn tag_event(
    app: &Arc<App>,
    caller: &Caller,
    package: &PackageRow,
    context: Value,
) -> AppResult<()> {
    let mut event = caller.event(EventType::PackageTagsUpdated);
    event.slug_perm = Some(package.slug_perm.clone());
    event.repository = Some(package.repository_slug());
    event.namespace = Some(package.namespace.clone());
    event.checksum_sha256 = Some(package.primary_sha256.clone());
    event.context = context;
    app.db.record_event(&event).await?;
    Ok(())
}

/// `PUT /{owner}/{repo}/npm/-/package/{package}/dist-tags/{tag}` with a JSON string version
/// (`npm dist-tag add`).
pub(crate) async fn dist_tag_put(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath(TagPath { package, tag }): ApiPath<TagPath>,
    repo: Repo<op::Tag>,
    request: Request,
) -> AppResult<Response> {
    validate_name(&package).map_err(|_| not_found(&package, &repo))?;
    valid_tag(&tag)?;
    let body = axum::body::to_bytes(request.into_body(), MAX_TAG_BODY)
        .await
        .map_err(|_| {
            AppError::BadRequest("the dist-tag body must be a short JSON string".into())
        })?;
    let version: String = serde_json::from_slice(&body).map_err(|_| {
        AppError::BadRequest("the dist-tag body must be a JSON string version".into())
    })?;
    let version = normalize_version(&version)?;
    let target = live_version(&app, &repo, &package, &version)
        .await?
        .filter(|p| p.state() == PackageState::Available)
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "version {version} of {package} not found in {}",
                repo.slug()
            ))
        })?;
    app.db
        .npm_set_dist_tag(repo.id, &package, &tag, &version)
        .await?;
    tag_event(
        &app,
        &caller,
        &target,
        json!({ "dist_tag": tag, "version": version, "action": "add" }),
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "ok": true, "dist-tags": current_tags(&app, &repo, &package).await? }),
    ))
}

/// `DELETE /{owner}/{repo}/npm/-/package/{package}/dist-tags/{tag}` (`npm dist-tag rm`).
pub(crate) async fn dist_tag_delete(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath(TagPath { package, tag }): ApiPath<TagPath>,
    repo: Repo<op::Tag>,
) -> AppResult<Response> {
    validate_name(&package).map_err(|_| not_found(&package, &repo))?;
    if tag == "latest" {
        return Err(AppError::BadRequest(
            "the latest dist-tag cannot be removed; point it at another version instead".into(),
        ));
    }
    let tags = app.db.npm_dist_tags(repo.id, &package).await?;
    let Some((_, version)) = tags.iter().find(|(t, _)| *t == tag) else {
        return Err(AppError::NotFound(format!(
            "{package} has no dist-tag {tag} in {}",
            repo.slug()
        )));
    };
    app.db.npm_delete_dist_tag(repo.id, &package, &tag).await?;
    if let Some(target) = live_version(&app, &repo, &package, version).await? {
        tag_event(
            &app,
            &caller,
            &target,
            json!({ "dist_tag": tag, "version": version, "action": "remove" }),
        )
        .await?;
    }
    Ok(json_response(StatusCode::OK, json!({ "ok": true })))
}
