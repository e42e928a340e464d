//! Paths of the Maven 2 repository layout: `group/as/dirs/artifact/version/file`, the
//! `maven-metadata.xml` documents at the artifact, version and group levels, and the checksum
//! sidecars beside every file. Every segment is checked before anything else reads it: no
//! empty, `.` or `..` segments, no separators or characters outside Maven's coordinate
//! alphabet, bounded lengths.

use crate::format::FormatError;

/// Longest path below `/maven/` accepted.
pub const MAX_PATH_LEN: usize = 1024;
/// Longest single segment (a group part, an artifact id, a version, a filename).
const MAX_SEGMENT_LEN: usize = 255;
/// Most segments in one path (a deep group id has a dozen).
const MAX_SEGMENTS: usize = 48;

pub const METADATA_FILE: &str = "maven-metadata.xml";
pub const SNAPSHOT_SUFFIX: &str = "-SNAPSHOT";

/// A checksum sidecar's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Checksum {
    pub const ALL: [Checksum; 4] = [
        Checksum::Md5,
        Checksum::Sha1,
        Checksum::Sha256,
        Checksum::Sha512,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            Checksum::Md5 => "md5",
            Checksum::Sha1 => "sha1",
            Checksum::Sha256 => "sha256",
            Checksum::Sha512 => "sha512",
        }
    }

    /// Hex digits of the digest.
    pub fn hex_len(self) -> usize {
        match self {
            Checksum::Md5 => 32,
            Checksum::Sha1 => 40,
            Checksum::Sha256 => 64,
            Checksum::Sha512 => 128,
        }
    }

    /// `name` without a checksum extension, and the algorithm, if it has one.
    pub fn split(name: &str) -> (&str, Option<Checksum>) {
        for algorithm in Self::ALL {
            if let Some(base) = name
                .strip_suffix(algorithm.extension())
                .and_then(|b| b.strip_suffix('.'))
            {
                return (base, Some(algorithm));
            }
        }
        (name, None)
    }

    /// The digest in a sidecar's body: its first word (some tools append the filename),
    /// checked to be hex of the right length.
    pub fn parse_body(self, body: &str) -> Option<String> {
        let word = body.split_whitespace().next()?;
        (word.len() == self.hex_len() && word.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| word.to_ascii_lowercase())
    }
}

/// `groupId:artifactId`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coordinates {
    pub group: String,
    pub artifact: String,
}

impl Coordinates {
    /// The package name: `groupId:artifactId`, as the OSV Maven ecosystem names packages.
    pub fn name(&self) -> String {
        format!("{}:{}", self.group, self.artifact)
    }

    /// Splits a package name back into its coordinates.
    pub fn from_name(name: &str) -> Option<Self> {
        let (group, artifact) = name.split_once(':')?;
        Some(Self {
            group: group.to_owned(),
            artifact: artifact.to_owned(),
        })
    }

    /// `group/as/dirs/artifact`, the directory of the artifact.
    pub fn dir(&self) -> String {
        format!("{}/{}", self.group.replace('.', "/"), self.artifact)
    }
}

/// A file of one version of an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    pub coordinates: Coordinates,
    /// The version directory (`1.0`, `1.0-SNAPSHOT`).
    pub version: String,
    pub filename: String,
    /// For a SNAPSHOT: the build (`20240102.030405-7`) its name carries, `None` for the
    /// plain `-SNAPSHOT` spelling.
    pub build: Option<String>,
    pub classifier: Option<String>,
    /// What follows the version and classifier (`jar`, `pom`, `jar.asc`, `tar.gz`).
    pub extension: String,
}

impl ArtifactFile {
    pub fn is_snapshot(&self) -> bool {
        self.version.ends_with(SNAPSHOT_SUFFIX)
    }
}

/// What a path below `/maven/` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    File(ArtifactFile),
    /// `…/artifact/X-SNAPSHOT/maven-metadata.xml`.
    VersionMetadata {
        coordinates: Coordinates,
        version: String,
    },
    /// `dirs/maven-metadata.xml`: artifact-level (group = all but the last dir, artifact = the
    /// last) or group-level (plugin prefixes; group = all dirs). Which one only the content
    /// or the stored packages can tell.
    Metadata {
        dirs: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoPath {
    pub target: Target,
    /// Set for a checksum sidecar of the target.
    pub checksum: Option<Checksum>,
}

impl Target {
    /// The artifact-level reading of a metadata path.
    pub fn artifact_level(dirs: &[String]) -> Option<Coordinates> {
        let (artifact, group) = dirs.split_last()?;
        (!group.is_empty() && check_group_dirs(group).is_ok()).then(|| Coordinates {
            group: group.join("."),
            artifact: artifact.clone(),
        })
    }
}

fn invalid(message: String) -> FormatError {
    FormatError::Invalid(message)
}

/// A groupId's dots are directory separators in the layout, so a group directory holds none
/// (otherwise `org.example/…` and `org/example/…` would name one group twice).
pub fn check_group_dirs(dirs: &[String]) -> Result<(), FormatError> {
    match dirs.iter().find(|d| d.contains('.')) {
        Some(dir) => Err(invalid(format!(
            "group directory '{}' holds a dot; a groupId's dots are directory separators",
            crate::archive::quote(dir)
        ))),
        None => Ok(()),
    }
}

fn check_segment(segment: &str) -> Result<(), FormatError> {
    let quoted = || crate::archive::quote(segment);
    if segment.is_empty() || segment == "." || segment == ".." {
        return Err(invalid(format!(
            "path segment '{}' is empty, '.' or '..'",
            quoted()
        )));
    }
    if segment.len() > MAX_SEGMENT_LEN {
        return Err(invalid(format!(
            "path segment '{}' is longer than {MAX_SEGMENT_LEN} characters",
            quoted()
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '~');
    if !segment.chars().all(allowed) {
        return Err(invalid(format!(
            "path segment '{}' holds a character outside letters, digits and . - _ + ~",
            quoted()
        )));
    }
    Ok(())
}

/// Parses and checks a path below `/maven/`.
pub fn parse(path: &str) -> Result<RepoPath, FormatError> {
    if path.len() > MAX_PATH_LEN {
        return Err(invalid(format!(
            "path is longer than {MAX_PATH_LEN} characters"
        )));
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() > MAX_SEGMENTS {
        return Err(invalid(format!(
            "path has more than {MAX_SEGMENTS} segments"
        )));
    }
    for segment in &segments {
        check_segment(segment)?;
    }
    let Some((last, dirs)) = segments.split_last() else {
        return Err(invalid("empty path".into()));
    };
    let (base, checksum) = Checksum::split(last);
    let dirs: Vec<String> = dirs.iter().map(|s| (*s).to_owned()).collect();
    if base == METADATA_FILE {
        let target = match dirs.as_slice() {
            [group @ .., artifact, version]
                if !group.is_empty() && version.ends_with(SNAPSHOT_SUFFIX) =>
            {
                check_group_dirs(group)?;
                Target::VersionMetadata {
                    coordinates: Coordinates {
                        group: group.join("."),
                        artifact: artifact.clone(),
                    },
                    version: version.clone(),
                }
            }
            [] => return Err(invalid("metadata needs a group directory".into())),
            _ => Target::Metadata { dirs },
        };
        return Ok(RepoPath { target, checksum });
    }
    let [group @ .., artifact, version] = dirs.as_slice() else {
        return Err(invalid(format!(
            "'{}' is not group/artifact/version/file",
            crate::archive::quote(path)
        )));
    };
    if group.is_empty() {
        return Err(invalid(format!(
            "'{}' is not group/artifact/version/file",
            crate::archive::quote(path)
        )));
    }
    check_group_dirs(group)?;
    let coordinates = Coordinates {
        group: group.join("."),
        artifact: artifact.clone(),
    };
    let file = parse_filename(coordinates, version, base)?;
    Ok(RepoPath {
        target: Target::File(file),
        checksum,
    })
}

/// Splits `artifact-version[-classifier].extension`, where a SNAPSHOT's version may be
/// spelled with its build timestamp.
pub fn parse_filename(
    coordinates: Coordinates,
    version: &str,
    filename: &str,
) -> Result<ArtifactFile, FormatError> {
    let mismatch = || {
        invalid(format!(
            "file '{}' is not named {}-{version}[-classifier].extension",
            crate::archive::quote(filename),
            coordinates.artifact
        ))
    };
    let rest = filename
        .strip_prefix(coordinates.artifact.as_str())
        .and_then(|r| r.strip_prefix('-'))
        .ok_or_else(mismatch)?;
    let (build, rest) = if let Some(after) = rest.strip_prefix(version) {
        (None, after)
    } else {
        let base = version.strip_suffix("SNAPSHOT").ok_or_else(mismatch)?;
        let after = rest.strip_prefix(base).ok_or_else(mismatch)?;
        let (build, rest) = split_build(after).ok_or_else(mismatch)?;
        (Some(build.to_owned()), rest)
    };
    let (classifier, extension) = if let Some(after) = rest.strip_prefix('-') {
        let (classifier, extension) = after.split_once('.').ok_or_else(mismatch)?;
        (Some(classifier.to_owned()), extension)
    } else {
        (None, rest.strip_prefix('.').ok_or_else(mismatch)?)
    };
    if extension.is_empty() || classifier.as_deref() == Some("") {
        return Err(mismatch());
    }
    Ok(ArtifactFile {
        coordinates,
        version: version.to_owned(),
        filename: filename.to_owned(),
        build,
        classifier,
        extension: extension.to_owned(),
    })
}

/// `yyyyMMdd.HHmmss-N` at the start of `s`, and what follows it.
pub fn split_build(s: &str) -> Option<(&str, &str)> {
    let bytes = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    if !(digits(0..8)
        && bytes.get(8) == Some(&b'.')
        && digits(9..15)
        && bytes.get(15) == Some(&b'-'))
    {
        return None;
    }
    let number_len = bytes[16..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if number_len == 0 || number_len > 9 {
        return None;
    }
    Some(s.split_at(16 + number_len))
}

/// A build's timestamp (`20240102.030405`) and number (`7`).
pub fn split_build_id(build: &str) -> Option<(&str, u32)> {
    let (timestamp, number) = build.split_once('-')?;
    Some((timestamp, number.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> ArtifactFile {
        match parse(path) {
            Ok(RepoPath {
                target: Target::File(f),
                ..
            }) => f,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn files_with_classifiers_snapshots_and_checksums() {
        let f = file("org/example/app/1.0/app-1.0-sources.jar");
        assert_eq!(f.coordinates.name(), "org.example:app");
        assert_eq!(f.classifier.as_deref(), Some("sources"));
        assert_eq!(f.extension, "jar");
        let f = file("org/example/app/1.0/app-1.0.jar.asc");
        assert_eq!(f.extension, "jar.asc");
        let f = file("org/example/app/1.0-SNAPSHOT/app-1.0-20240102.030405-12.pom");
        assert_eq!(f.build.as_deref(), Some("20240102.030405-12"));
        assert_eq!(f.extension, "pom");
        let p = parse("org/example/app/1.0/app-1.0.jar.sha512").ok();
        assert_eq!(p.and_then(|p| p.checksum), Some(Checksum::Sha512));
        assert_eq!(
            split_build_id("20240102.030405-12"),
            Some(("20240102.030405", 12))
        );
    }

    #[test]
    fn metadata_levels() {
        let p = parse("org/example/app/maven-metadata.xml.sha1").ok();
        assert!(matches!(
            p,
            Some(RepoPath {
                target: Target::Metadata { .. },
                checksum: Some(Checksum::Sha1)
            })
        ));
        let p = parse("org/example/app/1.0-SNAPSHOT/maven-metadata.xml").ok();
        assert!(matches!(
            p,
            Some(RepoPath {
                target: Target::VersionMetadata { .. },
                ..
            })
        ));
        assert!(parse("maven-metadata.xml").is_err());
    }

    #[test]
    fn refuses_traversal_and_odd_names() {
        for path in [
            "org/../app/1.0/app-1.0.jar",
            "org/example/app/1.0/../../x",
            "org//app/1.0/app-1.0.jar",
            "org/example/app/1.0/other-1.0.jar",
            "org/example/app/1.0/app-2.0.jar",
            "org/example/app/1.0/app-1.0",
            "org/example/app/1.0/app-1.0-.jar",
            "org/ex ample/app/1.0/app-1.0.jar",
            "org/example\\x/app/1.0/app-1.0.jar",
            "app/1.0/app-1.0.jar",
            "org/example/app/1.0-SNAPSHOT/app-1.0-2024.jar",
            "org.example/app/1.0/app-1.0.jar",
        ] {
            assert!(parse(path).is_err(), "{path}");
        }
        assert!(parse(&"a/".repeat(600)).is_err());
    }
}
