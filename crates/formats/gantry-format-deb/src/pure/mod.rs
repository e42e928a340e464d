//! Debian binary packages: identity (name, version, architecture) and the control
//! paragraph read from the `.deb`; where it is listed (distributions × components) comes from
//! the upload's attributes.

mod archive;
pub mod bom;
pub mod control;
pub mod index;
pub mod remote;
pub mod scan;
#[cfg(test)]
mod tests;

use gantry_formats::{Artifact, Declared, Format, FormatError, FormatInfo, Identity, Processed};
use serde_json::json;

pub use control::Control;

/// Listed here when the uploader names no distribution / component.
pub const DEFAULT_DISTRIBUTION: &str = "stable";
pub const DEFAULT_COMPONENT: &str = "main";
/// Most distributions or components one upload may name.
const MAX_LISTED: usize = 8;

pub struct Deb;

static INFO: FormatInfo = FormatInfo {
    id: "deb",
    purl_type: "deb",
    vulnerability_ecosystem: None,
    install: "echo 'deb [signed-by=/etc/apt/keyrings/gantry.asc] {url}/deb stable main' > /etc/apt/sources.list.d/gantry.list && apt-get update && apt-get install {name}={version}",
    download: None,
    bom_facts: None,
};

/// Where a package is listed, from the upload's `distribution` and `component` attributes
/// (comma-separated lists).
pub fn listings(declared: &Declared) -> Result<Vec<(String, String)>, FormatError> {
    let list = |key: &str, default: &str| -> Result<Vec<String>, FormatError> {
        let text = declared.attributes.get(key).map_or(default, String::as_str);
        let mut names: Vec<String> = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            control::check_suite_name(key, name)?;
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        if names.is_empty() {
            names.push(default.to_owned());
        }
        if names.len() > MAX_LISTED {
            return Err(FormatError::Invalid(format!(
                "at most {MAX_LISTED} values of {key}"
            )));
        }
        Ok(names)
    };
    let distributions = list("distribution", DEFAULT_DISTRIBUTION)?;
    let components = list("component", DEFAULT_COMPONENT)?;
    Ok(distributions
        .iter()
        .flat_map(|d| components.iter().map(move |c| (d.clone(), c.clone())))
        .collect())
}

/// The canonical file name: `name_version_arch.deb`, the epoch left out as Debian does.
pub fn canonical_filename(control: &Control) -> String {
    let version = control
        .version()
        .split_once(':')
        .map_or(control.version(), |(_, rest)| rest);
    format!(
        "{}_{}_{}.deb",
        control.package(),
        version,
        control.architecture()
    )
}

impl Format for Deb {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    fn declared_identity(&self, declared: &Declared) -> Result<Option<Identity>, FormatError> {
        // The identity is in the control file; the listings are checked before any byte is read.
        listings(declared)?;
        Ok(None)
    }

    /// `debian/NAME`: Debian's purl namespace.
    fn purl_name(&self, name: &str) -> String {
        format!("{}/{name}", bom::PURL_NAMESPACE)
    }

    fn bom_facts(&self, metadata: &serde_json::Value) -> gantry_formats::BomFacts {
        bom::facts(metadata)
    }

    fn upload_attributes(&self) -> &'static [&'static str] {
        &["distribution", "component"]
    }

    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        let listed = listings(declared)?;
        let control = control::parse(&archive::control_file(artifact.content)?)?;
        let fields: Vec<serde_json::Value> =
            control.fields.iter().map(|(k, v)| json!([k, v])).collect();
        let listings: Vec<serde_json::Value> = listed
            .iter()
            .map(|(d, c)| json!({"distribution": d, "component": c}))
            .collect();
        Ok(Processed {
            identity: Identity {
                name: control.package().to_owned(),
                normalized_name: control.package().to_owned(),
                version: control.version().to_owned(),
                qualifier: control.architecture().to_owned(),
            },
            filename: canonical_filename(&control),
            content_type: "application/vnd.debian.binary-package".to_owned(),
            metadata: json!({
                "architecture": control.architecture(),
                "control": fields,
                "listings": listings,
            }),
            extra_files: Vec::new(),
        })
    }
}
