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
    use gantry_formats::{BomFacts, DeclaredDependency};

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
        let want = BomFacts {
            license: Some("MIT/Apache-2.0".into()),
            dependencies: vec![
                DeclaredDependency::new("serde", "^1", false),
                DeclaredDependency::new("serde_json", "^1", true),
            ],
        };
        assert_eq!(f, want);
    }
}
