//! `dists/VENDOR/PACKAGE/VERSION.zip`: a stored dist served by the toolkit (ETag, Range,
//! quarantine, entitlement budgets), else the first upstream's that lists the version.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde::Deserialize;

use super::index::FORMAT;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use crate::pure::version;
use gantry_protocol::caches::upstreams_for_name;
use gantry_protocol::extract::{op, Repo};

/// A dist's path below `/{owner}/{repo}/composer/dists/`.
#[derive(Deserialize)]
pub(crate) struct DistPath {
    vendor: String,
    package: String,
    file: String,
}

/// `GET`/`HEAD /{owner}/{repo}/composer/dists/{vendor}/{package}/{version}.zip`.
pub(crate) async fn dist(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(DistPath {
        vendor,
        package,
        file,
    }): ApiPath<DistPath>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let repo = repo.into_row();
    let wanted = super::package_name(&vendor, &package).zip(file.strip_suffix(".zip"));
    let Some((name, version)) = wanted else {
        return Err(AppError::NotFound(format!(
            "'{}' is not a dist of this repository (want dists/VENDOR/PACKAGE/VERSION.zip)",
            gantry_formats::archive::quote(&file)
        )));
    };
    let not_found = || AppError::NotFound(format!("{name} {version} not found in {}", repo.slug()));
    let Ok(normalized) = version::normalize(version) else {
        return Err(not_found());
    };
    let local =
        gantry_protocol::repo::find_live_package(&app, repo.id, "composer", &name, version, "")
            .await?;
    if let Some(package) = local {
        gantry_protocol::serve::check_downloadable(&package)?;
        let file = package.files.first().ok_or_else(not_found)?;
        return gantry_protocol::serve::serve_file(
            &app, &caller, &method, &headers, &package, file,
        )
        .await;
    }
    let has_local = super::index::has_local(&app, &repo, &name).await?;
    let mut failures = Vec::new();
    for upstream in upstreams_for_name(&app, repo.id, FORMAT, has_local).await? {
        match crate::upstream::versions(&app, &upstream, &name, version::is_dev(&normalized)).await
        {
            Ok(Some(entries)) => {
                if let Some(entry) = entries.iter().find(|e| e["version"] == version) {
                    return crate::upstream::dist(
                        &app,
                        &caller,
                        &method,
                        repo.clone(),
                        &upstream,
                        &name,
                        entry,
                    )
                    .await;
                }
            }
            Ok(None) => {}
            Err(e) => failures.push(format!("{}: {e}", upstream.name)),
        }
    }
    if failures.is_empty() {
        return Err(not_found());
    }
    Err(AppError::BadGateway(format!(
        "{name} {version} not found in {}, and its upstreams failed: {}",
        repo.slug(),
        failures.join("; ")
    )))
}
