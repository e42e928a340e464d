//! The licence and dependencies of a stored crate manifest, for SBOMs.

use gantry_formats::{BomFacts, DeclaredDependency, MAX_BOM_DEPENDENCIES};
use serde_json::Value;

pub(super) fn facts(metadata: &Value) -> BomFacts {
    let dependencies = metadata["index"]["deps"]
        .as_array()
        .map(|deps| {
            deps.iter()
                // Dev dependencies build tests only; they are not part of the crate's build.
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .filter_map(|d| {
                    // A renamed dependency names the real crate in `package`.
                    let name = d["package"].as_str().or_else(|| d["name"].as_str())?;
                    let optional = d["optional"].as_bool().unwrap_or(false);
                    Some(DeclaredDependency::new(
                        name,
                        d["req"].as_str().unwrap_or(""),
                        optional,
                    ))
                })
                .take(MAX_BOM_DEPENDENCIES)
                .collect()
        })
        .unwrap_or_default();
    BomFacts {
        license: metadata["license"].as_str().map(str::to_owned),
        dependencies,
    }
}

#[cfg(test)]
mod tests {
    use super::facts;

    #[test]
    fn renamed_optional_and_dev_dependencies() {
        let f = facts(&serde_json::json!({
            "license": "MIT/Apache-2.0",
            "index": {"deps": [
                {"name": "serde", "req": "^1", "kind": "normal", "optional": false},
                {"name": "json", "package": "serde_json", "req": "^1", "kind": "normal", "optional": true},
                {"name": "tempfile", "req": "^3", "kind": "dev", "optional": false},
            ]},
        }));
        assert_eq!(f.license.as_deref(), Some("MIT/Apache-2.0"));
        let names: Vec<(&str, bool)> = f
            .dependencies
            .iter()
            .map(|d| (d.name.as_str(), d.optional))
            .collect();
        assert_eq!(names, [("serde", false), ("serde_json", true)]);
    }
}
