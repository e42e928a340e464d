//! The compact index Bundler and RubyGems read (`/versions`, `/info/NAME`, `/names`), and
//! the tuples of the legacy Marshal indexes, rendered from stored specifications.
//!
//! `/info/NAME` has a line per version: `VERSION[-PLATFORM] DEP:REQ&REQ,…|checksum:SHA256,
//! ruby:REQ,rubygems:REQ`. `/versions` has a line per gem: `NAME V1,V2-PLATFORM MD5`, where
//! MD5 is the digest of that gem's `/info` document, so a client re-reads only the gems whose
//! line changed.

use std::cmp::Ordering;
use std::fmt::Write as _;

use md5::Digest as _;

use super::names::{compare_versions, is_prerelease};
use super::spec::{requirement_text, Spec};

/// One live gem file, as the indexes need it.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    pub spec: Spec,
    /// sha256 of the `.gem`.
    pub sha256: String,
    pub yanked: bool,
}

impl IndexEntry {
    /// `VERSION` or `VERSION-PLATFORM`.
    pub fn version_platform(&self) -> String {
        if self.spec.is_ruby() {
            self.spec.version.clone()
        } else {
            format!("{}-{}", self.spec.version, self.spec.platform)
        }
    }

    /// The `/info` line of this file.
    pub fn info_line(&self) -> String {
        let deps: Vec<String> = self
            .spec
            .runtime_dependencies()
            .map(|d| format!("{}:{}", d.name, requirement_text(&d.requirement, "&")))
            .collect();
        let mut line = format!(
            "{} {}|checksum:{}",
            self.version_platform(),
            deps.join(","),
            self.sha256
        );
        if !is_any(&self.spec.required_ruby_version) {
            let _ = write!(
                line,
                ",ruby:{}",
                requirement_text(&self.spec.required_ruby_version, "&")
            );
        }
        if !is_any(&self.spec.required_rubygems_version) {
            let _ = write!(
                line,
                ",rubygems:{}",
                requirement_text(&self.spec.required_rubygems_version, "&")
            );
        }
        line
    }
}

fn is_any(requirement: &super::spec::Requirement) -> bool {
    requirement.iter().all(|(op, v)| op == ">=" && v == "0")
}

/// Version order, then `ruby` before other platforms, then by platform name.
pub fn order(a: &IndexEntry, b: &IndexEntry) -> Ordering {
    compare_versions(&a.spec.version, &b.spec.version)
        .then_with(|| b.spec.is_ruby().cmp(&a.spec.is_ruby()))
        .then_with(|| a.spec.platform.cmp(&b.spec.platform))
}

/// The `/info/NAME` document of a gem's unyanked files, in version order.
pub fn info_document(entries: &[&IndexEntry]) -> String {
    let mut sorted: Vec<&&IndexEntry> = entries.iter().filter(|e| !e.yanked).collect();
    sorted.sort_by(|a, b| order(a, b));
    let mut out = String::from("---\n");
    for entry in sorted {
        out.push_str(&entry.info_line());
        out.push('\n');
    }
    out
}

/// The MD5 (hex) of a document: `/versions` lines carry it for each `/info`, and Bundler
/// 2.3 checks a whole document against its ETag with it.
pub fn md5_hex(document: &[u8]) -> String {
    hex::encode(md5::Md5::digest(document))
}

/// One `/versions` line: a gem's name, its versions (with platforms) and its info's MD5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionsLine {
    pub name: String,
    pub versions: Vec<String>,
    pub info_md5: String,
}

/// The `/versions` document, lines in name order.
pub fn versions_document(created_at: &str, lines: &[VersionsLine]) -> String {
    let mut out = format!("created_at: {created_at}\n---\n");
    for line in lines {
        let _ = writeln!(
            out,
            "{} {} {}",
            line.name,
            line.versions.join(","),
            line.info_md5
        );
    }
    out
}

/// The `/names` document.
pub fn names_document<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::from("---\n");
    for name in names {
        out.push_str(name);
        out.push('\n');
    }
    out
}

/// Which legacy index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    /// `specs.4.8`: every released version.
    Specs,
    /// `latest_specs.4.8`: the newest released version of each name and platform.
    Latest,
    /// `prerelease_specs.4.8`: every pre-release.
    Prerelease,
}

/// The `(name, version, platform)` tuples of a legacy index, from unyanked entries sorted by
/// name and then version.
pub fn legacy_tuples(entries: &[IndexEntry], which: Legacy) -> Vec<(&str, &str, &str)> {
    let live = entries.iter().filter(|e| !e.yanked);
    let chosen: Vec<&IndexEntry> = match which {
        Legacy::Specs => live.filter(|e| !is_prerelease(&e.spec.version)).collect(),
        Legacy::Prerelease => live.filter(|e| is_prerelease(&e.spec.version)).collect(),
        Legacy::Latest => {
            let mut newest: std::collections::HashMap<(&str, &str), &IndexEntry> =
                std::collections::HashMap::new();
            for e in live.filter(|e| !is_prerelease(&e.spec.version)) {
                let key = (e.spec.name.as_str(), e.spec.platform.as_str());
                let slot = newest.entry(key).or_insert(e);
                if compare_versions(&e.spec.version, &slot.spec.version) == Ordering::Greater {
                    *slot = e;
                }
            }
            newest.into_values().collect()
        }
    };
    let mut chosen = chosen;
    chosen.sort_by(|a, b| a.spec.name.cmp(&b.spec.name).then_with(|| order(a, b)));
    chosen
        .into_iter()
        .map(|e| {
            (
                e.spec.name.as_str(),
                e.spec.version.as_str(),
                e.spec.platform.as_str(),
            )
        })
        .collect()
}
