//! What a Maven package's SBOM holds beyond its identity: the POM's licences and its declared
//! dependencies, read from the metadata stored at sync (the POM reader there is bounded and
//! expands no entities, so nothing here parses XML).
//!
//! Licences: a POM names each licence in free text (`The Apache Software License, Version
//! 2.0`) and often a URL. A name that is an SPDX identifier is kept; otherwise a short table
//! of the spellings and licence URLs common in POMs gives the identifier; anything else is
//! passed on as written, and the server keeps it as a named licence rather than guess.
//! Several licences are a choice (Maven's own reading of `<licenses>`), so they are joined
//! with `OR`.
//!
//! Dependencies: `<dependencies>` of the POM itself. `${…}` references were resolved at sync
//! against the POM's own properties and coordinates; what is still unresolved came from a
//! parent POM or the environment, which an SBOM does not fetch: a dependency whose group or
//! artifact is unresolved is left out, and an unresolved or missing version (one managed by a
//! parent's `<dependencyManagement>`) leaves the requirement empty. `test` scope is left out
//! (what builds the package, not what it needs, like other formats' dev dependencies);
//! `<optional>true</optional>` makes a dependency optional; `compile`, `runtime`, `provided`
//! and `system` are all needed at run time and listed as required.

use gantry_formats::{BomFacts, DeclaredDependency, MAX_BOM_DEPENDENCIES};
use serde_json::Value;

/// Licence spellings seen in POMs that are not SPDX identifiers, compared case-insensitively
/// after collapsing whitespace, with the identifier each means.
const NAMES: &[(&str, &str)] = &[
    ("the apache software license, version 2.0", "Apache-2.0"),
    ("apache license, version 2.0", "Apache-2.0"),
    ("apache license version 2.0", "Apache-2.0"),
    ("apache license 2.0", "Apache-2.0"),
    ("apache 2.0", "Apache-2.0"),
    ("apache 2", "Apache-2.0"),
    ("apache-2", "Apache-2.0"),
    ("the apache license, version 2.0", "Apache-2.0"),
    ("mit license", "MIT"),
    ("the mit license", "MIT"),
    ("the mit license (mit)", "MIT"),
    ("eclipse public license - v 1.0", "EPL-1.0"),
    ("eclipse public license 1.0", "EPL-1.0"),
    ("eclipse public license - v 2.0", "EPL-2.0"),
    ("eclipse public license v2.0", "EPL-2.0"),
    ("eclipse public license 2.0", "EPL-2.0"),
    ("eclipse distribution license - v 1.0", "BSD-3-Clause"),
    ("the bsd 3-clause license", "BSD-3-Clause"),
    ("bsd 3-clause license", "BSD-3-Clause"),
    ("new bsd license", "BSD-3-Clause"),
    ("the bsd 2-clause license", "BSD-2-Clause"),
    ("bsd 2-clause license", "BSD-2-Clause"),
    ("mozilla public license version 2.0", "MPL-2.0"),
    ("mozilla public license, version 2.0", "MPL-2.0"),
    (
        "gnu lesser general public license, version 2.1",
        "LGPL-2.1-only",
    ),
    ("gnu lesser general public license v2.1", "LGPL-2.1-only"),
    ("cddl 1.1", "CDDL-1.1"),
    ("cddl 1.0", "CDDL-1.0"),
    (
        "common development and distribution license 1.0",
        "CDDL-1.0",
    ),
    ("gpl2 w/ cpe", "GPL-2.0-only WITH Classpath-exception-2.0"),
    ("the unlicense", "Unlicense"),
];

/// The end of licence URLs common in POMs (scheme and host left out, compared
/// case-insensitively, a trailing `.txt`, `.html` or `.php` ignored).
const URLS: &[(&str, &str)] = &[
    ("/licenses/license-2.0", "Apache-2.0"),
    ("/licenses/mit", "MIT"),
    ("/licenses/mit-license", "MIT"),
    ("/legal/epl-v10", "EPL-1.0"),
    ("/legal/epl-2.0", "EPL-2.0"),
    ("/licenses/bsd-3-clause", "BSD-3-Clause"),
    ("/licenses/bsd-2-clause", "BSD-2-Clause"),
    ("/mpl/2.0", "MPL-2.0"),
];

/// Longest licence name looked at; longer text is a pasted licence, not a name.
const MAX_LICENSE_NAME: usize = 200;

/// The SBOM facts of a package from the metadata `pom_metadata` stored.
pub fn facts(metadata: &Value) -> BomFacts {
    BomFacts {
        license: license(metadata),
        dependencies: dependencies(metadata),
    }
}

fn license(metadata: &Value) -> Option<String> {
    let mut ids: Vec<String> = Vec::new();
    for l in metadata["licenses"].as_array().into_iter().flatten() {
        let name = l["name"].as_str().map(str::trim).filter(|n| !n.is_empty());
        let url = l["url"].as_str().map(str::trim).filter(|u| !u.is_empty());
        let Some(id) = spdx_id(name, url) else {
            continue;
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return None;
    }
    // An expression joined of several parts needs parentheses around a compound part.
    if ids.len() == 1 {
        return ids.pop();
    }
    let parts: Vec<String> = ids
        .into_iter()
        .map(|id| {
            if id.contains(' ') {
                format!("({id})")
            } else {
                id
            }
        })
        .collect();
    Some(parts.join(" OR "))
}

/// One `<license>` as an SPDX identifier where its name or URL says which, else its name.
fn spdx_id(name: Option<&str>, url: Option<&str>) -> Option<String> {
    if let Some(name) = name.filter(|n| n.len() <= MAX_LICENSE_NAME) {
        if spdx::license_id(name).is_some() || spdx::Expression::parse(name).is_ok() {
            return Some(name.to_owned());
        }
        let folded = name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        if let Some((_, id)) = NAMES.iter().find(|(n, _)| *n == folded) {
            return Some((*id).to_owned());
        }
    }
    if let Some(url) = url {
        let lower = url.to_lowercase();
        let path = lower
            .split_once("://")
            .map_or(lower.as_str(), |(_, rest)| rest);
        let path = path.find('/').map_or("", |i| &path[i..]);
        let path = path.trim_end_matches('/');
        let path = [".txt", ".html", ".php"]
            .iter()
            .find_map(|ext| path.strip_suffix(ext))
            .unwrap_or(path);
        if let Some((_, id)) = URLS.iter().find(|(u, _)| path.ends_with(u)) {
            return Some((*id).to_owned());
        }
    }
    name.filter(|n| n.len() <= MAX_LICENSE_NAME)
        .map(str::to_owned)
}

fn dependencies(metadata: &Value) -> Vec<DeclaredDependency> {
    let mut out: Vec<DeclaredDependency> = Vec::new();
    for d in metadata["dependencies"].as_array().into_iter().flatten() {
        if out.len() >= MAX_BOM_DEPENDENCIES {
            break;
        }
        let scope = d["scope"].as_str().unwrap_or("compile");
        if scope == "test" || scope == "import" {
            continue;
        }
        let resolved = |key: &str| {
            d[key]
                .as_str()
                .map(str::trim)
                .filter(|v| !v.is_empty() && !v.contains("${"))
        };
        let (Some(group), Some(artifact)) = (resolved("group_id"), resolved("artifact_id")) else {
            continue;
        };
        let name = format!("{group}:{artifact}");
        if out.iter().any(|o| o.name == name) {
            continue;
        }
        let version = resolved("version").unwrap_or("");
        let optional = d["optional"].as_bool().unwrap_or(false);
        out.push(DeclaredDependency::new(&name, version, optional));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn licences_become_spdx_identifiers_where_the_pom_says_which() {
        let one =
            |name: &str, url: &str| license(&json!({"licenses": [{"name": name, "url": url}]}));
        assert_eq!(
            one("The Apache Software License, Version 2.0", "").as_deref(),
            Some("Apache-2.0")
        );
        assert_eq!(
            one(
                "Some name",
                "https://example.invalid/licenses/LICENSE-2.0.txt"
            )
            .as_deref(),
            Some("Apache-2.0")
        );
        assert_eq!(one("EPL-2.0", "").as_deref(), Some("EPL-2.0"));
        assert_eq!(one("Our own terms", "").as_deref(), Some("Our own terms"));
        let dual = json!({"licenses": [
            {"name": "Eclipse Public License - v 2.0"},
            {"name": "GPL2 w/ CPE"},
            {"name": "EPL-2.0"}
        ]});
        assert_eq!(
            license(&dual).as_deref(),
            Some("EPL-2.0 OR (GPL-2.0-only WITH Classpath-exception-2.0)")
        );
        assert_eq!(license(&json!({"licenses": []})), None);
        assert_eq!(
            license(&json!({"licenses": [{"name": "x".repeat(300)}]})),
            None
        );
    }

    #[test]
    fn dependencies_leave_out_tests_and_what_is_unresolved() {
        let meta = json!({"dependencies": [
            {"group_id": "org.dep", "artifact_id": "lib", "version": "3.4", "scope": null, "optional": false},
            {"group_id": "org.dep", "artifact_id": "opt", "version": "[1.0,2.0)", "optional": true},
            {"group_id": "org.dep", "artifact_id": "managed", "version": null, "scope": "runtime"},
            {"group_id": "org.dep", "artifact_id": "parented", "version": "${parent.thing}"},
            {"group_id": "${unknown.group}", "artifact_id": "lost", "version": "1"},
            {"group_id": "org.junit", "artifact_id": "junit", "version": "5", "scope": "test"},
            {"group_id": "org.dep", "artifact_id": "lib", "version": "3.4", "classifier": "sources"}
        ]});
        let deps = dependencies(&meta);
        let got: Vec<(&str, &str, bool)> = deps
            .iter()
            .map(|d| (d.name.as_str(), d.requirement.as_str(), d.optional))
            .collect();
        assert_eq!(
            got,
            vec![
                ("org.dep:lib", "3.4", false),
                ("org.dep:opt", "[1.0,2.0)", true),
                ("org.dep:managed", "", false),
                ("org.dep:parented", "", false),
            ]
        );
        assert_eq!(facts(&Value::Null), BomFacts::default());
    }
}
