//! `cache` mode: a file an upstream serves becomes part of a package of the repository, one
//! per version (per build, for a SNAPSHOT), like a deploy's: read from the version's POM,
//! with the main JAR fetched along with it so the package is scanned whole, and other files
//! (sources, javadoc) added as they are asked for. So a cached artifact is scanned, listed,
//! promotable and quarantinable, and garbage collection keeps its files; once cached it is
//! served from the repository, also while the upstream is down.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use gantry_blobs::Digests;
use gantry_db::{RepoRow, UpstreamRow};
use gantry_protocol::ingest::Origin;

use super::Miss;
use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::pure::path::ArtifactFile;
use crate::pure::ID;
use crate::routes::{find_file, pom_filename, stored_file};

/// Whether a file can be kept: not a SNAPSHOT's untimestamped alias, which moves.
pub(super) fn cacheable(file: &ArtifactFile) -> bool {
    !(file.is_snapshot() && file.build.is_none())
}

/// The file from the repository after fetching it into the version's package; `None` when
/// the upstream has no such file.
pub(super) async fn file(
    app: &Arc<App>,
    caller: &Caller,
    repo: &RepoRow,
    upstream: &UpstreamRow,
    file: &ArtifactFile,
    miss: &Miss<'_>,
) -> AppResult<Option<Response>> {
    let dir = miss.raw.rsplit_once('/').map_or("", |(dir, _)| dir);
    let url_of = |name: &str| format!("{}/{dir}/{name}", upstream.url.trim_end_matches('/'));
    let Some(fetched) = fetch_blob(app, upstream, &url_of(&file.filename), miss.raw).await? else {
        return Ok(None);
    };
    let build = file.build.clone().unwrap_or_default();
    let existing = app
        .db
        .find_live_package(repo.id, ID, &file.coordinates.name(), &file.version, &build)
        .await?;
    let kept = match existing {
        // A deployed version (or one another upstream filled) is never completed from this one.
        Some(package) if package.upstream_name.as_deref() != Some(upstream.name.as_str()) => false,
        Some(package) => {
            let row = stored_file(&file.filename, &fetched);
            app.db.add_package_file(&package, &row).await?;
            true
        }
        None => create(app, repo, upstream, file, &build, &url_of, &fetched).await,
    };
    // This server reads the new rows at once (other replicas on their next poll).
    app.caches.invalidate();
    if kept {
        if let Some((package, index)) = find_file(app, repo, file).await? {
            let row = &package.files[index];
            return gantry_protocol::serve::serve_file(
                app,
                caller,
                miss.method,
                miss.headers,
                &package,
                row,
            )
            .await
            .map(Some);
        }
    }
    serve_blob(app, caller, miss.method, repo, &fetched.sha256)
        .await
        .map(Some)
}

/// The version's package from its POM (fetched unless it is `fetched`), the main JAR and
/// the file asked for; false (logged) when the POM cannot be had or read: the file is then
/// served without being kept.
async fn create(
    app: &Arc<App>,
    repo: &RepoRow,
    upstream: &UpstreamRow,
    file: &ArtifactFile,
    build: &str,
    url_of: &(dyn Fn(&str) -> String + Sync),
    fetched: &Digests,
) -> bool {
    let pom_name = pom_filename(&file.coordinates.artifact, &file.version, build);
    let main_jar = format!("{}.jar", pom_name.trim_end_matches(".pom"));
    let pom = if file.filename == pom_name {
        fetched.clone()
    } else {
        match fetch_blob(app, upstream, &url_of(&pom_name), &pom_name).await {
            Ok(Some(pom)) => pom,
            Ok(None) => return false,
            Err(error) => {
                tracing::warn!(%error, upstream = %upstream.name, pom = %pom_name, "no POM to cache a Maven file under");
                return false;
            }
        }
    };
    let mut others = Vec::new();
    if file.filename != pom_name {
        others.push(stored_file(&file.filename, fetched));
    }
    if file.filename != main_jar {
        // A POM-only artifact (a parent, a BOM) has none: a 404 here is expected.
        if let Ok(Some(jar)) = fetch_blob(app, upstream, &url_of(&main_jar), &main_jar).await {
            others.push(stored_file(&main_jar, &jar));
        }
    }
    let origin = Origin::upstream(&upstream.name);
    let gav = (&file.coordinates, file.version.as_str());
    match crate::routes::ingest(app, repo, &origin, gav, (&pom_name, pom), others, true).await {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(%error, upstream = %upstream.name, file = %file.filename, "an upstream Maven file was served but not cached as a package");
            false
        }
    }
}

/// Fetches an upstream file into the blob store; `None` when the upstream has none.
async fn fetch_blob(
    app: &App,
    upstream: &UpstreamRow,
    url: &str,
    what: &str,
) -> AppResult<Option<Digests>> {
    let Some(response) = gantry_protocol::upstream::open_file(app, upstream, url, what).await?
    else {
        return Ok(None);
    };
    let digests = app
        .blobs
        .put_stream(response.bytes_stream(), app.config.max_upload_size)
        .await?;
    Ok(Some(digests))
}

/// A fetched blob that no package keeps, served as it is.
async fn serve_blob(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    repo: &RepoRow,
    sha256: &str,
) -> AppResult<Response> {
    if method != Method::HEAD {
        gantry_protocol::serve::charge_download(app, caller, &repo.namespace).await?;
    }
    let reader = app.blobs.get(sha256, None).await?;
    let length = reader.total_size;
    let mut response = if method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        let metrics = Arc::clone(app);
        let body = reader.stream.map(move |chunk| {
            if let Ok(b) = &chunk {
                metrics.metrics.add_sent(b.len() as u64);
            }
            chunk
        });
        (StatusCode::OK, axum::body::Body::from_stream(body)).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        axum::http::header::CONTENT_LENGTH,
        axum::http::HeaderValue::from(length),
    );
    Ok(response)
}
