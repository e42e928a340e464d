//! Registrations (`RegistrationsBaseUrl`): per package id an index of pages of versions, each
//! leaf with its catalog entry (`listed`, dependency groups, deprecation, licence) and the
//! flat-container URL of its `.nupkg`. Up to [`INLINE_MAX`] versions the pages are inlined in
//! the index; beyond, the index links to page documents, as large feeds do.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::Feed;
use super::entries::{self, Entry};
use super::{checked_id, feed, json_response, json_text};
use crate::app::App;
use crate::error::{ApiPath, AppError, AppResult};
use crate::pure::version::{compare, Version};
use crate::render::BaseUrl;
use gantry_db::RepoRow;
use gantry_protocol::extract::op;

/// Versions per page.
pub(crate) const PAGE_SIZE: usize = 64;
/// Most versions whose pages are inlined in the index.
pub(crate) const INLINE_MAX: usize = 128;

struct Urls {
    feed: String,
    lid: String,
}

impl Urls {
    fn index(&self) -> String {
        format!("{}/registration/{}/index.json", self.feed, self.lid)
    }
    fn leaf(&self, key: &str) -> String {
        format!("{}/registration/{}/{key}.json", self.feed, self.lid)
    }
    fn page(&self, lower: &str, upper: &str) -> String {
        format!(
            "{}/registration/{}/page/{lower}/{upper}.json",
            self.feed, self.lid
        )
    }
    fn content(&self, key: &str) -> String {
        format!(
            "{}/flat/{}/{key}/{}",
            self.feed,
            self.lid,
            crate::pure::package_file(&self.lid, key, false)
        )
    }

    fn leaf_item(&self, entry: &Entry) -> Value {
        let mut catalog = entry.catalog.clone();
        catalog.insert(
            "@id".into(),
            json!(format!("{}#catalog", self.leaf(&entry.key))),
        );
        catalog.insert("@type".into(), json!("PackageDetails"));
        catalog.insert("id".into(), json!(entry.id));
        catalog.insert("version".into(), json!(entry.full));
        catalog.insert("listed".into(), json!(entry.listed));
        catalog.insert("packageContent".into(), json!(self.content(&entry.key)));
        json!({
            "@id": self.leaf(&entry.key),
            "@type": "Package",
            "catalogEntry": catalog,
            "packageContent": self.content(&entry.key),
            "registration": self.index(),
        })
    }

    fn page_doc(&self, chunk: &[Entry], inline: bool) -> Value {
        let lower = chunk.first().map_or("", |e| e.key.as_str());
        let upper = chunk.last().map_or("", |e| e.key.as_str());
        let mut page = json!({
            "@id": self.page(lower, upper),
            "@type": "catalog:CatalogPage",
            "count": chunk.len(),
            "lower": lower,
            "upper": upper,
            "parent": self.index(),
        });
        if inline {
            page["items"] = chunk.iter().map(|e| self.leaf_item(e)).collect();
        }
        page
    }
}

/// The versions of the package, or a 404 naming it.
async fn versions(app: &Arc<App>, repo: &RepoRow, id: &str) -> AppResult<(String, Vec<Entry>)> {
    let lid = checked_id(id, repo)?;
    let all: Vec<Entry> = entries::all(app, repo, &lid)
        .await?
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    if all.is_empty() {
        return Err(AppError::NotFound(format!(
            "package {id} not found in {}",
            repo.slug()
        )));
    }
    Ok((lid, all))
}

/// The `{id}/{leaf}` of a registration document.
#[derive(Deserialize)]
pub(crate) struct LeafPath {
    id: String,
    leaf: String,
}

/// `GET …/registration/{id}/index.json` or `…/registration/{id}/{version}.json`.
pub(crate) async fn document(
    State(app): State<Arc<App>>,
    base: BaseUrl,
    ApiPath(LeafPath { id, leaf }): ApiPath<LeafPath>,
    repo: Feed<op::Read>,
) -> AppResult<Response> {
    let feed = feed(&base, &repo);
    let key = format!("nuget-reg|{}|{feed}|{id}|{leaf}", repo.id);
    let body = entries::rendered(&app, &repo, key, || async {
        let (lid, all) = versions(&app, &repo, &id).await?;
        let urls = Urls { feed, lid };
        render(&urls, &all, &leaf)
            .ok_or_else(|| AppError::NotFound(format!("{id} {leaf} not found in {}", repo.slug())))
    })
    .await?;
    Ok(json_text(body.as_ref().clone()))
}

/// The registration index (`leaf` is `index.json`) or a version's leaf (`VERSION.json`).
fn render(urls: &Urls, all: &[Entry], leaf: &str) -> Option<String> {
    if leaf == "index.json" {
        let inline = all.len() <= INLINE_MAX;
        let pages: Vec<Value> = all
            .chunks(PAGE_SIZE)
            .map(|c| urls.page_doc(c, inline))
            .collect();
        let index = json!({
            "@id": urls.index(),
            "@type": ["catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"],
            "count": pages.len(),
            "items": pages,
        });
        return Some(index.to_string());
    }
    let key = Version::parse(leaf.strip_suffix(".json")?).ok()?.key();
    let entry = all.iter().find(|e| e.key == key)?;
    let item = urls.leaf_item(entry);
    let leaf = json!({
        "@id": urls.leaf(&key),
        "@type": ["Package", "catalog:Permalink"],
        "catalogEntry": item["catalogEntry"],
        "listed": entry.listed,
        "packageContent": urls.content(&key),
        "published": entry.catalog.get("published").cloned().unwrap_or(Value::Null),
        "registration": urls.index(),
    });
    Some(leaf.to_string())
}

/// The `{id}/page/{lower}/{upper}` of a registration page.
#[derive(Deserialize)]
pub(crate) struct PagePath {
    id: String,
    lower: String,
    upper: String,
}

/// `GET …/registration/{id}/page/{lower}/{upper}.json`: the versions from `lower` to
/// `upper`, as one page.
pub(crate) async fn page(
    State(app): State<Arc<App>>,
    base: BaseUrl,
    ApiPath(PagePath { id, lower, upper }): ApiPath<PagePath>,
    repo: Feed<op::Read>,
) -> AppResult<Response> {
    let (lid, all) = versions(&app, &repo, &id).await?;
    let upper = upper.strip_suffix(".json").unwrap_or(&upper);
    let in_range: Vec<Entry> = all
        .into_iter()
        .filter(|e| compare(&e.key, &lower).is_ge() && compare(&e.key, upper).is_le())
        .collect();
    if in_range.is_empty() {
        return Err(AppError::NotFound(format!(
            "no versions of {id} from {lower} to {upper} in {}",
            repo.slug()
        )));
    }
    let urls = Urls {
        feed: feed(&base, &repo),
        lid,
    };
    Ok(json_response(&urls.page_doc(&in_range, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(minor: usize) -> Entry {
        Entry {
            id: "Big.Lib".into(),
            key: format!("1.{minor}.0"),
            full: format!("1.{minor}.0"),
            listed: true,
            prerelease: false,
            semver2: false,
            catalog: serde_json::Map::new(),
        }
    }

    fn index(count: usize) -> Value {
        let urls = Urls {
            feed: "http://h/acme/dev/nuget/v3".into(),
            lid: "big.lib".into(),
        };
        let all: Vec<Entry> = (0..count).map(entry).collect();
        let text = render(&urls, &all, "index.json").unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_default()
    }

    #[test]
    fn pages_are_inlined_up_to_the_bound_and_linked_beyond() {
        let small = index(INLINE_MAX);
        assert_eq!(small["count"], 2);
        assert_eq!(
            small["items"][1]["items"].as_array().map(Vec::len),
            Some(64)
        );
        assert_eq!(
            small["items"][0]["items"][0]["packageContent"],
            "http://h/acme/dev/nuget/v3/flat/big.lib/1.0.0/big.lib.1.0.0.nupkg"
        );
        let big = index(INLINE_MAX + 1);
        assert_eq!(big["count"], 3);
        assert!(big["items"][0].get("items").is_none());
        assert_eq!(big["items"][2]["lower"], "1.128.0");
        assert_eq!(
            big["items"][0]["@id"],
            "http://h/acme/dev/nuget/v3/registration/big.lib/page/1.0.0/1.63.0.json"
        );
    }
}
