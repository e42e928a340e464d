//! Python distributions: wheels and sdists (`.tar.gz`, `.zip`). Identity and metadata come
//! from the artifact (`*.dist-info/METADATA` or `PKG-INFO`), never from what the uploader
//! says; the filename must agree with it. Each file is its own package, qualified by its
//! filename, and a wheel's `METADATA` is kept beside it for PEP 658.

mod archive;
mod bom;
mod metadata;

use std::str::FromStr;

pub use metadata::CoreMetadata;

use crate::format::{
    Artifact, Declared, ExtraFile, Format, FormatError, FormatInfo, Identity, Processed,
};

pub struct Python;

/// PEP 503 name normalisation: lowercase, runs of `-`, `_` and `.` become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
            continue;
        }
        if separator && !out.is_empty() {
            out.push('-');
        }
        separator = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The project-name rule of the core metadata specification.
pub fn valid_project_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 200
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// PEP 440 normalised form of a version.
pub fn normalize_version(version: &str) -> Result<String, FormatError> {
    crate::format::check_version_len(version)?;
    pep440_rs::Version::from_str(version.trim())
        .map(|v| v.to_string())
        .map_err(|e| FormatError::Invalid(format!("'{version}' is not a PEP 440 version: {e}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Wheel,
    SdistTarGz,
    SdistZip,
}

impl Kind {
    /// The `filetype` of the upload form.
    pub fn filetype(self) -> &'static str {
        match self {
            Kind::Wheel => "bdist_wheel",
            Kind::SdistTarGz | Kind::SdistZip => "sdist",
        }
    }
}

/// What a distribution's filename says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    pub name: String,
    pub version: String,
    pub kind: Kind,
}

const MAX_FILENAME_LEN: usize = 255;

pub fn parse_filename(filename: &str) -> Result<FileName, FormatError> {
    let invalid = |why: &str| {
        FormatError::Invalid(format!(
            "'{}' is not a valid distribution filename: {why}",
            gantry_core::names::quote_prefix(filename, MAX_FILENAME_LEN)
        ))
    };
    if filename.is_empty()
        || filename.len() > MAX_FILENAME_LEN
        || filename.contains(['/', '\\'])
        || filename.chars().any(gantry_core::names::is_odd_char)
    {
        return Err(invalid("bad characters or length"));
    }
    if let Some(stem) = filename.strip_suffix(".whl") {
        let parts: Vec<&str> = stem.split('-').collect();
        if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty()) {
            return Err(invalid(
                "wheels are NAME-VERSION(-BUILD)-PY-ABI-PLATFORM.whl",
            ));
        }
        return Ok(FileName {
            name: parts[0].to_owned(),
            version: parts[1].to_owned(),
            kind: Kind::Wheel,
        });
    }
    let (stem, kind) = if let Some(stem) = filename.strip_suffix(".tar.gz") {
        (stem, Kind::SdistTarGz)
    } else if let Some(stem) = filename.strip_suffix(".zip") {
        (stem, Kind::SdistZip)
    } else {
        return Err(invalid("expected .whl, .tar.gz or .zip"));
    };
    let (name, version) = stem
        .rsplit_once('-')
        .ok_or_else(|| invalid("sdists are NAME-VERSION.tar.gz"))?;
    if name.is_empty() || version.is_empty() {
        return Err(invalid("sdists are NAME-VERSION.tar.gz"));
    }
    Ok(FileName {
        name: name.to_owned(),
        version: version.to_owned(),
        kind,
    })
}

static INFO: FormatInfo = FormatInfo {
    id: "python",
    purl_type: "pypi",
    vulnerability_ecosystem: Some("PyPI"),
    install: "pip install --index-url {url}/python/simple/ {name}=={version}",
    download: None,
    bom_facts: Some(bom::facts),
};

impl Format for Python {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    /// The identity lives in the artifact, so uploads are processed before they are stored as
    /// packages.
    fn declared_identity(&self, declared: &Declared) -> Result<Option<Identity>, FormatError> {
        parse_filename(&declared.filename)?;
        Ok(None)
    }

    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        let file = parse_filename(&declared.filename)?;
        let raw = match file.kind {
            Kind::Wheel => archive::wheel_metadata(artifact.content)?,
            Kind::SdistTarGz => archive::tar_sdist_metadata(artifact.content)?,
            Kind::SdistZip => archive::zip_sdist_metadata(artifact.content)?,
        };
        let meta = metadata::parse(&raw)?;
        if !valid_project_name(&meta.name) {
            return Err(FormatError::Invalid(format!(
                "'{}' is not a valid project name (letters, digits, '.', '_' and '-', starting and ending with a letter or digit)",
                meta.name
            )));
        }
        let normalized_name = normalize(&meta.name);
        let version = normalize_version(&meta.version)?;
        if normalize(&file.name) != normalized_name {
            return Err(FormatError::Invalid(format!(
                "the filename says project '{}' but the metadata says '{}'",
                file.name, meta.name
            )));
        }
        if normalize_version(&file.version).ok().as_deref() != Some(version.as_str()) {
            return Err(FormatError::Invalid(format!(
                "the filename says version '{}' but the metadata says '{}'",
                file.version, meta.version
            )));
        }
        for (field, value) in [("name", &declared.name), ("version", &declared.version)] {
            let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else {
                continue;
            };
            let agrees = match field {
                "name" => normalize(value) == normalized_name,
                _ => normalize_version(value).ok().as_deref() == Some(version.as_str()),
            };
            if !agrees {
                return Err(FormatError::Invalid(format!(
                    "the upload form's {field} '{value}' disagrees with the artifact's metadata ({} {})",
                    meta.name, meta.version
                )));
            }
        }
        let metadata = serde_json::json!({
            "name": meta.name,
            "normalized_name": normalized_name,
            "version": version,
            "summary": meta.summary,
            "license": meta.license,
            "license_expression": meta.license_expression,
            "requires_python": meta.requires_python,
            "requires_dist": meta.requires_dist,
            "metadata_version": meta.metadata_version,
            "filetype": file.kind.filetype(),
        });
        let extra_files = match file.kind {
            Kind::Wheel => vec![ExtraFile {
                filename: format!("{}.metadata", declared.filename),
                content_type: "text/plain; charset=utf-8".into(),
                content: raw,
            }],
            Kind::SdistTarGz | Kind::SdistZip => Vec::new(),
        };
        Ok(Processed {
            identity: Identity {
                name: meta.name.clone(),
                normalized_name,
                version,
                qualifier: declared.filename.clone(),
            },
            filename: declared.filename.clone(),
            content_type: match file.kind {
                Kind::SdistTarGz => "application/gzip",
                Kind::Wheel | Kind::SdistZip => "application/zip",
            }
            .into(),
            metadata,
            extra_files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_names_and_versions() -> Result<(), FormatError> {
        assert_eq!(normalize("Jinja2"), "jinja2");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(normalize("typing__Extensions"), "typing-extensions");
        assert_eq!(normalize("a-_.b"), "a-b");
        assert_eq!(normalize_version("1.0.0-ALPHA1")?, "1.0.0a1");
        assert_eq!(
            normalize_version("1!2.0.post1.dev3+local.7")?,
            "1!2.0.post1.dev3+local.7"
        );
        assert_eq!(normalize_version("v1.2")?, "1.2");
        assert!(normalize_version("not a version").is_err());
        assert!(valid_project_name("zope.interface"));
        assert!(!valid_project_name("we#ird"));
        assert!(!valid_project_name("-lead"));
        Ok(())
    }

    #[test]
    fn parses_filenames() -> Result<(), FormatError> {
        let w = parse_filename("Jinja2-2.10-py2.py3-none-any.whl")?;
        assert_eq!(
            (w.name.as_str(), w.version.as_str(), w.kind),
            ("Jinja2", "2.10", Kind::Wheel)
        );
        let s = parse_filename("zope.interface-5.4.0.tar.gz")?;
        assert_eq!(
            (s.name.as_str(), s.version.as_str()),
            ("zope.interface", "5.4.0")
        );
        assert_eq!(parse_filename("pkg-1.0.zip")?.kind, Kind::SdistZip);
        for bad in ["x.exe", "nover.tar.gz", "a-b.whl", "../pkg-1.0.tar.gz", ""] {
            assert!(parse_filename(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    fn fixture(name: &str) -> Option<Vec<u8>> {
        std::fs::read(format!(
            "{}/../../../shared/fixtures/python/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .ok()
    }

    fn run(filename: &str, bytes: Vec<u8>) -> Result<Processed, FormatError> {
        let mut cursor = std::io::Cursor::new(bytes);
        Python.process(
            &Declared {
                filename: filename.into(),
                ..Declared::default()
            },
            Artifact {
                content: &mut cursor,
                size: 0,
                md5: "",
                sha1: "",
                sha256: "",
                sha512: "",
            },
        )
    }

    #[test]
    fn reads_the_real_fixtures() -> Result<(), FormatError> {
        for (file, name, normalized, version) in [
            (
                "Jinja2-2.10-py2.py3-none-any.whl",
                "Jinja2",
                "jinja2",
                "2.10",
            ),
            ("PyYAML-5.3.tar.gz", "PyYAML", "pyyaml", "5.3"),
            (
                "zope.interface-5.4.0.tar.gz",
                "zope.interface",
                "zope-interface",
                "5.4.0",
            ),
            (
                "typing_extensions-4.7.1-py3-none-any.whl",
                "typing_extensions",
                "typing-extensions",
                "4.7.1",
            ),
        ] {
            let Some(bytes) = fixture(file) else {
                // The shared fixtures sit beside the repository; without them there is nothing to read.
                return Ok(());
            };
            let p = run(file, bytes)?;
            assert_eq!(p.identity.name, name);
            assert_eq!(p.identity.normalized_name, normalized);
            assert_eq!(p.identity.version, version);
            assert_eq!(p.extra_files.len(), usize::from(file.ends_with(".whl")));
        }
        Ok(())
    }

    #[test]
    fn a_renamed_file_is_refused() {
        let Some(bytes) = fixture("six-1.16.0-py2.py3-none-any.whl") else {
            return;
        };
        let err = run("six-2.0.0-py2.py3-none-any.whl", bytes);
        assert!(matches!(err, Err(FormatError::Invalid(m)) if m.contains("version")));
    }
}
