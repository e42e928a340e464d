//! The licence and dependencies of a stored `package.json` summary, for SBOMs.

use gantry_formats::{BomFacts, DeclaredDependency, MAX_BOM_DEPENDENCIES};
use serde_json::Value;

pub(super) fn facts(metadata: &Value) -> BomFacts {
    let mut dependencies = Vec::new();
    // Dev dependencies are not part of what gets installed.
    for (field, optional) in [
        ("dependencies", false),
        ("optional_dependencies", true),
        ("peer_dependencies", true),
    ] {
        if let Some(map) = metadata[field].as_object() {
            for (name, range) in map {
                let range = range.as_str().unwrap_or("");
                if !dependencies
                    .iter()
                    .any(|d: &DeclaredDependency| &d.name == name)
                {
                    dependencies.push(DeclaredDependency::new(name, range, optional));
                }
            }
        }
    }
    dependencies.truncate(MAX_BOM_DEPENDENCIES);
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
    fn dependencies_without_dev_ones() {
        let f = facts(&serde_json::json!({
            "license": "MIT",
            "dependencies": {"left-pad": "^1.0.0"},
            "dev_dependencies": {"mocha": "*"},
            "optional_dependencies": {"fsevents": "2"},
        }));
        let want = BomFacts {
            license: Some("MIT".into()),
            dependencies: vec![
                DeclaredDependency::new("left-pad", "^1.0.0", false),
                DeclaredDependency::new("fsevents", "2", true),
            ],
        };
        assert_eq!(f, want);
    }
}
