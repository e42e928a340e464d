//! What a Debian package's SBOM holds beyond its identity: the relations of its control
//! paragraph (kept in the package metadata at sync) that must be installed with it,
//! `Pre-Depends` and `Depends`. Of a group of alternatives (`a | b`) the first is listed: it
//! is the one apt picks when none is installed. `Recommends` and `Suggests` are left out,
//! since apt can do without them. A binary package declares no licence in its control
//! paragraph (it is in `/usr/share/doc/NAME/copyright`, not read), so none is given.
//! Packages are named in Debian's purl namespace (`pkg:deb/debian/NAME`).

use gantry_formats::{BomFacts, DeclaredDependency, MAX_BOM_DEPENDENCIES};
use serde_json::Value;

/// The purl namespace of Debian packages.
pub const PURL_NAMESPACE: &str = "debian";

/// The fields read, in the order their relations are listed.
const FIELDS: &[&str] = &["Pre-Depends", "Depends"];

/// The SBOM facts of a package from the control fields its metadata holds
/// (`[[field, value], …]`).
pub fn facts(metadata: &Value) -> BomFacts {
    let mut dependencies: Vec<DeclaredDependency> = Vec::new();
    for wanted in FIELDS {
        let value = metadata["control"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| {
                f[0].as_str()
                    .is_some_and(|k| k.eq_ignore_ascii_case(wanted))
            })
            .and_then(|f| f[1].as_str())
            .unwrap_or("");
        for group in value.split(',') {
            if dependencies.len() >= MAX_BOM_DEPENDENCIES {
                break;
            }
            let Some((name, requirement)) = group.split('|').next().and_then(relation) else {
                continue;
            };
            if !dependencies.iter().any(|d| d.name == name) {
                dependencies.push(DeclaredDependency::new(&name, &requirement, false));
            }
        }
    }
    BomFacts {
        license: None,
        dependencies,
    }
}

/// `name[:arch] [(op version)]` → the name and the requirement (`>= 2.34`); `None` when the
/// name is not a Debian package name.
fn relation(text: &str) -> Option<(String, String)> {
    let text = text.trim();
    let (head, rest) = match text.find('(') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let name = head.split_whitespace().next()?;
    // An architecture qualifier (`python3:any`) names the same package.
    let name = name.split_once(':').map_or(name, |(n, _)| n);
    let valid = name.len() >= 2
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return None;
    }
    let requirement = rest
        .split_once(')')
        .map(|(inside, _)| inside.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    Some((name.to_owned(), requirement))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depends_and_pre_depends_become_dependencies() {
        let metadata = json!({"control": [
            ["Package", "app"],
            ["Pre-Depends", "init-system-helpers (>= 1.54~)"],
            ["Depends", "libc6 (>= 2.34), libtinfo6 (>=\n 6)  , default-mta | mail-transport-agent,\n python3:any, BAD_NAME, libc6"],
            ["Recommends", "less"]
        ]});
        let facts = facts(&metadata);
        let got: Vec<(&str, &str)> = facts
            .dependencies
            .iter()
            .map(|d| (d.name.as_str(), d.requirement.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("init-system-helpers", ">= 1.54~"),
                ("libc6", ">= 2.34"),
                ("libtinfo6", ">= 6"),
                ("default-mta", ""),
                ("python3", ""),
            ]
        );
        assert_eq!(facts.license, None);
        assert_eq!(super::facts(&Value::Null), BomFacts::default());
    }
}
