//! The npm registry API under `/{owner}/{repo}/npm/`: packuments (full and abbreviated) with
//! ETags, tarballs, `npm publish` (the tarball streams out of the publish document into the
//! blob store), `npm deprecate`, `npm unpublish` (soft deletes), `npm dist-tag`,
//! `npm whoami`, and tarballs of upstream registries (streamed, and cached as packages).

mod packument;
mod publish;
pub(crate) mod split;
mod tags;
mod upstream;

use std::sync::Arc;

use crate::pure::validate_name;
use crate::queries::NpmQueries;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gantry_db::{PackageRow, RepoRow};
use serde_json::{json, Value};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use crate::render::BaseUrl;
use gantry_protocol::extract::{op, Repo};
use serde::Deserialize;

pub(crate) const FORMAT: &str = "npm";
const ABBREVIATED_TYPE: &str = "application/vnd.npm.install-v1+json";

/// A request path below `/{owner}/{repo}/npm/`, split into a package name and what follows.
fn split_name(path: &str) -> Option<(String, Vec<String>)> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (name, rest) = match segments.first()? {
        s if s.starts_with('@') && !s.contains('/') => {
            let base = segments.get(1)?;
            (format!("{s}/{base}"), &segments[2..])
        }
        s => ((*s).to_owned(), &segments[1..]),
    };
    validate_name(&name).ok()?;
    Some((name, rest.iter().map(|s| (*s).to_owned()).collect()))
}

fn not_found(name: &str, repo: &RepoRow) -> AppError {
    AppError::NotFound(format!("npm package {name} not found in {}", repo.slug()))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn wants_abbreviated(headers: &HeaderMap) -> bool {
    gantry_protocol::negotiate::accepted(headers)
        .any(|(media, q)| media.eq_ignore_ascii_case(ABBREVIATED_TYPE) && q > 0.0)
}

/// `GET /{owner}/{repo}/npm/-/whoami`.
pub(crate) async fn whoami(
    caller: Caller,
    // Only a repository the caller may read answers.
    _repo: Repo<op::Read>,
) -> AppResult<Response> {
    if caller.is_anonymous() {
        return Err(AppError::Unauthorized(
            "not logged in: set //HOST/OWNER/REPO/npm/:_authToken in .npmrc".into(),
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        json!({ "username": caller.actor() }),
    ))
}

/// `GET /{owner}/{repo}/npm/-/ping`.
pub(crate) async fn ping(
    // Only a repository the caller may read answers.
    _repo: Repo<op::Read>,
) -> AppResult<Response> {
    Ok(json_response(StatusCode::OK, json!({})))
}

/// What follows `/{owner}/{repo}/npm/`: a package name (scoped names hold a `/`) and what
/// the route addresses under it.
#[derive(Deserialize)]
pub(crate) struct NpmPath {
    path: String,
}

/// `GET /{owner}/{repo}/npm/{name}` (and `…/{name}/{version-or-tag}`).
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    base: BaseUrl,
    headers: HeaderMap,
    ApiPath(NpmPath { path }): ApiPath<NpmPath>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let owner = repo.namespace.as_str();
    let (name, rest) =
        split_name(&path).ok_or_else(|| AppError::NotFound(format!("no npm package at {path}")))?;
    let mut sources = packument::gather(&app, &repo, &name).await?;
    if sources.is_empty() {
        return Err(not_found(&name, &repo));
    }
    match rest.as_slice() {
        [] => {
            let abbreviated = wants_abbreviated(&headers);
            let mut etag = sources.etag(&base.0, abbreviated);
            let mut out = HeaderMap::new();
            out.insert(
                ETAG,
                HeaderValue::from_str(&etag).map_err(AppError::internal)?,
            );
            out.insert(VARY, HeaderValue::from_static("Accept, Authorization"));
            let matches = headers
                .get(IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
            if matches {
                return Ok((StatusCode::NOT_MODIFIED, out).into_response());
            }
            out.insert(
                CONTENT_TYPE,
                HeaderValue::from_static(if abbreviated {
                    "application/vnd.npm.install-v1+json; charset=utf-8"
                } else {
                    "application/json; charset=utf-8"
                }),
            );
            let links = format!("{}/{owner}/{}", base.0, repo.name);
            let key = packument::CacheKey::new(repo.id, &name, abbreviated, &links);
            if let Some(body) = key.cached(&app, &etag) {
                return Ok((StatusCode::OK, out, body).into_response());
            }
            let started = std::time::Instant::now();
            sources.load(&app, &repo, abbreviated).await?;
            let loaded = started.elapsed();
            let fresh = sources.etag(&base.0, abbreviated);
            if fresh != etag {
                // A version changed between the two reads: describe what is rendered.
                etag = fresh;
                out.insert(
                    ETAG,
                    HeaderValue::from_str(&etag).map_err(AppError::internal)?,
                );
            }
            let (body, fills) = sources.render(&base.0, owner, &repo.name, abbreviated);
            tracing::debug!(
                package = %name,
                abbreviated,
                load_ms = loaded.as_secs_f64() * 1000.0,
                render_ms = (started.elapsed() - loaded).as_secs_f64() * 1000.0,
                bytes = body.len(),
                documents_filled = fills.len(),
                "npm packument rendered"
            );
            store_documents(&app, fills);
            let body = bytes::Bytes::from(body);
            key.keep(&app, &etag, body.clone());
            Ok((StatusCode::OK, out, body).into_response())
        }
        [wanted] => {
            sources.load(&app, &repo, false).await?;
            let tags = sources.dist_tags();
            let version = tags.get(wanted).cloned().unwrap_or_else(|| wanted.clone());
            let (body, fills) = sources.render(&base.0, owner, &repo.name, false);
            store_documents(&app, fills);
            let full: Value = serde_json::from_str(&body).map_err(AppError::internal)?;
            let doc = full["versions"][&version].clone();
            if doc.is_null() {
                return Err(AppError::NotFound(format!(
                    "version {wanted} of {name} not found in {}",
                    repo.slug()
                )));
            }
            Ok(json_response(StatusCode::OK, doc))
        }
        _ => Err(not_found(&name, &repo)),
    }
}

/// Stores version documents rendered from metadata, after the response (a failure only
/// means the next render parses the metadata again).
fn store_documents(app: &Arc<App>, fills: Vec<crate::queries::NpmDocument>) {
    if fills.is_empty() {
        return;
    }
    let app = Arc::clone(app);
    tokio::spawn(async move {
        if let Err(e) = app.db.npm_put_documents(&fills).await {
            tracing::warn!(error = %e, "storing npm version documents failed");
        }
    });
}

/// The live local package of `name@version`.
async fn live_version(
    app: &Arc<App>,
    repo: &RepoRow,
    name: &str,
    version: &str,
) -> AppResult<Option<PackageRow>> {
    Ok(app
        .db
        .find_live_package(repo.id, FORMAT, name, version, "")
        .await?)
}

/// npm: the registry API (packuments, tarballs, publish, dist-tags, unpublish).
pub struct Plugin;

impl crate::plugin::FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(crate::pure::Npm)
    }

    fn routes(&self) -> crate::plugin::RouteSet {
        const TAGS: &str = "/{owner}/{repo}/npm/-/package/{package}/dist-tags";
        // Publish documents are bounded while they stream (the tarball by the configured
        // maximum, the rest by its own bound).
        crate::plugin::RouteSet::new()
            .get("/{owner}/{repo}/npm/-/whoami", whoami)
            .get("/{owner}/{repo}/npm/-/ping", ping)
            .get(TAGS, tags::dist_tags)
            .put(&format!("{TAGS}/{{tag}}"), tags::dist_tag_put)
            .delete(&format!("{TAGS}/{{tag}}"), tags::dist_tag_delete)
            .file(
                "/{owner}/{repo}/npm/-/upstream/{upstream}/{package}/{version}",
                upstream::upstream_tarball,
            )
            .slug_files(FORMAT)
            .get("/{owner}/{repo}/npm/{*path}", get)
            .put_upload("/{owner}/{repo}/npm/{*path}", publish::put)
            .delete("/{owner}/{repo}/npm/{*path}", publish::delete)
    }

    /// npm prints `body.error` as a string.
    fn client_shape(&self) -> Option<crate::client_error::ClientShape> {
        Some(crate::client_error::ClientShape::Npm)
    }

    fn has_upstreams(&self) -> bool {
        true
    }

    fn migrations(&self) -> Option<gantry_db::MigrationSet> {
        Some(crate::queries::MIGRATIONS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_from_paths() {
        assert_eq!(split_name("lodash"), Some(("lodash".into(), vec![])));
        assert_eq!(
            split_name("@s/a/-rev/1-x"),
            Some(("@s/a".into(), vec!["-rev".into(), "1-x".into()]))
        );
        assert_eq!(
            split_name("a/1.0.0"),
            Some(("a".into(), vec!["1.0.0".into()]))
        );
        assert_eq!(split_name("@s"), None);
        assert_eq!(split_name(".."), None);
    }

    #[test]
    fn reads_integrity_and_tags() {
        assert_eq!(
            publish::sha512_hex("sha1-xx sha512-AAEC").as_deref(),
            Some("000102")
        );
        assert!(tags::valid_tag("beta").is_ok());
        assert!(tags::valid_tag("1.0.0").is_err());
        assert!(tags::valid_tag("").is_err());
    }
}
