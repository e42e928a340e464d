//! `maven-metadata.xml`, written by Gantry from the packages a repository holds (never taken
//! from clients): the artifact level (versions, latest, release), the version level of a
//! SNAPSHOT (the newest build and every file's timestamped name) and the group level (the
//! plugin prefixes). Uploaded documents are only classified, with the POM reader's bounds.

use std::cmp::Ordering;
use std::fmt::Write as _;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::path::{split_build_id, Coordinates, SNAPSHOT_SUFFIX};
use crate::format::FormatError;

/// Largest uploaded metadata document read.
pub const MAX_METADATA_SIZE: u64 = 1024 * 1024;

/// Maven's version order (the one `gantry-vuln` matches advisories with).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    gantry_vuln::compare(gantry_vuln::Ecosystem::Maven, a, b).unwrap_or_else(|| a.cmp(b))
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// `yyyyMMddHHmmss` (UTC) of a time in milliseconds, as `lastUpdated` is written.
pub fn last_updated(millis: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y%m%d%H%M%S")
        .to_string()
}

/// `yyyyMMdd.HHmmss` (UTC): the timestamp in a SNAPSHOT build's file names.
pub fn build_timestamp(millis: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y%m%d.%H%M%S")
        .to_string()
}

/// The artifact-level document of `versions` (each with the time it was published).
pub fn artifact_level(coordinates: &Coordinates, versions: &[(String, i64)]) -> String {
    let mut sorted: Vec<&(String, i64)> = versions.iter().collect();
    sorted.sort_by(|a, b| compare_versions(&a.0, &b.0));
    sorted.dedup_by(|a, b| a.0 == b.0);
    let latest = sorted.last().map(|v| v.0.as_str());
    let release = sorted
        .iter()
        .rev()
        .map(|v| v.0.as_str())
        .find(|v| !v.ends_with(SNAPSHOT_SUFFIX));
    let updated = versions.iter().map(|v| v.1).max().unwrap_or(0);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n");
    let _ = writeln!(out, "  <groupId>{}</groupId>", escape(&coordinates.group));
    let _ = writeln!(
        out,
        "  <artifactId>{}</artifactId>",
        escape(&coordinates.artifact)
    );
    out.push_str("  <versioning>\n");
    if let Some(latest) = latest {
        let _ = writeln!(out, "    <latest>{}</latest>", escape(latest));
    }
    if let Some(release) = release {
        let _ = writeln!(out, "    <release>{}</release>", escape(release));
    }
    out.push_str("    <versions>\n");
    for (version, _) in &sorted {
        let _ = writeln!(out, "      <version>{}</version>", escape(version));
    }
    out.push_str("    </versions>\n");
    let _ = writeln!(
        out,
        "    <lastUpdated>{}</lastUpdated>",
        last_updated(updated)
    );
    out.push_str("  </versioning>\n</metadata>\n");
    out
}

/// One build of a SNAPSHOT: its id (`20240102.030405-7`), its files' classifiers and
/// extensions, and when it was published.
#[derive(Debug, Clone)]
pub struct Build {
    pub id: String,
    pub files: Vec<(Option<String>, String)>,
    pub published: i64,
}

/// The version-level document of a SNAPSHOT from its builds.
pub fn version_level(coordinates: &Coordinates, version: &str, builds: &[Build]) -> String {
    let mut sorted: Vec<&Build> = builds.iter().collect();
    sorted.sort_by_key(|b| split_build_id(&b.id).map(|(t, n)| (t.to_owned(), n)));
    let base = version.strip_suffix("SNAPSHOT").unwrap_or(version);
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n",
    );
    let _ = writeln!(out, "  <groupId>{}</groupId>", escape(&coordinates.group));
    let _ = writeln!(
        out,
        "  <artifactId>{}</artifactId>",
        escape(&coordinates.artifact)
    );
    let _ = writeln!(out, "  <version>{}</version>", escape(version));
    out.push_str("  <versioning>\n");
    if let Some((timestamp, number)) = sorted.last().and_then(|b| split_build_id(&b.id)) {
        let _ = write!(
            out,
            "    <snapshot>\n      <timestamp>{timestamp}</timestamp>\n      <buildNumber>{number}</buildNumber>\n    </snapshot>\n"
        );
    }
    let updated = builds.iter().map(|b| b.published).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "    <lastUpdated>{}</lastUpdated>",
        last_updated(updated)
    );
    out.push_str("    <snapshotVersions>\n");
    // The newest build that has each (classifier, extension).
    let mut seen: Vec<&(Option<String>, String)> = Vec::new();
    for build in sorted.iter().rev() {
        for file in &build.files {
            if seen.contains(&file) {
                continue;
            }
            seen.push(file);
            out.push_str("      <snapshotVersion>\n");
            if let Some(classifier) = &file.0 {
                let _ = writeln!(
                    out,
                    "        <classifier>{}</classifier>",
                    escape(classifier)
                );
            }
            let _ = writeln!(out, "        <extension>{}</extension>", escape(&file.1));
            let _ = writeln!(
                out,
                "        <value>{}{}</value>",
                escape(base),
                escape(&build.id)
            );
            let _ = writeln!(
                out,
                "        <updated>{}</updated>",
                last_updated(build.published)
            );
            out.push_str("      </snapshotVersion>\n");
        }
    }
    out.push_str("    </snapshotVersions>\n  </versioning>\n</metadata>\n");
    out
}

/// A plugin of a group: its prefix, artifact id and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Plugin {
    pub prefix: String,
    pub artifact_id: String,
    pub name: Option<String>,
}

/// The group-level document listing the group's plugins.
pub fn group_level(plugins: &[Plugin]) -> String {
    let mut sorted = plugins.to_vec();
    sorted.sort();
    sorted.dedup_by(|a, b| a.artifact_id == b.artifact_id);
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <plugins>\n");
    for p in &sorted {
        out.push_str("    <plugin>\n");
        let name = p.name.as_deref().unwrap_or(&p.artifact_id);
        let _ = writeln!(out, "      <name>{}</name>", escape(name));
        let _ = writeln!(out, "      <prefix>{}</prefix>", escape(&p.prefix));
        let _ = writeln!(
            out,
            "      <artifactId>{}</artifactId>",
            escape(&p.artifact_id)
        );
        out.push_str("    </plugin>\n");
    }
    out.push_str("  </plugins>\n</metadata>\n");
    out
}

/// What an uploaded `maven-metadata.xml` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadedKind {
    /// Lists versions of an artifact: the end of a deploy.
    Artifact,
    /// A SNAPSHOT's builds.
    Version,
    /// A group's plugins.
    Group,
}

/// Classifies an uploaded document by the children of `<metadata>` (bounded as POMs are).
pub fn classify(bytes: &[u8]) -> Result<UploadedKind, FormatError> {
    let invalid = |m: String| FormatError::Invalid(format!("invalid maven-metadata.xml: {m}"));
    if bytes.len() as u64 > MAX_METADATA_SIZE {
        return Err(invalid(format!("larger than {MAX_METADATA_SIZE} bytes")));
    }
    let mut reader = Reader::from_reader(bytes);
    let mut depth = 0usize;
    let mut events = 0usize;
    let mut kind = UploadedKind::Artifact;
    let mut buf = Vec::new();
    loop {
        events += 1;
        if events > 200_000 || depth > 32 {
            return Err(invalid("too large or too deep".into()));
        }
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| invalid(e.to_string()))?
        {
            Event::DocType(_) => {
                return Err(invalid(
                    "document type declarations are not accepted".into(),
                ))
            }
            Event::Start(e) | Event::Empty(e)
                if depth == 0 && e.local_name().as_ref() != b"metadata" =>
            {
                return Err(invalid("the root element is not <metadata>".into()));
            }
            Event::Start(e) => {
                if depth == 1 && e.local_name().as_ref() == b"plugins" {
                    kind = UploadedKind::Group;
                }
                if depth == 2 && e.local_name().as_ref() == b"snapshot" {
                    kind = UploadedKind::Version;
                }
                depth += 1;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ga() -> Coordinates {
        Coordinates {
            group: "org.example".into(),
            artifact: "app".into(),
        }
    }

    #[test]
    fn artifact_level_orders_versions_the_maven_way() {
        let xml = artifact_level(
            &ga(),
            &[
                ("1.10".into(), 2),
                ("1.9".into(), 1),
                ("2.0-SNAPSHOT".into(), 3),
                ("1.10".into(), 2),
            ],
        );
        assert!(xml.contains("<latest>2.0-SNAPSHOT</latest>"));
        assert!(xml.contains("<release>1.10</release>"));
        let nine = xml.find("<version>1.9<").unwrap_or(usize::MAX);
        let ten = xml.find("<version>1.10<").unwrap_or(0);
        assert!(nine < ten, "{xml}");
        assert_eq!(xml.matches("<version>1.10<").count(), 1);
        assert_eq!(classify(xml.as_bytes()).ok(), Some(UploadedKind::Artifact));
    }

    #[test]
    fn version_level_names_the_newest_build_of_each_file() {
        let builds = [
            Build {
                id: "20240102.030405-1".into(),
                files: vec![(None, "jar".into()), (Some("tests".into()), "jar".into())],
                published: 1,
            },
            Build {
                id: "20240103.030405-2".into(),
                files: vec![(None, "jar".into()), (None, "pom".into())],
                published: 2,
            },
        ];
        let xml = version_level(&ga(), "1.0-SNAPSHOT", &builds);
        assert!(xml.contains("<buildNumber>2</buildNumber>"));
        assert!(xml.contains("<timestamp>20240103.030405</timestamp>"));
        assert!(xml.contains("<value>1.0-20240103.030405-2</value>"));
        assert!(xml.contains("<value>1.0-20240102.030405-1</value>"));
        assert_eq!(xml.matches("<snapshotVersion>").count(), 3);
        assert_eq!(classify(xml.as_bytes()).ok(), Some(UploadedKind::Version));
    }

    #[test]
    fn group_level_and_hostile_uploads() {
        let xml = group_level(&[Plugin {
            prefix: "hello".into(),
            artifact_id: "hello-maven-plugin".into(),
            name: None,
        }]);
        assert!(xml.contains("<prefix>hello</prefix>"));
        assert_eq!(classify(xml.as_bytes()).ok(), Some(UploadedKind::Group));
        let bomb = br#"<!DOCTYPE m [<!ENTITY a "aaaa">]><metadata>&a;</metadata>"#;
        assert!(classify(bomb).is_err());
        assert!(classify(b"<project/>").is_err());
        assert!(classify(b"<metadata><a></b></metadata>").is_err());
    }
}
