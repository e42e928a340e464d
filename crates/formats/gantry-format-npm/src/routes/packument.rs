//! Packuments rendered from stored packages, merged with upstreams' packuments. A local
//! version's document is stored once at publish (`metadata.manifest` and
//! `metadata.abbreviated`) and spliced in as raw JSON with its `dist`, so rendering 2,000
//! versions parses no version document into a tree.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use gantry_db::{RepoRow, UpstreamRow};

use crate::queries::{NpmDocument, NpmQueries, NpmVersionRow};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::app::App;
use crate::error::AppResult;
use crate::upstream::{escape_name, RemotePackument};

/// Where a rendered packument is kept in the shared index cache (`crate::index_cache`), with
/// its ETag as the validator: anything that changes a packument changes its ETag, so entries
/// never go stale, they are only replaced. The links in a packument depend on the base URL
/// the client used, so it is part of the key.
pub(crate) struct CacheKey(String);

impl CacheKey {
    pub(crate) fn new(repo_id: i64, name: &str, abbreviated: bool, links: &str) -> Self {
        Self(format!("npm|{repo_id}|{name}|{abbreviated}|{links}"))
    }

    /// The packument rendered before for the same validator, if kept.
    pub(crate) fn cached(&self, app: &App, etag: &str) -> Option<Bytes> {
        app.index_cache.get(&self.0, etag)
    }

    /// Keeps a rendered packument for its validator.
    pub(crate) fn keep(self, app: &App, etag: &str, body: Bytes) {
        app.index_cache.put(self.0, etag.to_owned(), body);
    }
}

/// What a stored version's metadata holds that a packument needs.
#[derive(Deserialize)]
struct Stored<'a> {
    #[serde(borrow)]
    manifest: Option<&'a RawValue>,
    #[serde(borrow)]
    abbreviated: Option<&'a RawValue>,
    #[serde(borrow, default)]
    description: Option<Cow<'a, str>>,
    #[serde(default)]
    file_count: Option<u64>,
    #[serde(default)]
    unpacked_size: Option<u64>,
}

/// Everything a packument is made of.
pub(crate) struct Sources {
    pub(crate) name: String,
    /// Summary of the local versions (see `Db::npm_fingerprint`): enough for validators; the
    /// rows themselves are read only to render.
    fingerprint: (i64, i64, i64, i64),
    local: Vec<NpmVersionRow>,
    pub(crate) tags: Vec<(String, String)>,
    /// Upstreams in priority order with their packuments and when they were fetched.
    pub(crate) remote: Vec<(UpstreamRow, RemotePackument, i64)>,
}

/// The stored versions, dist-tags and upstream packuments of `name`. Upstreams are skipped
/// for names held locally when they are `local_names_only`; a failing upstream without a
/// cached copy is left out (its failure is logged and counted).
pub(crate) async fn gather(app: &Arc<App>, repo: &RepoRow, name: &str) -> AppResult<Sources> {
    // The fingerprint and the dist-tags are read at most once per cache epoch (`caches`):
    // an unchanged packument costs no query.
    let local =
        gantry_protocol::caches::memoized(app, format!("npm|{}|{name}", repo.id), || async {
            Ok((
                app.db.npm_fingerprint(repo.id, name).await?,
                app.db.npm_dist_tags(repo.id, name).await?,
            ))
        })
        .await?;
    let (fingerprint, tags) = (local.0, local.1.clone());
    let mut remote = Vec::new();
    for upstream in gantry_protocol::caches::upstreams(app, repo.id, super::FORMAT)
        .await?
        .iter()
    {
        if upstream.local_names_only != 0 && fingerprint.0 > 0 {
            continue;
        }
        if let Ok((packument, fetched_at)) = crate::upstream::packument(app, upstream, name).await {
            remote.push((upstream.clone(), packument, fetched_at));
        }
    }
    Ok(Sources {
        name: name.to_owned(),
        fingerprint,
        local: Vec::new(),
        tags,
        remote,
    })
}

/// Appends `text` as a JSON string; text without quotes, backslashes and control characters
/// (names, versions, digests, URLs) is copied as it is.
fn push_str(out: &mut String, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into()));
    }
}

/// Orders versions by semver precedence (unparseable ones first).
fn newest<'a>(versions: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(semver::Version, &str)> = None;
    let mut any_release = false;
    let all: Vec<(semver::Version, &str)> = versions
        .filter_map(|v| semver::Version::parse(v).ok().map(|p| (p, v)))
        .collect();
    for (parsed, _) in &all {
        any_release |= parsed.pre.is_empty();
    }
    for (parsed, v) in all {
        // `latest` prefers releases; prereleases count only when there is nothing else.
        if any_release && !parsed.pre.is_empty() {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| parsed > *b) {
            best = Some((parsed, v));
        }
    }
    best.map(|(_, v)| v)
}

impl Sources {
    pub(crate) fn is_empty(&self) -> bool {
        self.fingerprint.0 == 0 && self.remote.iter().all(|(_, p, _)| p.versions.is_empty())
    }

    /// Reads the local versions' rows (documents and digests), and takes the fingerprint from
    /// them so that validators describe exactly what is rendered. Versions and dist-tags are
    /// known only after this.
    pub(crate) async fn load(
        &mut self,
        app: &App,
        repo: &RepoRow,
        abbreviated: bool,
    ) -> AppResult<()> {
        self.local = app
            .db
            .npm_versions(repo.id, &self.name, abbreviated)
            .await?;
        self.fingerprint = self
            .local
            .iter()
            .fold((0, 0, 0, 0), |(n, newest, ids, stamps), r| {
                (
                    n + 1,
                    newest.max(r.updated_at),
                    ids + r.id,
                    stamps + r.updated_at,
                )
            });
        Ok(())
    }

    /// Versions from upstreams that no local version (or higher-priority upstream) has.
    fn remote_versions(&self) -> Vec<RemoteVersion<'_>> {
        let mut seen: HashSet<&str> = self.local.iter().map(|r| r.version.as_str()).collect();
        let mut out = Vec::new();
        for (upstream, packument, _) in &self.remote {
            for (version, doc) in &packument.versions {
                if seen.insert(version.as_str()) {
                    out.push((version.as_str(), upstream, packument, doc));
                }
            }
        }
        out
    }

    /// The dist-tags: upstreams' (higher priority first), overridden by local ones, limited to
    /// versions that exist; `latest` defaults to the newest release.
    pub(crate) fn dist_tags(&self) -> BTreeMap<String, String> {
        let remote = self.remote_versions();
        let exists: HashSet<&str> = self
            .local
            .iter()
            .map(|r| r.version.as_str())
            .chain(remote.iter().map(|(v, ..)| *v))
            .collect();
        let mut tags = BTreeMap::new();
        for (_, packument, _) in self.remote.iter().rev() {
            for (tag, version) in &packument.dist_tags {
                tags.insert(tag.clone(), version.clone());
            }
        }
        for (tag, version) in &self.tags {
            tags.insert(tag.clone(), version.clone());
        }
        tags.retain(|_, v| exists.contains(v.as_str()));
        if !tags.contains_key("latest") {
            if let Some(v) = newest(exists.iter().copied()) {
                tags.insert("latest".into(), v.to_owned());
            }
        }
        tags
    }

    /// A validator for the packument as it would render: changes whenever a version, a tag,
    /// an upstream copy or the links' base changes.
    pub(crate) fn etag(&self, base: &str, abbreviated: bool) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (base, abbreviated, &self.name).hash(&mut h);
        self.fingerprint.hash(&mut h);
        self.tags.hash(&mut h);
        for (u, _, fetched) in &self.remote {
            (u.id, fetched).hash(&mut h);
        }
        format!("W/\"{:016x}\"", h.finish())
    }

    /// `_rev` of the full packument: npm's write requests echo it back.
    fn rev(&self) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.fingerprint.hash(&mut h);
        self.tags.hash(&mut h);
        format!("{}-{:016x}", self.fingerprint.0.max(1), h.finish())
    }

    /// Renders the packument: full, or abbreviated (`application/vnd.npm.install-v1+json`).
    /// Also returns the documents of versions that had none stored yet, taken from their
    /// metadata, for the caller to store.
    pub(crate) fn render(
        &self,
        base: &str,
        owner: &str,
        repo: &str,
        abbreviated: bool,
    ) -> (String, Vec<NpmDocument>) {
        // Only versions whose documents are not stored yet have their metadata parsed.
        let stored: Vec<Option<Stored<'_>>> = self
            .local
            .iter()
            .map(|r| {
                r.metadata
                    .as_deref()
                    .and_then(|m| serde_json::from_str::<Stored<'_>>(m).ok())
            })
            .collect();
        let fills = self.fills(&stored);
        let remote = self.remote_versions();
        let page = Page {
            name: json(&self.name),
            files: format!("{base}/{owner}/{repo}/npm/files/"),
            upstream_files: format!("{base}/{owner}/{repo}/npm/-/upstream/"),
            abbreviated,
            modified: self
                .local
                .iter()
                .map(|r| r.updated_at)
                .max()
                .map(gantry_core::time::rfc3339),
        };
        let mut out = String::with_capacity(
            1024 + self
                .local
                .iter()
                .map(|r| r.doc.as_ref().map_or(1024, String::len) + 512)
                .sum::<usize>(),
        );
        let tags = self.dist_tags();
        self.head(&mut out, &page, &tags, &stored, &remote);
        out.push_str(",\"dist-tags\":");
        out.push_str(&serde_json::to_string(&tags).unwrap_or_else(|_| "{}".into()));
        out.push_str(",\"versions\":{");
        let mut first = true;
        for (row, s) in self.local.iter().zip(&stored) {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            self.local_version(&mut out, &page, row, s.as_ref());
        }
        for (version, upstream, _, doc) in &remote {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            self.remote_version(&mut out, &page, version, upstream, doc);
        }
        out.push('}');
        if !abbreviated {
            self.times(&mut out, &page, &remote);
        }
        out.push('}');
        (out, fills)
    }

    /// Documents of local versions that are not stored yet, to store after this render.
    fn fills(&self, stored: &[Option<Stored<'_>>]) -> Vec<NpmDocument> {
        self.local
            .iter()
            .zip(stored)
            .filter_map(|(r, s)| {
                let s = s.as_ref()?;
                Some(NpmDocument {
                    sha256: r.sha256.clone(),
                    sha1: r.sha1.clone(),
                    sha512: r.sha512.clone(),
                    manifest: s.manifest?.get().to_owned(),
                    abbreviated: s.abbreviated?.get().to_owned(),
                    description: s.description.as_deref().map(str::to_owned),
                    file_count: s.file_count.and_then(|n| i64::try_from(n).ok()),
                    unpacked_size: s.unpacked_size.and_then(|n| i64::try_from(n).ok()),
                })
            })
            .collect()
    }

    /// `{` and the fields before `dist-tags`: name and modified time (abbreviated), or id,
    /// revision, name and the latest version's description (full).
    fn head(
        &self,
        out: &mut String,
        page: &Page,
        tags: &BTreeMap<String, String>,
        stored: &[Option<Stored<'_>>],
        remote: &[RemoteVersion<'_>],
    ) {
        let name = &page.name;
        out.push('{');
        if page.abbreviated {
            let _ = write!(out, "\"name\":{name}");
            if let Some(m) = &page.modified {
                let _ = write!(out, ",\"modified\":\"{m}\"");
            }
            return;
        }
        let _ = write!(
            out,
            "\"_id\":{name},\"_rev\":\"{}\",\"name\":{name}",
            self.rev()
        );
        let latest_desc = tags.get("latest").and_then(|v| {
            self.local
                .iter()
                .zip(stored)
                .find(|(r, _)| &r.version == v)
                .and_then(|(r, s)| {
                    r.description
                        .clone()
                        .or_else(|| s.as_ref()?.description.as_deref().map(str::to_owned))
                })
                .or_else(|| {
                    remote
                        .iter()
                        .find(|(rv, ..)| rv == v)
                        .and_then(|(_, _, p, _)| p.description.clone())
                })
        });
        if let Some(d) = latest_desc {
            let _ = write!(out, ",\"description\":{}", json(&d));
        }
    }

    /// One local version: its stored document spliced in, with `_id`, `deprecated` and `dist`.
    fn local_version(
        &self,
        out: &mut String,
        page: &Page,
        row: &NpmVersionRow,
        s: Option<&Stored<'_>>,
    ) {
        let body = row
            .doc
            .as_deref()
            .or_else(|| {
                s.and_then(|s| {
                    if page.abbreviated {
                        s.abbreviated
                    } else {
                        s.manifest
                    }
                })
                .map(RawValue::get)
            })
            .unwrap_or("{}")
            .trim();
        let inner = body
            .strip_prefix('{')
            .and_then(|b| b.strip_suffix('}'))
            .unwrap_or("")
            .trim();
        push_str(out, &row.version);
        out.push_str(":{");
        if inner.is_empty() {
            out.push_str("\"name\":");
            out.push_str(&page.name);
            out.push_str(",\"version\":");
            push_str(out, &row.version);
        } else {
            out.push_str(inner);
        }
        if !page.abbreviated {
            out.push_str(",\"_id\":");
            push_str(out, &format!("{}@{}", self.name, row.version));
        }
        if row.yanked != 0 {
            out.push_str(",\"deprecated\":");
            push_str(out, row.yank_reason.as_deref().unwrap_or("deprecated"));
        }
        out.push_str(",\"dist\":{\"shasum\":");
        push_str(out, &row.sha1);
        out.push_str(",\"integrity\":\"sha512-");
        if let Ok(digest) = hex::decode(&row.sha512) {
            base64::engine::general_purpose::STANDARD.encode_string(digest, out);
        }
        out.push_str("\",\"tarball\":");
        push_str(
            out,
            &format!(
                "{}{}/{}",
                page.files,
                row.slug_perm,
                super::super::encode_segment(&row.filename)
            ),
        );
        let file_count = row
            .file_count
            .or_else(|| s?.file_count.and_then(|n| i64::try_from(n).ok()));
        if let Some(n) = file_count {
            let _ = write!(out, ",\"fileCount\":{n}");
        }
        let unpacked_size = row
            .unpacked_size
            .or_else(|| s?.unpacked_size.and_then(|n| i64::try_from(n).ok()));
        if let Some(n) = unpacked_size {
            let _ = write!(out, ",\"unpackedSize\":{n}");
        }
        out.push_str("}}");
    }

    /// One upstream version, its tarball pointed at this repository's upstream route.
    fn remote_version(
        &self,
        out: &mut String,
        page: &Page,
        version: &str,
        upstream: &UpstreamRow,
        doc: &Value,
    ) {
        let mut doc = doc.clone();
        if let Some(map) = doc.as_object_mut() {
            if page.abbreviated {
                map.retain(|k, _| {
                    k == "dist"
                        || k == "deprecated"
                        || crate::pure::ABBREVIATED_FIELDS.contains(&k.as_str())
                });
            }
            if let Some(dist) = map.get_mut("dist").and_then(Value::as_object_mut) {
                dist.insert(
                    "tarball".into(),
                    Value::String(format!(
                        "{}{}/{}/{version}",
                        page.upstream_files,
                        upstream.id,
                        escape_name(&self.name)
                    )),
                );
            }
        }
        let _ = write!(
            out,
            "{}:{}",
            json(version),
            serde_json::to_string(&doc).unwrap_or_else(|_| "{}".into())
        );
    }

    /// The full packument's `time`: created, modified, and each version's publish time.
    fn times(&self, out: &mut String, page: &Page, remote: &[RemoteVersion<'_>]) {
        let mut time: HashMap<&str, String> = HashMap::new();
        for (v, _, packument, _) in remote {
            if let Some(t) = packument.time.get(*v) {
                time.insert(v, t.clone());
            }
        }
        out.push_str(",\"time\":{");
        let created = self.local.iter().map(|r| r.uploaded_at).min();
        let mut fields: Vec<String> = Vec::new();
        if let Some(c) = created {
            fields.push(format!("\"created\":\"{}\"", gantry_core::time::rfc3339(c)));
        }
        if let Some(m) = &page.modified {
            fields.push(format!("\"modified\":\"{m}\""));
        }
        for row in &self.local {
            fields.push(format!(
                "{}:\"{}\"",
                json(&row.version),
                gantry_core::time::rfc3339(row.uploaded_at)
            ));
        }
        for (v, t) in &time {
            fields.push(format!("{}:{}", json(v), json(t)));
        }
        out.push_str(&fields.join(","));
        out.push('}');
    }
}

/// What every part of one rendering shares.
struct Page {
    /// The package name as a JSON string.
    name: String,
    /// Where local tarballs are served, up to the slug.
    files: String,
    /// Where upstream tarballs are served, up to the upstream's id.
    upstream_files: String,
    abbreviated: bool,
    modified: Option<String>,
}

/// An upstream version: (version, upstream, its packument, the version's document).
type RemoteVersion<'a> = (&'a str, &'a UpstreamRow, &'a RemotePackument, &'a Value);

/// `text` as a JSON string.
fn json(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_only_when_needed() {
        let mut out = String::new();
        push_str(&mut out, "1.0.0");
        push_str(&mut out, "say \"hi\"\n");
        assert_eq!(out, r#""1.0.0""say \"hi\"\n""#);
    }

    #[test]
    fn latest_prefers_releases() {
        assert_eq!(
            newest(["1.0.0", "2.0.0-beta.1", "1.5.0"].into_iter()),
            Some("1.5.0")
        );
        assert_eq!(newest(["1.0.0-a", "1.0.0-b"].into_iter()), Some("1.0.0-b"));
        assert_eq!(newest(std::iter::empty()), None);
    }
}
