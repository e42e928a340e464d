//! What Gantry keeps of an RPM's headers: the fields the repodata documents (`primary`,
//! `filelists`, `other`) list, read once at upload and stored as the package's metadata, so
//! the repodata is written without opening a package again.

use serde::{Deserialize, Serialize};

use super::header::{Header, Headers};
use super::tags;

/// A dependency entry (requires, provides, conflicts, obsoletes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub name: String,
    /// `EQ`, `LT`, `GT`, `LE` or `GE`; absent for an unversioned entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
    /// Needed before the package's install scripts run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pre: bool,
}

/// A file the package installs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageFile {
    pub path: String,
    /// `dir` or `ghost`; absent for a plain file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A changelog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangelogEntry {
    pub author: String,
    pub date: u64,
    pub text: String,
}

/// The stored metadata of one RPM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpmMeta {
    pub name: String,
    pub epoch: u64,
    #[serde(rename = "rpm_version")]
    pub ver: String,
    pub release: String,
    pub arch: String,
    pub summary: String,
    pub description: String,
    pub license: String,
    pub url: String,
    pub vendor: String,
    pub packager: String,
    pub group: String,
    pub buildhost: String,
    pub sourcerpm: String,
    pub build_time: u64,
    pub installed_size: u64,
    pub archive_size: u64,
    pub header_start: u64,
    pub header_end: u64,
    pub requires: Vec<Dependency>,
    pub provides: Vec<Dependency>,
    pub conflicts: Vec<Dependency>,
    pub obsoletes: Vec<Dependency>,
    pub files: Vec<PackageFile>,
    pub changelog: Vec<ChangelogEntry>,
}

/// Changelog entries kept (the newest), as repository tools keep a bounded few.
pub const CHANGELOG_LIMIT: usize = 10;

const RPMSENSE_LESS: u64 = 1 << 1;
const RPMSENSE_GREATER: u64 = 1 << 2;
const RPMSENSE_EQUAL: u64 = 1 << 3;
const RPMSENSE_PREREQ: u64 = 1 << 6;
const RPMSENSE_SCRIPT_PRE: u64 = 1 << 9;
const RPMSENSE_SCRIPT_POST: u64 = 1 << 10;
const RPMSENSE_RPMLIB: u64 = 1 << 24;

fn flag_name(flags: u64) -> Option<&'static str> {
    match flags & (RPMSENSE_LESS | RPMSENSE_GREATER | RPMSENSE_EQUAL) {
        RPMSENSE_EQUAL => Some("EQ"),
        RPMSENSE_LESS => Some("LT"),
        RPMSENSE_GREATER => Some("GT"),
        x if x == RPMSENSE_LESS | RPMSENSE_EQUAL => Some("LE"),
        x if x == RPMSENSE_GREATER | RPMSENSE_EQUAL => Some("GE"),
        _ => None,
    }
}

/// `[epoch:]version[-release]` split into its parts; an absent epoch reads as `0`, as the
/// repository tools write it.
pub fn split_evr(evr: &str) -> (String, String, Option<String>) {
    let (epoch, rest) = match evr.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.to_owned(), rest)
        }
        _ => ("0".to_owned(), evr),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v.to_owned(), Some(r.to_owned())),
        None => (epoch, rest.to_owned(), None),
    }
}

fn dependencies(h: &Header, names: u32, flags: u32, versions: u32) -> Vec<Dependency> {
    let flag_values = h.ints(flags);
    let version_values = h.strings(versions);
    let mut out: Vec<Dependency> = Vec::new();
    for (i, name) in h.strings(names).iter().enumerate() {
        let flags = flag_values.get(i).copied().unwrap_or(0);
        let evr = version_values.get(i).map(String::as_str).unwrap_or("");
        let mut dep = Dependency {
            name: name.clone(),
            flags: None,
            epoch: None,
            ver: None,
            rel: None,
            pre: flags & (RPMSENSE_PREREQ | RPMSENSE_SCRIPT_PRE | RPMSENSE_SCRIPT_POST) != 0,
        };
        if names == tags::REQUIRENAME
            && (flags & RPMSENSE_RPMLIB != 0 || name.starts_with("rpmlib("))
        {
            continue;
        }
        if let (Some(flag), false) = (flag_name(flags), evr.is_empty()) {
            let (epoch, ver, rel) = split_evr(evr);
            dep.flags = Some(flag.to_owned());
            dep.epoch = Some(epoch);
            dep.ver = Some(ver);
            dep.rel = rel;
        }
        if !out.contains(&dep) {
            out.push(dep);
        }
    }
    out
}

fn files(h: &Header) -> Vec<PackageFile> {
    let dirs = h.strings(tags::DIRNAMES);
    let indexes = h.ints(tags::DIRINDEXES);
    let modes = h.ints(tags::FILEMODES);
    let flags = h.ints(tags::FILEFLAGS);
    let mut paths: Vec<String> = h
        .strings(tags::BASENAMES)
        .iter()
        .enumerate()
        .filter_map(|(i, base)| {
            let dir = dirs.get(usize::try_from(*indexes.get(i)?).ok()?)?;
            Some(format!("{dir}{base}"))
        })
        .collect();
    if paths.is_empty() {
        paths = h.strings(tags::OLDFILENAMES).to_vec();
    }
    paths
        .into_iter()
        .enumerate()
        .map(|(i, path)| {
            let kind = if flags.get(i).is_some_and(|f| f & 64 != 0) {
                Some("ghost")
            } else if modes.get(i).is_some_and(|m| m & 0o170000 == 0o040000) {
                Some("dir")
            } else {
                None
            };
            PackageFile {
                path,
                kind: kind.map(str::to_owned),
            }
        })
        .collect()
}

fn changelog(h: &Header) -> Vec<ChangelogEntry> {
    let times = h.ints(tags::CHANGELOGTIME);
    let names = h.strings(tags::CHANGELOGNAME);
    let texts = h.strings(tags::CHANGELOGTEXT);
    let mut entries: Vec<ChangelogEntry> = times
        .iter()
        .zip(names)
        .zip(texts)
        .take(CHANGELOG_LIMIT)
        .map(|((date, author), text)| ChangelogEntry {
            author: author.clone(),
            date: *date,
            text: text.clone(),
        })
        .collect();
    // The header lists the newest first; the documents list them oldest first.
    entries.reverse();
    entries
}

impl RpmMeta {
    /// The stored fields of a package read from its headers (unchecked: see
    /// [`super::validate`]).
    pub fn from_headers(headers: &Headers) -> Self {
        let h = &headers.main;
        let s = |tag| h.string(tag).unwrap_or_default().to_owned();
        // rpm's own test of a source package: it names no source package.
        let arch = if h.string(tags::SOURCERPM).is_none() {
            "src".to_owned()
        } else {
            s(tags::ARCH)
        };
        let signature_payload = headers.signature.int(tags::SIG_PAYLOADSIZE);
        RpmMeta {
            name: s(tags::NAME),
            epoch: h.int(tags::EPOCH).unwrap_or(0),
            ver: s(tags::VERSION),
            release: s(tags::RELEASE),
            arch,
            summary: s(tags::SUMMARY),
            description: s(tags::DESCRIPTION),
            license: s(tags::LICENSE),
            url: s(tags::URL),
            vendor: s(tags::VENDOR),
            packager: s(tags::PACKAGER),
            group: s(tags::GROUP),
            buildhost: s(tags::BUILDHOST),
            sourcerpm: s(tags::SOURCERPM),
            build_time: h.int(tags::BUILDTIME).unwrap_or(0),
            installed_size: h
                .int(tags::LONGSIZE)
                .or_else(|| h.int(tags::SIZE))
                .unwrap_or(0),
            archive_size: h
                .int(tags::LONGARCHIVESIZE)
                .or_else(|| h.int(tags::ARCHIVESIZE))
                .or(signature_payload)
                .unwrap_or(0),
            header_start: headers.header_start,
            header_end: headers.header_end,
            requires: dependencies(
                h,
                tags::REQUIRENAME,
                tags::REQUIREFLAGS,
                tags::REQUIREVERSION,
            ),
            provides: dependencies(
                h,
                tags::PROVIDENAME,
                tags::PROVIDEFLAGS,
                tags::PROVIDEVERSION,
            ),
            conflicts: dependencies(
                h,
                tags::CONFLICTNAME,
                tags::CONFLICTFLAGS,
                tags::CONFLICTVERSION,
            ),
            obsoletes: dependencies(
                h,
                tags::OBSOLETENAME,
                tags::OBSOLETEFLAGS,
                tags::OBSOLETEVERSION,
            ),
            files: files(h),
            changelog: changelog(h),
        }
    }

    /// `[epoch:]version-release`: the package's version in Gantry.
    pub fn evr(&self) -> String {
        if self.epoch == 0 {
            format!("{}-{}", self.ver, self.release)
        } else {
            format!("{}:{}-{}", self.epoch, self.ver, self.release)
        }
    }

    /// `name-version-release.arch.rpm`, the file's name in the repository.
    pub fn filename(&self) -> String {
        format!(
            "{}-{}-{}.{}.rpm",
            self.name, self.ver, self.release, self.arch
        )
    }
}
