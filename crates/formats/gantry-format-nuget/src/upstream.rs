//! NuGet upstreams: another Gantry's NuGet feed, configured by the base of its v3 paths
//! (`http://host/owner/repo/nuget/v3`). Registrations and `.nuspec` files are kept with the
//! upstream's TTL and served stale while it is down; `.nupkg` files are streamed through,
//! and in `cache` mode stored as packages on the way (checked like any upload).

use std::sync::Arc;

use axum::http::Method;
use axum::response::Response;
use gantry_db::{RepoRow, UpstreamRow};
use gantry_formats::Declared;
use gantry_protocol::upstream::{url_under, TextDocuments};
use serde_json::Value;

use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::pure::package_file;
use crate::routes::entries::{upstream_entry, Entry};

/// Most registration pages followed, and versions taken, per package.
const MAX_PAGES: usize = 64;
const MAX_VERSIONS: usize = 20_000;
/// The feed's JSON documents, at most 32 MiB each.
const DOCUMENTS: TextDocuments = TextDocuments {
    accept: "application/json, */*",
    max: 32 << 20,
};

/// The versions the upstream's registration lists for `lid`; empty when it has none.
/// Linked pages are followed (up to a bound), each kept like the index.
pub(crate) async fn registration(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    lid: &str,
) -> Result<Vec<Entry>, String> {
    let index_url = url_under(upstream, &format!("registration/{lid}/index.json"));
    let Some(body) = DOCUMENTS
        .get(app, upstream, &format!("nuget|reg|{lid}"), &index_url)
        .await?
    else {
        return Ok(Vec::new());
    };
    let index: Value =
        serde_json::from_str(&body).map_err(|e| format!("{index_url} is not JSON: {e}"))?;
    let mut entries = Vec::new();
    for page in index["items"]
        .as_array()
        .into_iter()
        .flatten()
        .take(MAX_PAGES)
    {
        let items = match page["items"].as_array() {
            Some(items) => items.clone(),
            None => {
                let Some(page_url) = page["@id"].as_str() else {
                    continue;
                };
                let key = format!("nuget|page|{lid}|{page_url}");
                let Some(body) = DOCUMENTS.get(app, upstream, &key, page_url).await? else {
                    continue;
                };
                let page: Value = serde_json::from_str(&body)
                    .map_err(|e| format!("{page_url} is not JSON: {e}"))?;
                page["items"].as_array().cloned().unwrap_or_default()
            }
        };
        entries.extend(
            items
                .iter()
                .filter_map(upstream_entry)
                .filter(|e| e.id.eq_ignore_ascii_case(lid)),
        );
        if entries.len() > MAX_VERSIONS {
            return Err(format!(
                "{index_url} lists more than {MAX_VERSIONS} versions"
            ));
        }
    }
    Ok(entries)
}

/// The upstream's `.nuspec` of `lid` `key`.
pub(crate) async fn nuspec(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    lid: &str,
    key: &str,
) -> Result<Option<String>, String> {
    let file = url_under(upstream, &format!("flat/{lid}/{key}/{lid}.nuspec"));
    DOCUMENTS
        .get(app, upstream, &format!("nuget|nuspec|{lid}|{key}"), &file)
        .await
}

/// Streams the upstream's `.nupkg` of `lid` `key`; in `cache` mode it becomes a package of
/// `repo` once complete and checked.
pub(crate) async fn nupkg(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    repo: RepoRow,
    upstream: &UpstreamRow,
    lid: &str,
    key: &str,
) -> AppResult<Response> {
    let filename = package_file(lid, key, false);
    let file = gantry_protocol::upstream::RemoteFile {
        format: super::routes::FORMAT,
        url: url_under(upstream, &format!("flat/{lid}/{key}/{filename}")),
        what: format!("{lid} {key}"),
        content_type: "application/octet-stream",
        declared: Declared {
            name: Some(lid.to_owned()),
            version: Some(key.to_owned()),
            filename,
            ..Declared::default()
        },
        expected: gantry_protocol::upstream::Expected::default(),
    };
    gantry_protocol::upstream::serve_file(Arc::clone(app), caller, repo, upstream, method, file)
        .await
}

/// Search answers, at most 8 MiB each.
const SEARCH_DOCUMENTS: TextDocuments = TextDocuments {
    accept: "application/json, */*",
    max: 8 << 20,
};
/// Most hits taken from one upstream's search or autocomplete answer: its first page.
pub(crate) const MAX_SEARCH_HITS: usize = 200;

/// The `data` of the upstream's answer at `endpoint` (`query` or `autocomplete`) for
/// `params` (`q`, `prerelease`, `semVerLevel`), its first [`MAX_SEARCH_HITS`] hits: kept per
/// query for the upstream's TTL and answered stale while it is down. Empty when the upstream
/// has no such service.
pub(crate) async fn search(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    endpoint: &str,
    params: &[(&str, &str)],
) -> Result<Vec<Value>, String> {
    let base = url_under(upstream, endpoint);
    let mut url = url::Url::parse(&base).map_err(|e| format!("{base}: {e}"))?;
    url.query_pairs_mut()
        .extend_pairs(params)
        .append_pair("skip", "0")
        .append_pair("take", &MAX_SEARCH_HITS.to_string());
    let key = format!("nuget|{endpoint}|{}", url.query().unwrap_or_default());
    let Some(body) = SEARCH_DOCUMENTS
        .get(app, upstream, &key, url.as_str())
        .await?
    else {
        return Ok(Vec::new());
    };
    let answer: Value =
        serde_json::from_str(&body).map_err(|e| format!("{url} is not JSON: {e}"))?;
    Ok(answer["data"]
        .as_array()
        .into_iter()
        .flatten()
        .take(MAX_SEARCH_HITS)
        .cloned()
        .collect())
}
