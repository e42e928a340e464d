//! Search (`SearchQueryService`) and autocomplete (`SearchAutocompleteService`) over this
//! repository's packages and its upstreams': listed versions only, pre-releases with
//! `prerelease=true`, SemVer 2 versions with `semVerLevel=2.0.0`. The repository's packages
//! are read once per cache epoch and filtered in memory, so searches of an unchanged
//! repository without upstreams cost no query. Each upstream is asked the same question (its
//! first [`crate::upstream::MAX_SEARCH_HITS`] hits, kept for its TTL, stale while it is down); an id the
//! repository has keeps the repository's hit. The merged list is ordered by id, and `skip`
//! and `take` page it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::Feed;
use super::entries::{self, local_entry, Entry};
use super::hits::Hit;
use super::{feed, json_response, FORMAT};
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
    /// Whether SemVer 2 versions are wanted (`semVerLevel=2.0.0`).
    fn semver2(&self) -> bool {
        self.sem_ver_level
            .as_deref()
            .is_some_and(|l| l.starts_with('2'))
    }

    fn wanted(&self, entry: &Entry) -> bool {
        entry.listed
            && (self.prerelease.unwrap_or(false) || !entry.prerelease)
            && (self.semver2() || !entry.semver2)
    }

    fn query(&self) -> AppResult<String> {
        let q = self.q.as_deref().unwrap_or_default().trim();
        if q.len() > MAX_QUERY {
            return Err(AppError::BadRequest("the query is too long".into()));
        }
        Ok(q.to_lowercase())
    }

    /// What an upstream is asked: the same query, pre-release and SemVer level (the level
    /// as read here, so no client text but the query reaches the upstream or its cache key).
    fn upstream_params(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("q", self.q.as_deref().unwrap_or_default().trim().to_owned()),
            ("prerelease", self.prerelease.unwrap_or(false).to_string()),
        ];
        if self.semver2() {
            out.push(("semVerLevel", "2.0.0".to_owned()));
        }
        out
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

/// One search of a repository: its packages and the question, read once.
struct Search<'a> {
    app: &'a Arc<App>,
    repo: &'a RepoRow,
    params: &'a SearchParams,
    packages: Arc<Packages>,
    /// The query, lower-cased.
    query: String,
}

impl<'a> Search<'a> {
    async fn new(
        app: &'a Arc<App>,
        repo: &'a RepoRow,
        params: &'a SearchParams,
    ) -> AppResult<Search<'a>> {
        Ok(Search {
            query: params.query()?,
            packages: packages(app, repo).await?,
            app,
            repo,
            params,
        })
    }

    /// Adds the hits of the repository's upstreams at `endpoint` (each read by `read` into
    /// its lower-cased id and hit) to `merged`: an id already there keeps its hit, and an
    /// upstream that keeps local names only adds none of the repository's ids. A failing
    /// upstream is left out (logged); the search fails only when every hit would have come
    /// from failed upstreams.
    async fn with_upstreams<T>(
        &self,
        endpoint: &str,
        merged: &mut BTreeMap<String, T>,
        read: impl Fn(&Value) -> Option<(String, T)>,
    ) -> AppResult<()> {
        let upstreams = gantry_protocol::caches::upstreams(self.app, self.repo.id, FORMAT).await?;
        let asked = self.params.upstream_params();
        let asked: Vec<(&str, &str)> = asked.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut failures = Vec::new();
        for upstream in upstreams.iter() {
            let items = match crate::upstream::search(self.app, upstream, endpoint, &asked).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::warn!(upstream = %upstream.name, error = %e, "upstream search failed");
                    failures.push(format!("{}: {e}", upstream.name));
                    continue;
                }
            };
            for (lid, hit) in items.iter().filter_map(&read) {
                if upstream.local_names_only != 0 && self.packages.contains_key(&lid) {
                    continue;
                }
                merged.entry(lid).or_insert(hit);
            }
        }
        if merged.is_empty() && !failures.is_empty() {
            return Err(AppError::BadGateway(format!(
                "the upstreams of {} failed: {}",
                self.repo.slug(),
                failures.join("; ")
            )));
        }
        Ok(())
    }
}

/// `GET …/query?q=&skip=&take=&prerelease=&semVerLevel=`.
pub(crate) async fn query(
    State(app): State<Arc<App>>,
    base: BaseUrl,
    ApiQuery(params): ApiQuery<SearchParams>,
    repo: Feed<op::Read>,
) -> AppResult<Response> {
    let search = Search::new(&app, &repo, &params).await?;
    let mut merged: BTreeMap<String, Hit> = hits(&search.packages, &params, &search.query)
        .into_iter()
        .filter_map(|(lid, versions)| Some((lid.to_owned(), Hit::local(&versions)?)))
        .collect();
    search
        .with_upstreams("query", &mut merged, |item| {
            let hit = Hit::upstream(item)?;
            Some((hit.id.to_lowercase(), hit))
        })
        .await?;
    let (skip, take) = params.page();
    let feed = feed(&base, &repo);
    let data: Vec<Value> = merged
        .values()
        .skip(skip)
        .take(take)
        .map(|hit| hit.render(&feed))
        .collect();
    Ok(json_response(
        &json!({ "totalHits": merged.len(), "data": data }),
    ))
}

/// `GET …/autocomplete?q=&skip=&take=&prerelease=&semVerLevel=` (ids), or `?id=` (the
/// versions of one id, the upstreams' included, as its registration lists them).
pub(crate) async fn autocomplete(
    State(app): State<Arc<App>>,
    ApiQuery(params): ApiQuery<SearchParams>,
    repo: Feed<op::Read>,
) -> AppResult<Response> {
    if let Some(id) = params.id.as_deref() {
        let versions: Vec<String> = match crate::pure::check_id(id) {
            Ok(()) => entries::all(&app, &repo, &id.to_lowercase())
                .await?
                .into_iter()
                .filter(|(e, _)| params.wanted(e))
                .map(|(e, _)| e.full)
                .collect(),
            Err(_) => Vec::new(),
        };
        return Ok(json_response(
            &json!({ "totalHits": versions.len(), "data": versions }),
        ));
    }
    let search = Search::new(&app, &repo, &params).await?;
    let mut merged: BTreeMap<String, String> = hits(&search.packages, &params, "")
        .into_iter()
        .filter(|(lid, _)| lid.contains(&search.query))
        .filter_map(|(lid, versions)| Some((lid.to_owned(), versions.last()?.id.clone())))
        .collect();
    search
        .with_upstreams("autocomplete", &mut merged, |item| {
            let id = item.as_str()?;
            crate::pure::check_id(id).ok()?;
            Some((id.to_lowercase(), id.to_owned()))
        })
        .await?;
    let (skip, take) = params.page();
    let data: Vec<&String> = merged.values().skip(skip).take(take).collect();
    Ok(json_response(
        &json!({ "totalHits": merged.len(), "data": data }),
    ))
}
