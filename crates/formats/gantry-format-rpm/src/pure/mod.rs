//! RPM packages: the headers of an uploaded `.rpm` read within [`header::Limits`], checked
//! and kept as the package's metadata ([`package::RpmMeta`]); the repodata documents are
//! written from that metadata ([`repodata`]). A package is (name, `[epoch:]version-release`,
//! arch) in a repository; its bytes are kept as uploaded (signatures included).

pub mod header;
pub mod package;
pub mod remote;
pub mod repodata;
mod tags;

use gantry_formats::{
    Artifact, BomFacts, Declared, DeclaredDependency, Format, FormatError, FormatInfo, Identity,
    Processed, MAX_BOM_DEPENDENCIES,
};

pub use package::RpmMeta;

pub const ID: &str = "rpm";

static INFO: FormatInfo = FormatInfo {
    id: ID,
    purl_type: "rpm",
    vulnerability_ecosystem: None,
    install: "dnf --repofrompath=gantry,{url}/rpm/ install {name}-{version}",
    download: None,
    bom_facts: None,
};

pub struct Rpm;

/// Longest name, version, release accepted (rpm itself has no cap; these keep listings sane).
const MAX_FIELD_LEN: usize = 256;
/// Most files a package may list: the repodata lists every one of them.
pub const MAX_FILES: usize = 100_000;
/// Most entries of each dependency list.
pub const MAX_DEPENDENCIES: usize = 10_000;

fn check_field(what: &str, value: &str, extra_forbidden: &[char]) -> Result<(), FormatError> {
    let quoted = gantry_core::names::quote_prefix(value, 64);
    if value.is_empty() {
        return Err(FormatError::Invalid(format!("the package has no {what}")));
    }
    if value.len() > MAX_FIELD_LEN
        || value.starts_with('.')
        || value.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || gantry_core::names::is_odd_char(c)
                || matches!(c, '/' | '\\')
                || extra_forbidden.contains(&c)
        })
    {
        return Err(FormatError::Invalid(format!(
            "the package's {what} '{quoted}' is not valid"
        )));
    }
    Ok(())
}

/// Refuses what would break the repository's layout or documents: odd names, too many
/// files or dependencies, file paths that are not absolute.
pub fn validate(meta: &RpmMeta) -> Result<(), FormatError> {
    check_field("name", &meta.name, &[])?;
    check_field("version", &meta.ver, &['-', ':'])?;
    check_field("release", &meta.release, &['-', ':'])?;
    check_field("architecture", &meta.arch, &['-', ':', '.'])?;
    if meta.files.len() > MAX_FILES {
        return Err(FormatError::Invalid(format!(
            "the package lists {} files (at most {MAX_FILES})",
            meta.files.len()
        )));
    }
    for list in [
        &meta.requires,
        &meta.provides,
        &meta.conflicts,
        &meta.obsoletes,
    ] {
        if list.len() > MAX_DEPENDENCIES {
            return Err(FormatError::Invalid(format!(
                "the package lists {} dependencies of one kind (at most {MAX_DEPENDENCIES})",
                list.len()
            )));
        }
    }
    if let Some(bad) = meta.files.iter().find(|f| !f.path.starts_with('/')) {
        return Err(FormatError::Invalid(format!(
            "the package's file '{}' is not an absolute path",
            gantry_core::names::quote_prefix(&bad.path, 64)
        )));
    }
    Ok(())
}

impl Format for Rpm {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    /// Only the headers can tell.
    fn declared_identity(&self, _declared: &Declared) -> Result<Option<Identity>, FormatError> {
        Ok(None)
    }

    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        gantry_formats::check_filename(&declared.filename, "NAME-VERSION-RELEASE.ARCH.rpm")?;
        let headers =
            header::read(artifact.content, &header::Limits::default()).map_err(|e| match e {
                header::HeaderError::Io(io) => FormatError::from(io),
                other => FormatError::Invalid(other.to_string()),
            })?;
        let meta = RpmMeta::from_headers(&headers);
        validate(&meta)?;
        if headers.header_end > artifact.size {
            return Err(FormatError::Invalid("the package is truncated".into()));
        }
        let identity = Identity {
            name: meta.name.clone(),
            normalized_name: meta.name.clone(),
            version: meta.evr(),
            qualifier: meta.arch.clone(),
        };
        gantry_formats::format::check_version_len(&identity.version)?;
        let metadata = serde_json::to_value(&meta)
            .map_err(|e| FormatError::Invalid(format!("the package's metadata: {e}")))?;
        Ok(Processed {
            identity,
            filename: meta.filename(),
            content_type: "application/x-rpm".into(),
            metadata,
            extra_files: Vec::new(),
        })
    }

    fn bom_facts(&self, metadata: &serde_json::Value) -> BomFacts {
        let Ok(meta) = serde_json::from_value::<RpmMeta>(metadata.clone()) else {
            return BomFacts::default();
        };
        let dependencies = meta
            .requires
            .iter()
            .filter(|d| !d.name.starts_with('/'))
            .take(MAX_BOM_DEPENDENCIES)
            .map(|d| {
                let requirement = match (&d.flags, &d.ver) {
                    (Some(flags), Some(ver)) => {
                        let op = match flags.as_str() {
                            "EQ" => "=",
                            "LT" => "<",
                            "GT" => ">",
                            "LE" => "<=",
                            _ => ">=",
                        };
                        let rel = d.rel.as_ref().map(|r| format!("-{r}")).unwrap_or_default();
                        format!("{op} {ver}{rel}")
                    }
                    _ => String::new(),
                };
                DeclaredDependency::new(&d.name, &requirement, false)
            })
            .collect();
        BomFacts {
            license: Some(meta.license).filter(|l| !l.is_empty() && l.len() <= 200),
            dependencies,
        }
    }
}

#[cfg(test)]
mod tests;
