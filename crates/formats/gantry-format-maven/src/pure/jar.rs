//! The Maven coordinates a JAR carries inside: every `META-INF/maven/<group>/<artifact>/
//! pom.properties`, one per library built into it (a shaded JAR holds its dependencies'),
//! so the scan can match the libraries it contains as well as the artifact itself.

use std::io::{Read, Seek};

use crate::format::FormatError;

/// Most entries a JAR's central directory may list before it is not read.
const MAX_ENTRIES: usize = 200_000;
/// Most embedded libraries kept.
const MAX_EMBEDDED: usize = 2_000;
/// Largest `pom.properties` read.
const MAX_PROPERTIES: u64 = 64 * 1024;

/// A library found inside a JAR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    pub group_id: String,
    pub artifact_id: String,
    pub version: String,
    /// The entry it was read from.
    pub path: String,
}

fn is_pom_properties(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    matches!(parts.as_slice(), ["META-INF", "maven", g, a, "pom.properties"] if !g.is_empty() && !a.is_empty())
}

/// The libraries listed by the JAR's `pom.properties` entries. Entries are only read, never
/// unpacked, so their names need no traversal check; their sizes and count are capped.
pub fn embedded<R: Read + Seek>(reader: R) -> Result<Vec<Embedded>, FormatError> {
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| FormatError::Invalid(format!("not a JAR: {e}")))?;
    if zip.len() > MAX_ENTRIES {
        return Err(FormatError::Invalid(format!(
            "the JAR lists more than {MAX_ENTRIES} entries"
        )));
    }
    let mut found = Vec::new();
    for index in 0..zip.len() {
        let Ok(entry) = zip.by_index(index) else {
            continue;
        };
        let name = entry.name().to_owned();
        if !is_pom_properties(&name) || entry.size() > MAX_PROPERTIES {
            continue;
        }
        let mut text = String::new();
        if entry
            .take(MAX_PROPERTIES)
            .read_to_string(&mut text)
            .is_err()
        {
            continue;
        }
        let value = |key: &str| {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if let (Some(group_id), Some(artifact_id), Some(version)) =
            (value("groupId"), value("artifactId"), value("version"))
        {
            found.push(Embedded {
                group_id,
                artifact_id,
                version,
                path: name,
            });
            if found.len() >= MAX_EMBEDDED {
                break;
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    pub(crate) fn jar(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in entries {
            let _ = out.start_file(*name, zip::write::SimpleFileOptions::default());
            let _ = out.write_all(body.as_bytes());
        }
        out.finish().map(Cursor::into_inner).unwrap_or_default()
    }

    #[test]
    fn finds_shaded_libraries() -> Result<(), FormatError> {
        let bytes = jar(&[
            ("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"),
            (
                "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
                "#x\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n",
            ),
            ("META-INF/maven/a/b/pom.properties", "groupId=a\n"),
        ]);
        let found = embedded(Cursor::new(bytes))?;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].artifact_id, "log4j-core");
        assert_eq!(found[0].version, "2.14.1");
        assert!(embedded(Cursor::new(b"not a zip".to_vec())).is_err());
        Ok(())
    }
}
