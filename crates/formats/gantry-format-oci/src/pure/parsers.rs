//! Parsers of the files that say what an image has installed: package databases (dpkg,
//! apk), `/etc/os-release`, and language package metadata (Python, npm, RubyGems,
//! Composer, Maven in jars). Every parser takes bytes already read under a size bound,
//! caps what it returns, and answers nothing rather than fail on a file it cannot read:
//! one odd file must not hide the rest of an image.

use std::io::{Cursor, Read};

/// Packages one file may list (a dpkg status file of a large image holds a few thousand).
pub(crate) const MAX_PACKAGES: usize = 50_000;
/// Entries a jar may hold, and the largest `pom.properties` read from one.
const MAX_JAR_ENTRIES: usize = 100_000;
const MAX_POM_PROPERTIES: u64 = 64 * 1024;
/// Longest name or version kept.
const MAX_FIELD: usize = 512;

/// Where a package's ecosystem comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A language ecosystem, named as OSV names it.
    Language(&'static str),
    /// A distribution's package database: the ecosystem depends on the image's
    /// `os-release`.
    Dpkg,
    Apk,
}

/// One package a file lists; `detail` is a path inside the file (a jar entry), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) source: Source,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) detail: Option<String>,
}

fn found(source: Source, name: &str, version: &str) -> Option<Found> {
    let (name, version) = (name.trim(), version.trim());
    let fits = |s: &str| !s.is_empty() && s.len() <= MAX_FIELD && !s.chars().any(char::is_control);
    (fits(name) && fits(version)).then(|| Found {
        source,
        name: name.to_owned(),
        version: version.to_owned(),
        detail: None,
    })
}

/// `Name:` and `Version:` from a core metadata file's headers.
pub(crate) fn python_metadata(bytes: &[u8]) -> Vec<Found> {
    let text = String::from_utf8_lossy(bytes);
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Name:") {
            name.get_or_insert(v);
        } else if let Some(v) = line.strip_prefix("Version:") {
            version.get_or_insert(v);
        }
    }
    name.zip(version)
        .and_then(|(n, v)| found(Source::Language("PyPI"), n, v))
        .into_iter()
        .collect()
}

pub(crate) fn npm_package(bytes: &[u8]) -> Vec<Found> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Vec::new();
    };
    v["name"]
        .as_str()
        .zip(v["version"].as_str())
        .and_then(|(n, v)| found(Source::Language("npm"), n, v))
        .into_iter()
        .collect()
}

/// Paragraphs of `Key: value` fields separated by blank lines (dpkg's control format; apk's
/// database has the same shape with one-letter keys). Continuation lines are skipped: no
/// field read here spans lines.
fn paragraphs(text: &str) -> impl Iterator<Item = Vec<(&str, &str)>> {
    text.split("\n\n").take(MAX_PACKAGES).map(|paragraph| {
        paragraph
            .lines()
            .filter(|l| !l.starts_with([' ', '\t']))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect()
    })
}

fn field<'a>(fields: &[(&str, &'a str)], key: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Installed packages of a dpkg status file (or a `status.d/` file, which distroless images
/// write without a `Status:`), named by their source package (`Source: name (version)`
/// when the source's version differs), as Debian's advisories are.
pub(crate) fn dpkg_status(bytes: &[u8]) -> Vec<Found> {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let mut out = Vec::new();
    for fields in paragraphs(&text) {
        let installed = field(&fields, "Status")
            .is_none_or(|s| s.split_whitespace().nth(2) == Some("installed"));
        let (Some(package), Some(version)) = (field(&fields, "Package"), field(&fields, "Version"))
        else {
            continue;
        };
        if !installed {
            continue;
        }
        let (name, version) = match field(&fields, "Source") {
            Some(source) => match source.split_once('(') {
                Some((n, v)) => (n.trim(), v.trim_end_matches(')').trim()),
                None => (source, version),
            },
            None => (package, version),
        };
        out.extend(found(Source::Dpkg, name, version));
    }
    out
}

/// Installed packages of an apk database, named by their origin (`o:`), the source package
/// Alpine's advisories name.
pub(crate) fn apk_installed(bytes: &[u8]) -> Vec<Found> {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let mut out = Vec::new();
    for fields in paragraphs(&text) {
        let name = field(&fields, "o").or_else(|| field(&fields, "P"));
        if let Some((name, version)) = name.zip(field(&fields, "V")) {
            out.extend(found(Source::Apk, name, version));
        }
    }
    out
}

/// What `os-release` says about the distribution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OsRelease {
    pub(crate) id: String,
    pub(crate) version_id: String,
    pub(crate) codename: String,
}

impl OsRelease {
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let mut release = Self::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches(['"', '\'']).to_owned();
            match key.trim() {
                "ID" => release.id = value,
                "VERSION_ID" => release.version_id = value,
                "VERSION_CODENAME" => release.codename = value,
                _ => {}
            }
        }
        release
    }

    /// The OSV ecosystem of packages from `source` on this distribution: `Debian:<major>`
    /// or `Alpine:v<major.minor>`; `None` for another distribution or an unknown release.
    pub(crate) fn ecosystem(&self, source: Source) -> Option<String> {
        let numeric = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let mut parts = self.version_id.split('.');
        match (source, self.id.as_str()) {
            (Source::Dpkg, "debian") => {
                let major = parts
                    .next()
                    .filter(numeric)
                    .or_else(|| debian_major(&self.codename))?;
                Some(format!("Debian:{major}"))
            }
            (Source::Apk, "alpine") => {
                let major = parts.next().filter(numeric)?;
                let minor = parts.next().filter(numeric)?;
                Some(format!("Alpine:v{major}.{minor}"))
            }
            _ => None,
        }
    }
}

/// The release of a Debian code name, for an `os-release` without `VERSION_ID`.
fn debian_major(codename: &str) -> Option<&'static str> {
    Some(match codename {
        "stretch" => "9",
        "buster" => "10",
        "bullseye" => "11",
        "bookworm" => "12",
        "trixie" => "13",
        _ => return None,
    })
}

/// A gem's name and version from its specification's file name, `NAME-VERSION.gemspec` or
/// `NAME-VERSION-PLATFORM.gemspec`: the version is the first `-`-separated part that starts
/// with a digit (gem names may hold `-`, versions may not).
pub(crate) fn gemspec_file(file: &str) -> Vec<Found> {
    let Some(stem) = file.strip_suffix(".gemspec") else {
        return Vec::new();
    };
    let parts: Vec<&str> = stem.split('-').collect();
    let at = parts
        .iter()
        .skip(1)
        .position(|p| p.starts_with(|c: char| c.is_ascii_digit()));
    at.and_then(|i| {
        found(
            Source::Language("RubyGems"),
            &parts[..=i].join("-"),
            parts[i + 1],
        )
    })
    .into_iter()
    .collect()
}

/// Composer's `vendor/composer/installed.json`: an array of packages (Composer 1) or
/// `{"packages": [...]}` (Composer 2).
pub(crate) fn composer_installed(bytes: &[u8]) -> Vec<Found> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Vec::new();
    };
    let list = v.as_array().or_else(|| v["packages"].as_array());
    list.into_iter()
        .flatten()
        .take(MAX_PACKAGES)
        .filter_map(|p| {
            let (name, version) = p["name"].as_str().zip(p["version"].as_str())?;
            found(Source::Language("Packagist"), name, version)
        })
        .collect()
}

/// Maven artifacts a jar carries: every `META-INF/maven/GROUP/ARTIFACT/pom.properties`
/// (a shaded jar has several), named `groupId:artifactId`.
pub(crate) fn jar_artifacts(bytes: &[u8]) -> Vec<Found> {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Vec::new();
    };
    if zip.len() > MAX_JAR_ENTRIES {
        return Vec::new();
    }
    let wanted: Vec<String> = zip
        .file_names()
        .filter(|n| {
            let parts: Vec<&str> = n.split('/').collect();
            matches!(
                parts.as_slice(),
                ["META-INF", "maven", _, _, "pom.properties"]
            )
        })
        .take(MAX_PACKAGES)
        .map(str::to_owned)
        .collect();
    let mut out = Vec::new();
    for name in wanted {
        let Ok(entry) = zip.by_name(&name) else {
            continue;
        };
        let mut body = Vec::new();
        // The declared size may lie; the bound is on what is actually inflated.
        if entry
            .take(MAX_POM_PROPERTIES + 1)
            .read_to_end(&mut body)
            .is_err()
            || body.len() as u64 > MAX_POM_PROPERTIES
        {
            continue;
        }
        if let Some(mut artifact) = pom_properties(&body) {
            artifact.detail = Some(name);
            out.push(artifact);
        }
    }
    out
}

fn pom_properties(bytes: &[u8]) -> Option<Found> {
    let text = String::from_utf8_lossy(bytes);
    let mut props = std::collections::HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with(['#', '!']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(['=', ':']) {
            props.entry(k.trim()).or_insert(v.trim());
        }
    }
    let (group, artifact) = (props.get("groupId")?, props.get("artifactId")?);
    if group.is_empty() || artifact.is_empty() {
        return None;
    }
    found(
        Source::Language("Maven"),
        &format!("{group}:{artifact}"),
        props.get("version")?,
    )
}

#[cfg(test)]
mod tests;
