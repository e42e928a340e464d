//! NuGet packages. A package is one version of one id: its `.nupkg`, with the `.nuspec`
//! stored beside it; a symbol package (`.snupkg`) of the same version is a package of its
//! own with the qualifier `symbols`. Ids compare case-insensitively (the normalised name is
//! the lower-cased id, the name keeps the case of the first upload's manifest), versions are
//! normalised as NuGet does and lower-cased, without build metadata.

pub mod nupkg;
pub mod nuspec;
pub mod version;

use serde_json::json;

pub use version::Version;

use crate::format::{
    Artifact, Declared, ExtraFile, FileLocation, Format, FormatError, FormatInfo, Identity,
    Processed,
};
use gantry_formats::archive::quote;
use gantry_formats::{BomFacts, DeclaredDependency, MAX_BOM_DEPENDENCIES};

/// Longest package id NuGet accepts.
pub const MAX_ID: usize = 100;
/// The qualifier of a symbol package.
pub const SYMBOLS: &str = "symbols";

pub struct NuGet;

/// Checks a package id: letters, digits and `_`, in runs joined by single `.` or `-`.
pub fn check_id(id: &str) -> Result<(), FormatError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id.split(['.', '-']).all(|run| {
            !run.is_empty() && run.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(FormatError::Invalid(format!(
            "'{}' is not a NuGet package id (letters, digits and _ joined by . or -, at most {MAX_ID} characters)",
            quote(id)
        )))
    }
}

/// The stored file names of a version: `{id}.{version}.nupkg` (or `.snupkg`) and
/// `{id}.nuspec`, lower case as the flat container serves them.
pub fn package_file(id: &str, version: &str, symbols: bool) -> String {
    let extension = if symbols { "snupkg" } else { "nupkg" };
    format!(
        "{}.{}.{extension}",
        id.to_lowercase(),
        version.to_lowercase()
    )
}

pub fn nuspec_file(id: &str) -> String {
    format!("{}.nuspec", id.to_lowercase())
}

fn is_symbols(filename: &str) -> bool {
    filename.to_ascii_lowercase().ends_with(".snupkg")
}

static INFO: FormatInfo = FormatInfo {
    id: "nuget",
    purl_type: "nuget",
    vulnerability_ecosystem: Some("NuGet"),
    install: "nuget install {name} -Version {version} -Source {url}/nuget/v3/index.json",
    // Overridden: the flat container's lower-cased layout.
    download: None,
    bom_facts: None,
};

impl Format for NuGet {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    /// Only the manifest inside the archive tells the identity; a declared id and version
    /// are checked before the body is read, and must agree with it afterwards.
    fn declared_identity(&self, declared: &Declared) -> Result<Option<Identity>, FormatError> {
        if let Some(id) = &declared.name {
            check_id(id)?;
        }
        if let Some(v) = &declared.version {
            Version::parse(v)?;
        }
        Ok(None)
    }

    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        let (_, bytes) = nupkg::nuspec_of(artifact.content)?;
        let spec = nuspec::parse(&bytes)?;
        check_id(&spec.id)?;
        let version = Version::parse(&spec.version)?;
        if let Some(id) = declared
            .name
            .as_deref()
            .filter(|d| !d.eq_ignore_ascii_case(&spec.id))
        {
            return Err(FormatError::Invalid(format!(
                "the package is {}, not {}",
                spec.id,
                quote(id)
            )));
        }
        if let Some(v) = declared.version.as_deref() {
            if Version::parse(v)?.key() != version.key() {
                return Err(FormatError::Invalid(format!(
                    "the package is version {}, not {}",
                    version.full,
                    quote(v)
                )));
            }
        }
        let symbols = is_symbols(&declared.filename);
        if symbols != spec.package_types.iter().any(|t| t == "SymbolsPackage") {
            return Err(FormatError::Invalid(if symbols {
                "a .snupkg must declare the SymbolsPackage package type".into()
            } else {
                "a symbol package (SymbolsPackage) must be pushed as a .snupkg".into()
            }));
        }
        let key = version.key();
        let mut metadata = serde_json::to_value(&spec)
            .map_err(|e| FormatError::Invalid(format!("cannot record the .nuspec: {e}")))?;
        metadata["version"] = json!(version.full);
        metadata["normalized_version"] = json!(version.normalized);
        metadata["is_prerelease"] = json!(version.prerelease);
        metadata["semver2"] = json!(version.semver2);
        Ok(Processed {
            identity: Identity {
                name: spec.id.clone(),
                normalized_name: spec.id.to_lowercase(),
                version: key.clone(),
                qualifier: if symbols {
                    SYMBOLS.into()
                } else {
                    String::new()
                },
            },
            filename: package_file(&spec.id, &key, symbols),
            content_type: "application/octet-stream".into(),
            metadata,
            extra_files: if symbols {
                Vec::new()
            } else {
                vec![ExtraFile {
                    filename: nuspec_file(&spec.id),
                    content_type: "application/xml".into(),
                    content: bytes,
                }]
            },
        })
    }

    fn bom_facts(&self, metadata: &serde_json::Value) -> BomFacts {
        let mut dependencies: Vec<DeclaredDependency> = Vec::new();
        for group in metadata["dependency_groups"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for d in group["dependencies"].as_array().into_iter().flatten() {
                let Some(id) = d["id"].as_str() else { continue };
                if dependencies.len() < MAX_BOM_DEPENDENCIES
                    && !dependencies.iter().any(|x| x.name.eq_ignore_ascii_case(id))
                {
                    dependencies.push(DeclaredDependency::new(
                        id,
                        d["range"].as_str().unwrap_or(""),
                        false,
                    ));
                }
            }
        }
        let license = metadata["license_expression"]
            .as_str()
            .filter(|l| !l.is_empty())
            .map(str::to_owned);
        BomFacts {
            license,
            dependencies,
        }
    }

    /// `/{owner}/{repo}/nuget/v3/flat/{id}/{version}/{file}`, all lower case.
    fn download_path(&self, file: &FileLocation<'_>) -> String {
        format!(
            "/{}/{}/nuget/v3/flat/{}/{}/{}",
            file.namespace,
            file.repository,
            file.name.to_lowercase(),
            file.version.to_lowercase(),
            file.filename.to_lowercase()
        )
    }
}

#[cfg(test)]
mod tests;
