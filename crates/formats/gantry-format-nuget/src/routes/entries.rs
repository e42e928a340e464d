//! The versions of one package id as the feed documents show them: this repository's, read
//! at most once per cache epoch (no query while nothing changed), merged with its upstreams'
//! (kept for the upstream's TTL, stale while it is down). A local version hides an upstream's
//! of the same normalised version.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::FORMAT;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::pure::version::{compare, Version};
use crate::queries::{NuGetQueries, VersionRow};
use gantry_db::{RepoRow, UpstreamRow};
use gantry_protocol::caches::upstreams_for_name;

/// One version of a package.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The id as the package spells it.
    pub id: String,
    /// The normalised, lower-cased version (flat-container paths, leaf URLs).
    pub key: String,
    /// The version for display, with build metadata.
    pub full: String,
    pub listed: bool,
    pub prerelease: bool,
    pub semver2: bool,
    /// The registration's `catalogEntry` fields but the URLs.
    pub catalog: Map<String, Value>,
}

/// The catalog fields of a stored `.nuspec` summary (the format's metadata).
fn catalog_of(metadata: &Value) -> Map<String, Value> {
    let text = |key: &str| metadata[key].as_str().unwrap_or_default().to_owned();
    let groups: Vec<Value> = metadata["dependency_groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            let deps: Vec<Value> = g["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| json!({ "id": d["id"], "range": d["range"] }))
                .collect();
            let mut group = json!({ "dependencies": deps });
            if let Some(tf) = g["target_framework"].as_str().filter(|t| !t.is_empty()) {
                group["targetFramework"] = json!(tf);
            }
            group
        })
        .collect();
    let tags: Vec<&str> = metadata["tags"]
        .as_str()
        .unwrap_or_default()
        .split([' ', ','])
        .filter(|t| !t.is_empty())
        .collect();
    let mut out = Map::new();
    for (key, field) in [
        ("description", "description"),
        ("authors", "authors"),
        ("title", "title"),
        ("summary", "summary"),
        ("projectUrl", "project_url"),
        ("iconUrl", "icon_url"),
        ("licenseUrl", "license_url"),
        ("licenseExpression", "license_expression"),
    ] {
        out.insert(key.into(), json!(text(field)));
    }
    out.insert("tags".into(), json!(tags));
    out.insert(
        "requireLicenseAcceptance".into(),
        json!(metadata["require_license_acceptance"]
            .as_bool()
            .unwrap_or(false)),
    );
    out.insert("dependencyGroups".into(), json!(groups));
    out
}

fn published(uploaded_at: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(uploaded_at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An entry of a stored version; a yank is an unlisting, and a yank's reason is shown as a
/// deprecation. A quarantined version is unlisted too, so only a client that names it is
/// sent to its download, which answers why it is held.
pub(crate) fn local_entry(row: &VersionRow) -> Option<Entry> {
    let metadata: Value = serde_json::from_str(&row.metadata).ok()?;
    let full = metadata["version"]
        .as_str()
        .unwrap_or(&row.version)
        .to_owned();
    let version = Version::parse(&full).ok()?;
    let mut catalog = catalog_of(&metadata);
    catalog.insert("published".into(), json!(published(row.uploaded_at)));
    if let Some(reason) = row.yank_reason.as_deref().filter(|_| row.yanked != 0) {
        catalog.insert(
            "deprecation".into(),
            json!({ "reasons": ["Other"], "message": reason }),
        );
    }
    Some(Entry {
        id: row.name.clone(),
        key: version.key(),
        full: version.full,
        listed: row.yanked == 0 && row.state == "available",
        prerelease: version.prerelease,
        semver2: version.semver2,
        catalog,
    })
}

/// The catalog fields an upstream's `catalogEntry` may give (its URLs are not kept).
const UPSTREAM_FIELDS: &[&str] = &[
    "description",
    "authors",
    "title",
    "summary",
    "projectUrl",
    "iconUrl",
    "licenseUrl",
    "licenseExpression",
    "tags",
    "requireLicenseAcceptance",
    "dependencyGroups",
    "published",
    "deprecation",
];

/// An entry of an upstream's registration leaf; `None` when it is not well-formed.
pub(crate) fn upstream_entry(leaf: &Value) -> Option<Entry> {
    let catalog = leaf["catalogEntry"].as_object()?;
    let id = catalog.get("id")?.as_str()?;
    crate::pure::check_id(id).ok()?;
    let version = Version::parse(catalog.get("version")?.as_str()?).ok()?;
    let kept: Map<String, Value> = UPSTREAM_FIELDS
        .iter()
        .filter_map(|k| catalog.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    Some(Entry {
        id: id.to_owned(),
        key: version.key(),
        full: version.full,
        listed: catalog
            .get("listed")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        prerelease: version.prerelease,
        semver2: version.semver2,
        catalog: kept,
    })
}

/// The local versions of `lid` (lower-cased id), in NuGet order.
pub(crate) async fn local(app: &Arc<App>, repo: &RepoRow, lid: &str) -> AppResult<Arc<Vec<Entry>>> {
    let key = format!("nuget-versions|{}|{lid}", repo.id);
    gantry_protocol::caches::memoized(app, key, || async {
        let rows = app.db.nuget_versions(repo.id, lid).await?;
        let mut entries: Vec<Entry> = rows.iter().filter_map(local_entry).collect();
        entries.sort_by(|a, b| compare(&a.key, &b.key));
        Ok(entries)
    })
    .await
}

/// Every version of `lid` here and at the upstreams, each with the upstream it comes from
/// (`None`: local). Empty when nobody has the package; an error only when an upstream failed
/// and nothing was found.
pub(crate) async fn all(
    app: &Arc<App>,
    repo: &RepoRow,
    lid: &str,
) -> AppResult<Vec<(Entry, Option<UpstreamRow>)>> {
    let local = local(app, repo, lid).await?;
    let mut merged: Vec<(Entry, Option<UpstreamRow>)> =
        local.iter().map(|e| (e.clone(), None)).collect();
    let mut failures = Vec::new();
    // None asked when the repository keeps names it has to itself.
    for upstream in upstreams_for_name(app, repo.id, FORMAT, !local.is_empty()).await? {
        match crate::upstream::registration(app, &upstream, lid).await {
            Ok(remote) => {
                for entry in remote {
                    if !merged.iter().any(|(e, _)| e.key == entry.key) {
                        merged.push((entry, Some(upstream.clone())));
                    }
                }
            }
            Err(e) => failures.push(format!("{}: {e}", upstream.name)),
        }
    }
    if merged.is_empty() && !failures.is_empty() {
        return Err(AppError::BadGateway(format!(
            "package {lid} not found in {}, and its upstreams failed: {}",
            repo.slug(),
            failures.join("; ")
        )));
    }
    merged.sort_by(|a, b| compare(&a.0.key, &b.0.key));
    Ok(merged)
}

/// A document of the feed rendered by `render`: kept in memory until the repository changes
/// when the repository has no upstreams (whose answers follow their own TTL, so documents that
/// merge them are rendered per request).
pub(crate) async fn rendered<F, Fut>(
    app: &Arc<App>,
    repo: &RepoRow,
    key: String,
    render: F,
) -> AppResult<Arc<String>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = AppResult<String>>,
{
    if gantry_protocol::caches::upstreams(app, repo.id, FORMAT)
        .await?
        .is_empty()
    {
        return gantry_protocol::caches::memoized(app, key, render).await;
    }
    Ok(Arc::new(render().await?))
}
