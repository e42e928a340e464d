//! The answers of the proxy protocol: this repository's versions first, then its upstreams'
//! (by priority). Available, unyanked versions are listed; yanked ones are still served to
//! whoever names them exactly (a `go.sum` pins them), quarantined ones are refused with the
//! reason, deleted ones are gone (404, so a `GOPROXY` list moves on).

use std::sync::Arc;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_db::{PackageRow, RepoRow, UpstreamRow};

use super::FORMAT;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::pure::{mod_name, version, zip_name, Version};
use crate::queries::GoQueries;

/// One proxy request, its repository authorised for reading.
pub(crate) struct Request<'a> {
    pub(crate) app: &'a Arc<App>,
    pub(crate) caller: &'a Caller,
    pub(crate) method: &'a Method,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) repo: RepoRow,
    pub(crate) module: String,
}

fn text(body: String, content_type: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// A module's versions in one repository, as the protocol's answers need them.
pub(crate) struct LocalVersions {
    /// Whether the repository has any live version of the module, yanked ones included.
    any: bool,
    /// The unyanked versions, by precedence.
    versions: Vec<Version>,
    /// `@v/list` of them: pseudo-versions left out.
    listing: String,
}

impl LocalVersions {
    fn of(rows: &[(String, i64)]) -> Self {
        let mut versions: Vec<Version> = rows
            .iter()
            .filter(|(_, yanked)| *yanked == 0)
            .filter_map(|(v, _)| Version::parse(v).ok())
            .collect();
        versions.sort_by(Version::precedence);
        let listing = render_list(&versions);
        Self {
            any: !rows.is_empty(),
            versions,
            listing,
        }
    }
}

fn render_list(versions: &[Version]) -> String {
    versions
        .iter()
        .filter(|v| !v.is_pseudo())
        .map(|v| format!("{}\n", v.as_str()))
        .collect()
}

/// The `.info` document of a version.
pub(crate) fn info_json(version: &str, time: &str) -> String {
    serde_json::json!({ "Version": version, "Time": time }).to_string()
}

/// A local version's time: a pseudo-version's commit time, else when it was uploaded.
fn time_of(version: &Version, package: &PackageRow) -> String {
    version.pseudo_time().unwrap_or_else(|| {
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(package.uploaded_at)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    })
}

impl Request<'_> {
    fn not_found(&self, what: &str) -> AppError {
        AppError::NotFound(format!("{what} not found in {}", self.repo.slug()))
    }

    /// Nothing had `what`: a 404 (a `GOPROXY` list moves on), unless an upstream could not
    /// be asked, which is said as a 502 rather than passed off as an absence.
    fn missing(&self, what: &str, failures: &[String]) -> AppError {
        if failures.is_empty() {
            return self.not_found(what);
        }
        AppError::BadGateway(format!(
            "{what} not found in {}, and its upstreams failed: {}",
            self.repo.slug(),
            failures.join("; ")
        ))
    }

    /// The listable versions of the module here: available, synced, not yanked, in order,
    /// with the list they render to. `None` when the repository has no live version of it at
    /// all. Read and rendered at most once per cache epoch, so an unchanged module costs no
    /// query and no parsing.
    async fn local_versions(&self) -> AppResult<Option<Arc<LocalVersions>>> {
        let key = format!("go-versions|{}|{}", self.repo.id, self.module);
        let local = gantry_protocol::caches::memoized(self.app, key, || async {
            let rows = self
                .app
                .db
                .module_versions(self.repo.id, &self.module)
                .await?;
            Ok(LocalVersions::of(&rows))
        })
        .await?;
        Ok(local.any.then_some(local))
    }

    /// The module's upstreams, unless the repository keeps names it has to itself.
    async fn upstreams(&self, has_local: bool) -> AppResult<Vec<UpstreamRow>> {
        gantry_protocol::caches::upstreams_for_name(self.app, self.repo.id, FORMAT, has_local).await
    }

    async fn live_package(&self, version: &Version) -> AppResult<Option<Arc<PackageRow>>> {
        gantry_protocol::repo::find_live_package(
            self.app,
            self.repo.id,
            FORMAT,
            &self.module,
            version.as_str(),
            "",
        )
        .await
    }

    /// `$module/@v/list`: release and pre-release versions, one a line (pseudo-versions are
    /// never listed), local and upstream merged.
    pub(crate) async fn list(&self) -> AppResult<Response> {
        let local = self.local_versions().await?;
        let mut found = local.is_some();
        let mut remote_versions = Vec::new();
        let mut failures = Vec::new();
        for upstream in self.upstreams(found).await? {
            match crate::upstream::list(self.app, &upstream, &self.module).await {
                Ok(Some(remote)) => {
                    found = true;
                    remote_versions.extend(remote);
                }
                Ok(None) => {}
                Err(e) => failures.push(format!("{}: {e}", upstream.name)),
            }
        }
        if !found {
            return Err(self.missing(&format!("module {}", self.module), &failures));
        }
        if remote_versions.is_empty() {
            let listing = local.map(|l| l.listing.clone()).unwrap_or_default();
            return Ok(text(listing, "text/plain; charset=utf-8"));
        }
        let mut versions = remote_versions;
        if let Some(local) = &local {
            versions.extend(local.versions.iter().cloned());
        }
        versions.sort_by(Version::precedence);
        versions.dedup_by(|a, b| a.as_str() == b.as_str());
        Ok(text(render_list(&versions), "text/plain; charset=utf-8"))
    }

    /// `$module/@latest`: the newest local version, else the first upstream's answer.
    pub(crate) async fn latest(&self) -> AppResult<Response> {
        let local = self.local_versions().await?;
        if let Some(newest) = local.as_ref().and_then(|l| version::latest(&l.versions)) {
            if let Some(package) = self.live_package(newest).await? {
                let body = info_json(newest.as_str(), &time_of(newest, &package));
                return Ok(text(body, "application/json"));
            }
        }
        let mut failures = Vec::new();
        for upstream in self.upstreams(local.is_some()).await? {
            match crate::upstream::latest(self.app, &upstream, &self.module).await {
                Ok(Some(body)) => return Ok(text(body, "application/json")),
                Ok(None) => {}
                Err(e) => failures.push(format!("{}: {e}", upstream.name)),
            }
        }
        Err(self.missing(&format!("module {}", self.module), &failures))
    }

    /// The first upstream that knows `version`, with its `.info`; else why none could say.
    async fn upstream_with(&self, version: &Version) -> AppResult<(UpstreamRow, String)> {
        let has_local = self.local_versions().await?.is_some();
        let mut failures = Vec::new();
        for upstream in self.upstreams(has_local).await? {
            match crate::upstream::info(self.app, &upstream, &self.module, version).await {
                Ok(Some(body)) => return Ok((upstream, body)),
                Ok(None) => {}
                Err(e) => failures.push(format!("{}: {e}", upstream.name)),
            }
        }
        let what = format!("{}@{}", self.module, version.as_str());
        Err(self.missing(&what, &failures))
    }

    /// `$module/@v/$version.info`.
    pub(crate) async fn info(&self, version: &Version) -> AppResult<Response> {
        if let Some(package) = self.live_package(version).await? {
            gantry_protocol::serve::check_downloadable(&package)?;
            let body = info_json(version.as_str(), &time_of(version, &package));
            return Ok(text(body, "application/json"));
        }
        let (_, body) = self.upstream_with(version).await?;
        Ok(text(body, "application/json"))
    }

    /// `$module/@v/$version.mod` (`zip` false) or `.zip`: stored files, served with the
    /// toolkit (ETag, Range, quarantine, entitlement budgets), else an upstream's.
    pub(crate) async fn file(&self, version: &Version, zip: bool) -> AppResult<Response> {
        let what = format!("{}@{}", self.module, version.as_str());
        let wanted = if zip {
            zip_name(version.as_str())
        } else {
            mod_name(version.as_str())
        };
        if let Some(package) = self.live_package(version).await? {
            gantry_protocol::serve::check_downloadable(&package)?;
            let file = package
                .files
                .iter()
                .find(|f| f.filename == wanted)
                .ok_or_else(|| self.not_found(&format!("{what} {wanted}")))?;
            return gantry_protocol::serve::serve_file(
                self.app,
                self.caller,
                self.method,
                self.headers,
                &package,
                file,
            )
            .await;
        }
        // The first upstream that knows the version serves its files.
        let (upstream, _) = self.upstream_with(version).await?;
        if zip {
            return crate::upstream::zip(
                self.app,
                self.caller,
                self.method,
                self.repo.clone(),
                &upstream,
                &self.module,
                version,
            )
            .await;
        }
        match crate::upstream::go_mod(self.app, &upstream, &self.module, version).await {
            Ok(Some(body)) => Ok(text(body, "text/plain; charset=utf-8")),
            Ok(None) => Err(self.not_found(&format!("{what} go.mod"))),
            Err(e) => Err(AppError::BadGateway(format!(
                "upstream {} failed: {e}",
                upstream.name
            ))),
        }
    }
}
