//! Composer packages. A package is one version of one `vendor/package`: its dist zip, whose
//! `composer.json` names it. The version is the one given at upload or, failing that, the
//! `composer.json`'s; when both are there they must agree. Names are kept as Composer writes
//! them (lower case); versions as given, with Composer's normal form in the metadata, which
//! the repository serves as `version_normalized`.

pub mod archive;
pub mod manifest;
pub mod name;
pub mod pack;
pub mod version;

use serde_json::{json, Value};

use crate::archive::quote;
use crate::format::{
    encode_segment, Artifact, Declared, FileLocation, Format, FormatError, FormatInfo, Identity,
    Processed,
};
use gantry_formats::format::invalid;
use gantry_formats::{BomFacts, DeclaredDependency};

pub struct Composer;

/// The file name a version's dist is stored under: `vendor-package-VERSION.zip`, with
/// anything but `[A-Za-z0-9._+-]` in the version (a branch's `/`) written as `-`.
pub fn dist_name(name: &str, version: &str) -> String {
    let safe: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{}-{safe}.zip", name.replace('/', "-"))
}

static INFO: FormatInfo = FormatInfo {
    id: "composer",
    purl_type: "composer",
    vulnerability_ecosystem: Some("Packagist"),
    install: "composer config repositories.gantry composer {url}/composer && composer require {name}:{version}",
    // Overridden: names hold a `/`, served as two segments.
    download: None,
    bom_facts: None,
};

/// The version to publish: the given one, else the `composer.json`'s; both must agree.
fn chosen_version(
    declared: Option<&str>,
    manifest: Option<&str>,
) -> Result<(String, String), FormatError> {
    let version = match (declared, manifest) {
        (Some(given), Some(written)) => {
            if version::normalize(given)? != version::normalize(written)? {
                return Err(invalid(format!(
                    "composer.json says version {}, not {}",
                    quote(written),
                    quote(given)
                )));
            }
            given
        }
        (Some(v), None) | (None, Some(v)) => v,
        (None, None) => {
            return Err(invalid(
                "composer.json has no version: give the version to publish (--version 1.2.3)",
            ))
        }
    };
    Ok((version.to_owned(), version::normalize(version)?))
}

impl Format for Composer {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    /// The name is always the `composer.json`'s, so the upload is processed before it is
    /// answered; what was declared is checked first.
    fn declared_identity(&self, declared: &Declared) -> Result<Option<Identity>, FormatError> {
        if let Some(name) = &declared.name {
            name::check_name(name)?;
        }
        if let Some(version) = &declared.version {
            version::normalize(version)?;
        }
        Ok(None)
    }

    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        let dist = archive::read(artifact.content, artifact.size)?;
        let manifest = manifest::parse(&dist.manifest)?;
        if let Some(name) = declared.name.as_deref().filter(|n| *n != manifest.name) {
            return Err(invalid(format!(
                "composer.json names {}, not {}",
                manifest.name,
                quote(name)
            )));
        }
        let (version, normalized) =
            chosen_version(declared.version.as_deref(), manifest.version.as_deref())?;
        let metadata = json!({
            "name": manifest.name,
            "version": version,
            "version_normalized": normalized,
            "dev": version::is_dev(&normalized),
            "shasum": artifact.sha1,
            "composer": Value::Object(manifest.fields),
            "files": dist.files,
            "unpacked_size": dist.unpacked_size,
        });
        Ok(Processed {
            identity: Identity {
                name: manifest.name.clone(),
                normalized_name: manifest.name.clone(),
                version: version.clone(),
                qualifier: String::new(),
            },
            filename: dist_name(&manifest.name, &version),
            content_type: "application/zip".into(),
            metadata,
            extra_files: Vec::new(),
        })
    }

    fn bom_facts(&self, metadata: &Value) -> BomFacts {
        let fields = &metadata["composer"];
        let mut dependencies = Vec::new();
        for (key, optional) in [("require", false), ("suggest", true)] {
            for (name, requirement) in fields[key].as_object().into_iter().flatten() {
                // Platform requirements (php, ext-*) are not packages.
                if !name.contains('/') {
                    continue;
                }
                let requirement = if optional {
                    ""
                } else {
                    requirement.as_str().unwrap_or("")
                };
                dependencies.push(DeclaredDependency::new(name, requirement, optional));
            }
        }
        BomFacts {
            license: manifest::license(fields),
            dependencies,
        }
    }

    /// `/{owner}/{repo}/composer/dists/{vendor}/{package}/{version}.zip`.
    fn download_path(&self, file: &FileLocation<'_>) -> String {
        dist_path(file.namespace, file.repository, file.name, file.version)
    }

    fn pack_directory(
        &self,
        dir: &std::path::Path,
        declared: &Declared,
        out: &mut std::fs::File,
    ) -> Option<Result<Declared, FormatError>> {
        Some(pack::pack_dir(dir, out).and_then(|packed| {
            let (version, _) =
                chosen_version(declared.version.as_deref(), packed.version.as_deref())?;
            Ok(Declared {
                filename: dist_name(&packed.name, &version),
                name: Some(packed.name),
                version: Some(version),
                ..declared.clone()
            })
        }))
    }
}

/// Where a version's dist is served.
pub fn dist_path(owner: &str, repo: &str, name: &str, version: &str) -> String {
    format!(
        "/{owner}/{repo}/composer/dists/{name}/{}.zip",
        encode_segment(version)
    )
}

#[cfg(test)]
mod tests;
