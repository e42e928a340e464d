//! The flat container (`PackageBaseAddress/3.0.0`): `{id}/index.json` lists every version,
//! unlisted ones included (a lock file may pin them), lower-cased; `{id}/{version}/` serves
//! the `.nupkg`, its `.nuspec` and a stored `.snupkg`. Quarantined versions are refused with
//! the reason, through the toolkit's file serving (ETag, Range, entitlement budgets).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::access::Feed;
use super::{checked_id, entries, json_text, IdPath, FORMAT};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use crate::pure::{nuspec_file, package_file, Version, SYMBOLS};
use gantry_protocol::extract::op;

/// `GET …/flat/{id}/index.json`.
pub(crate) async fn versions(
    State(app): State<Arc<App>>,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    repo: Feed<op::Read>,
) -> AppResult<Response> {
    let lid = checked_id(&id, &repo)?;
    let key = format!("nuget-flat|{}|{lid}", repo.id);
    let body = entries::rendered(&app, &repo, key, || async {
        let all = entries::all(&app, &repo, &lid).await?;
        if all.is_empty() {
            return Err(AppError::NotFound(format!(
                "package {id} not found in {}",
                repo.slug()
            )));
        }
        let keys: Vec<&str> = all.iter().map(|(e, _)| e.key.as_str()).collect();
        Ok(json!({ "versions": keys }).to_string())
    })
    .await?;
    Ok(json_text(body.as_ref().clone()))
}

/// The `{id}/{version}/{file}` of a flat-container file.
#[derive(Deserialize)]
pub(crate) struct FlatFile {
    id: String,
    version: String,
    file: String,
}

/// `GET`/`HEAD …/flat/{id}/{version}/{file}`.
pub(crate) async fn file(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(FlatFile { id, version, file }): ApiPath<FlatFile>,
    repo: Feed<op::Read>,
) -> AppResult<Response> {
    let not_found = || AppError::NotFound(format!("{file} not found in {}", repo.slug()));
    let lid = checked_id(&id, &repo)?;
    let key = Version::parse(&version).map_err(|_| not_found())?.key();
    let wanted = file.to_lowercase();
    let (qualifier, nuspec) = if wanted == package_file(&lid, &key, false) {
        ("", false)
    } else if wanted == nuspec_file(&lid) {
        ("", true)
    } else if wanted == package_file(&lid, &key, true) {
        (SYMBOLS, false)
    } else {
        return Err(not_found());
    };
    let local =
        gantry_protocol::repo::find_live_package(&app, repo.id, FORMAT, &lid, &key, qualifier)
            .await?;
    if let Some(package) = local {
        gantry_protocol::serve::check_downloadable(&package)?;
        let stored = package
            .files
            .iter()
            .find(|f| f.filename == wanted)
            .ok_or_else(not_found)?;
        return gantry_protocol::serve::serve_file(
            &app, &caller, &method, &headers, &package, stored,
        )
        .await;
    }
    if !qualifier.is_empty() {
        return Err(not_found());
    }
    // Not here: the first upstream that lists the version serves it.
    let all = entries::all(&app, &repo, &lid).await?;
    let Some(upstream) = all
        .into_iter()
        .find(|(e, _)| e.key == key)
        .and_then(|(_, upstream)| upstream)
    else {
        return Err(not_found());
    };
    if !nuspec {
        return crate::upstream::nupkg(
            &app,
            &caller,
            &method,
            repo.into_row(),
            &upstream,
            &lid,
            &key,
        )
        .await;
    }
    match crate::upstream::nuspec(&app, &upstream, &lid, &key).await {
        Ok(Some(body)) => Ok((
            StatusCode::OK,
            [(CONTENT_TYPE, HeaderValue::from_static("application/xml"))],
            body,
        )
            .into_response()),
        Ok(None) => Err(not_found()),
        Err(e) => Err(AppError::BadGateway(format!(
            "upstream {} failed: {e}",
            upstream.name
        ))),
    }
}
