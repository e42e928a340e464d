//! RubyGems. A package is one `.gem` file: a gem name, version and platform (`ruby`, stored
//! as an empty qualifier, or e.g. `x86_64-linux`). Identity comes from the gem's own
//! specification (`metadata.gz`), read as plain YAML data; what an uploader declares must
//! agree with it. The specification is stored as JSON in the package metadata, and every
//! index page is rendered from there.

pub mod gem;
pub mod index;
pub mod marshal;
pub mod names;
pub mod spec;

use serde_json::json;

pub use names::{full_name, platform_of, qualifier};
pub use spec::Spec;

use crate::format::{Artifact, Declared, Format, FormatError, FormatInfo, Identity, Processed};

pub struct RubyGems;

/// The `.gem` file name of a gem.
pub fn gem_filename(name: &str, version: &str, platform: &str) -> String {
    format!("{}.gem", full_name(name, version, platform))
}

static INFO: FormatInfo = FormatInfo {
    id: "rubygems",
    purl_type: "gem",
    vulnerability_ecosystem: Some("RubyGems"),
    install: "gem install {name} --version {version} --clear-sources --source {url}/rubygems/",
    download: Some("/{owner}/{repo}/rubygems/gems/{filename}"),
    bom_facts: None,
};

/// The stored specification of a package, from its metadata.
pub fn stored_spec(metadata: &serde_json::Value) -> Option<Spec> {
    serde_json::from_value(metadata.get("spec")?.clone()).ok()
}

impl Format for RubyGems {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    /// A declared name and version are checked before the body is read; the identity itself
    /// (with the platform) is the gem's own, so the upload is processed before it is answered.
    fn declared_identity(&self, declared: &Declared) -> Result<Option<Identity>, FormatError> {
        if let Some(name) = &declared.name {
            names::check_name(name)?;
        }
        if let Some(version) = &declared.version {
            names::check_version(version)?;
        }
        Ok(None)
    }

    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        let gem = gem::read(artifact.content)?;
        let spec = gem.spec;
        if let Some(name) = declared.name.as_deref().filter(|n| *n != spec.name) {
            return Err(FormatError::Invalid(format!(
                "the gem is {}, not {}",
                spec.name,
                crate::archive::quote(name)
            )));
        }
        if let Some(v) = declared.version.as_deref().filter(|v| *v != spec.version) {
            return Err(FormatError::Invalid(format!(
                "the gem is version {}, not {}",
                spec.version,
                crate::archive::quote(v)
            )));
        }
        let filename = gem_filename(&spec.name, &spec.version, &spec.platform);
        let identity = Identity {
            name: spec.name.clone(),
            normalized_name: spec.name.clone(),
            version: spec.version.clone(),
            qualifier: qualifier(&spec.platform).to_owned(),
        };
        let metadata = json!({
            "summary": spec.summary,
            "description": spec.description,
            "homepage": spec.homepage,
            "licenses": spec.licenses,
            "platform": spec.platform,
            "prerelease": names::is_prerelease(&spec.version),
            "files": gem.files,
            "unpacked_size": gem.unpacked_size,
            "spec": spec,
        });
        Ok(Processed {
            identity,
            filename,
            content_type: "application/octet-stream".into(),
            metadata,
            extra_files: Vec::new(),
        })
    }

    fn bom_facts(&self, metadata: &serde_json::Value) -> gantry_formats::BomFacts {
        let Some(spec) = stored_spec(metadata) else {
            return gantry_formats::BomFacts::default();
        };
        gantry_formats::BomFacts {
            license: (!spec.licenses.is_empty()).then(|| spec.licenses.join(" OR ")),
            dependencies: spec
                .runtime_dependencies()
                .map(|d| gantry_formats::DeclaredDependency {
                    name: d.name.clone(),
                    requirement: spec::requirement_text(&d.requirement, ", "),
                    optional: false,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
