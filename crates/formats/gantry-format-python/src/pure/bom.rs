//! The licence and `Requires-Dist` entries of stored core metadata, for SBOMs.

use gantry_formats::{BomFacts, DeclaredDependency, MAX_BOM_DEPENDENCIES};
use serde_json::Value;

/// Licence texts longer than this are whole licence files pasted into `License:`, which
/// say nothing an SBOM can use.
const MAX_LICENSE_FIELD: usize = 200;

pub(super) fn facts(metadata: &Value) -> BomFacts {
    let license = metadata["license_expression"]
        .as_str()
        .or_else(|| metadata["license"].as_str())
        .map(str::trim)
        .filter(|l| !l.is_empty() && l.len() <= MAX_LICENSE_FIELD && !l.contains('\n'))
        .map(str::to_owned);
    let dependencies = metadata["requires_dist"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .filter_map(requirement)
                .take(MAX_BOM_DEPENDENCIES)
                .collect()
        })
        .unwrap_or_default();
    BomFacts {
        license,
        dependencies,
    }
}

/// `Babel (>=0.8); extra == "i18n"` → Babel, `>=0.8`, optional (needed by an extra only).
fn requirement(line: &str) -> Option<DeclaredDependency> {
    let (spec, marker) = line.split_once(';').unwrap_or((line, ""));
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = &spec[..end];
    if name.is_empty() {
        return None;
    }
    let mut rest = spec[end..].trim_start();
    // Extras of the dependency itself (`requests[socks]`) are not part of its requirement.
    if rest.starts_with('[') {
        rest = rest.split_once(']').map_or("", |(_, r)| r);
    }
    let requirement = rest.trim().trim_start_matches('(').trim_end_matches(')');
    Some(DeclaredDependency::new(
        name,
        requirement,
        marker.contains("extra"),
    ))
}

#[cfg(test)]
mod tests {
    use super::facts;

    #[test]
    fn requirements_and_licence() {
        let f = facts(&serde_json::json!({
            "license": "BSD",
            "requires_dist": ["MarkupSafe (>=0.23)", "Babel>=0.8; extra == \"i18n\"",
                              "requests[socks]>=2", "; junk"],
        }));
        assert_eq!(f.license.as_deref(), Some("BSD"));
        let deps: Vec<(&str, &str, bool)> = f
            .dependencies
            .iter()
            .map(|d| (d.name.as_str(), d.requirement.as_str(), d.optional))
            .collect();
        assert_eq!(
            deps,
            [
                ("MarkupSafe", ">=0.23", false),
                ("Babel", ">=0.8", true),
                ("requests", ">=2", false)
            ]
        );
        let pasted = facts(&serde_json::json!({"license": "Copyright\nlong text"}));
        assert_eq!(pasted.license, None);
    }
}
