//! Python core metadata (`METADATA`, `PKG-INFO`): RFC 822-style headers, read leniently
//! (continuation lines, repeated fields) and within a size bound.

use crate::format::FormatError;

/// The fields Gantry keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMetadata {
    pub metadata_version: Option<String>,
    pub name: String,
    pub version: String,
    pub summary: Option<String>,
    pub license: Option<String>,
    pub license_expression: Option<String>,
    pub requires_python: Option<String>,
    pub requires_dist: Vec<String>,
}

/// Most header lines read before the body (or the end) is reached.
const MAX_HEADER_LINES: usize = 100_000;
const MAX_FIELD_LEN: usize = 64 * 1024;

pub(super) fn parse(bytes: &[u8]) -> Result<CoreMetadata, FormatError> {
    let text = String::from_utf8_lossy(bytes);
    let mut fields: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if n > MAX_HEADER_LINES {
            return Err(FormatError::Invalid(
                "metadata has too many header lines".into(),
            ));
        }
        if line.is_empty() {
            break; // the description body follows
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                if value.len() < MAX_FIELD_LEN {
                    value.push('\n');
                    value.push_str(line.trim());
                }
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        fields.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let first = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty() && v != "UNKNOWN")
    };
    let name =
        first("name").ok_or_else(|| FormatError::Invalid("metadata has no Name field".into()))?;
    let version = first("version")
        .ok_or_else(|| FormatError::Invalid("metadata has no Version field".into()))?;
    Ok(CoreMetadata {
        metadata_version: first("metadata-version"),
        name,
        version,
        summary: first("summary"),
        license: first("license"),
        license_expression: first("license-expression"),
        requires_python: first("requires-python"),
        requires_dist: fields
            .iter()
            .filter(|(k, _)| k == "requires-dist")
            .map(|(_, v)| v.clone())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_continuations_and_repeats() -> Result<(), FormatError> {
        let m = parse(
            b"Metadata-Version: 2.4\nName: Jinja2\nVersion: 2.10\nSummary: A small\n  template engine\n\
License-Expression: BSD-3-Clause\nRequires-Python: >=3.7\nRequires-Dist: MarkupSafe (>=0.23)\n\
Requires-Dist: Babel (>=0.8) ; extra == 'i18n'\n\nRequires-Dist: not-a-header\n",
        )?;
        assert_eq!(m.name, "Jinja2");
        assert_eq!(m.version, "2.10");
        assert_eq!(m.summary.as_deref(), Some("A small\ntemplate engine"));
        assert_eq!(m.license_expression.as_deref(), Some("BSD-3-Clause"));
        assert_eq!(m.requires_python.as_deref(), Some(">=3.7"));
        assert_eq!(m.requires_dist.len(), 2);
        Ok(())
    }

    #[test]
    fn name_and_version_are_required() {
        assert!(parse(b"Name: x\n").is_err());
        assert!(parse(b"Version: 1\n").is_err());
        assert!(parse(b"\xff\xfe garbage").is_err());
    }
}
