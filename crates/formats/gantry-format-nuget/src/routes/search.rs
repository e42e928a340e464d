//! Search (`SearchQueryService`) and autocomplete (`SearchAutocompleteService`) over this
//! repository's packages: listed versions only, pre-releases with `prerelease=true`, SemVer 2
//! versions with `semVerLevel=2.0.0`, paged by `skip` and `take`. The packages are read once
//! per cache epoch and filtered in memory, so searches of an unchanged repository cost no
//! query. Upstreams are not searched (their packages are found by id).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::Feed;
use super::entries::{local_entry, Entry};
use super::{feed, json_response};
use crate::app::App;
use crate::error::{ApiQuery, AppError, AppResult};
use crate::pure::version::compare;
use crate::queries::NuGetQueries;
use crate::render::BaseUrl;
use gantry_db::RepoRow;
use gantry_protocol::extract::op;

/// Largest `take`, and longest query.
const MAX_TAKE: usize = 1_000;
const MAX_QUERY: usize = 256;

/// The repository's packages, each with its versions in order.
type Packages = BTreeMap<String, Vec<Entry>>;

async fn packages(app: &Arc<App>, repo: &RepoRow) -> AppResult<Arc<Packages>> {
    let key = format!("nuget-search|{}", repo.id);
    gantry_protocol::caches::memoized(app, key, || async {
        let rows = app.db.nuget_packages(repo.id).await?;
        let mut out = Packages::new();
        for row in &rows {
            if let Some(entry) = local_entry(row) {
                out.entry(row.normalized_name.clone())
                    .or_default()
                    .push(entry);
            }
        }
        for versions in out.values_mut() {
            versions.sort_by(|a, b| compare(&a.key, &b.key));
        }
        Ok(out)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    q: Option<String>,
    skip: Option<usize>,
    take: Option<usize>,
    prerelease: Option<bool>,
    #[serde(rename = "semVerLevel")]
    sem_ver_level: Option<String>,
    /// Autocomplete only: list the versions of this id.
    id: Option<String>,
}

impl SearchParams {
    fn wanted(&self, entry: &Entry) -> bool {
        let semver2 = self
            .sem_ver_level
            .as_deref()
            .is_some_and(|l| l.starts_with('2'));
        entry.listed
            && (self.prerelease.unwrap_or(false) || !entry.prerelease)
            && (semver2 || !entry.semver2)
    }

    fn query(&self) -> AppResult<String> {
        let q = self.q.as_deref().unwrap_or_default().trim();
        if q.len() > MAX_QUERY {
            return Err(AppError::BadRequest("the query is too long".into()));
        }
        Ok(q.to_lowercase())
    }

    fn page(&self) -> (usize, usize) {
        (
            self.skip.unwrap_or(0),
            self.take.unwrap_or(20).min(MAX_TAKE),
        )
    }
}

/// Whether every term of the query is in the package's id, title, tags or description; an
/// `id:` or `packageid:` term matches the id only.
fn matches(query: &str, lid: &str, latest: &Entry) -> bool {
    let text = |k: &str| latest.catalog.get(k).map(|v| v.to_string().to_lowercase());
    query.split_whitespace().all(|term| {
        if let Some(id) = term.strip_prefix("packageid:") {
            return lid == id;
        }
        if let Some(id) = term.strip_prefix("id:") {
            return lid.contains(id);
        }
        lid.contains(term)
            || ["title", "tags", "description"]
                .iter()
                .any(|k| text(k).is_some_and(|t| t.contains(term)))
    })
}

/// The packages with a version the search wants, each with those versions.
fn hits<'p>(
    packages: &'p Packages,
    params: &SearchParams,
    query: &str,
) -> Vec<(&'p str, Vec<&'p Entry>)> {
    packages
        .iter()
        .filter_map(|(lid, versions)| {
            let kept: Vec<&Entry> = versions.iter().filter(|e| params.wanted(e)).collect();
            let latest = kept.last()?;
            matches(query, lid, latest).then_some((lid.as_str(), kept))
        })
        .collect()
}

/// `GET …/query?q=&skip=&take=&prerelease=&semVerLevel=`.
pub(crate) async fn query(
    State(app): State<Arc<App>>,
    base: BaseUrl,
    ApiQuery(params): ApiQuery<SearchParams>,
    repo: Feed<op::Read>,
) -> AppResult<Response> {
    let query = params.query()?;
    let packages = packages(&app, &repo).await?;
    let found = hits(&packages, &params, &query);
    let (skip, take) = params.page();
    let feed = feed(&base, &repo);
    let data: Vec<Value> = found
        .iter()
        .skip(skip)
        .take(take)
        .filter_map(|(lid, versions)| {
            let latest = versions.last()?;
            let registration = format!("{feed}/registration/{lid}/index.json");
            let field = |k: &str| latest.catalog.get(k).cloned().unwrap_or(json!(""));
            let authors = latest.catalog.get("authors").and_then(Value::as_str).unwrap_or("");
            Some(json!({
                "@id": registration,
                "@type": "Package",
                "registration": registration,
                "id": latest.id,
                "version": latest.full,
                "description": field("description"),
                "summary": field("summary"),
                "title": field("title"),
                "iconUrl": field("iconUrl"),
                "licenseUrl": field("licenseUrl"),
                "projectUrl": field("projectUrl"),
                "tags": latest.catalog.get("tags").cloned().unwrap_or(json!([])),
                "authors": authors.split(',').map(str::trim).filter(|a| !a.is_empty()).collect::<Vec<_>>(),
                "totalDownloads": 0,
                "verified": false,
                "packageTypes": [{ "name": "Dependency" }],
                "versions": versions.iter().map(|e| json!({
                    "version": e.full,
                    "downloads": 0,
                    "@id": format!("{feed}/registration/{lid}/{}.json", e.key),
                })).collect::<Vec<_>>(),
            }))
        })
        .collect();
    Ok(json_response(
        &json!({ "totalHits": found.len(), "data": data }),
    ))
}

/// `GET …/autocomplete?q=&skip=&take=&prerelease=&semVerLevel=` (ids), or `?id=` (the
/// versions of one id).
pub(crate) async fn autocomplete(
    State(app): State<Arc<App>>,
    ApiQuery(params): ApiQuery<SearchParams>,
    repo: Feed<op::Read>,
) -> AppResult<Response> {
    let packages = packages(&app, &repo).await?;
    if let Some(id) = params.id.as_deref() {
        let versions: Vec<&str> = packages
            .get(&id.to_lowercase())
            .into_iter()
            .flatten()
            .filter(|e| params.wanted(e))
            .map(|e| e.full.as_str())
            .collect();
        return Ok(json_response(
            &json!({ "totalHits": versions.len(), "data": versions }),
        ));
    }
    let query = params.query()?;
    let found: Vec<&str> = hits(&packages, &params, "")
        .into_iter()
        .filter(|(lid, _)| lid.contains(&query))
        .map(|(_, versions)| versions.last().map_or("", |e| e.id.as_str()))
        .collect();
    let (skip, take) = params.page();
    let data: Vec<&str> = found.iter().skip(skip).take(take).copied().collect();
    Ok(json_response(
        &json!({ "totalHits": found.len(), "data": data }),
    ))
}
