//! What a Go module's SBOM holds beyond its identity: the `require` directives of its
//! `go.mod`, direct and `// indirect` alike (both are versions the module's build selects).
//! They are read at sync, when the `go.mod` is at hand, and kept in the package metadata as
//! `requires`, so an SBOM reads no archive.
//!
//! `replace` and `exclude` are not applied: they act only when the module is the main
//! module of a build, never for its users, so the requirement as written is what a user's
//! build starts from.
//!
//! No licence is given: Go modules declare none in their metadata, and Gantry has no
//! detector that recognises licence texts, so a `LICENSE` file in the zip is not read for one.

use gantry_formats::{BomFacts, DeclaredDependency, MAX_BOM_DEPENDENCIES};
use serde::Serialize;
use serde_json::Value;

/// One `require` directive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Require {
    pub path: String,
    pub version: String,
    /// Marked `// indirect`: needed by a dependency, not imported by the module itself.
    pub indirect: bool,
}

/// Longest module path or version taken from a `require` line; anything longer is not one
/// the go command accepts.
const MAX_TOKEN: usize = 512;

/// The `require` directives of a `go.mod`, single-line and block form, at most
/// [`MAX_BOM_DEPENDENCIES`]. Lines that are not well-formed requirements are skipped: the
/// go command refuses such a file, and a checked module zip does not carry one to here.
pub fn requires(go_mod: &str) -> Vec<Require> {
    let mut out: Vec<Require> = Vec::new();
    // The verb of the block the line is in (`require`, `replace`, …), if any.
    let mut block: Option<&str> = None;
    for raw in go_mod.lines() {
        if out.len() >= MAX_BOM_DEPENDENCIES {
            break;
        }
        let (code, comment) = raw.split_once("//").unwrap_or((raw, ""));
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        let indirect = comment.trim().split(';').next().map(str::trim) == Some("indirect");
        let entry = match block {
            Some(verb) => {
                if code == ")" {
                    block = None;
                    continue;
                }
                (verb == "require").then_some(code)
            }
            None => {
                let (verb, rest) = code
                    .split_once(char::is_whitespace)
                    .map_or((code, ""), |(v, r)| (v, r.trim()));
                if rest == "(" {
                    block = Some(verb);
                    continue;
                }
                (verb == "require").then_some(rest)
            }
        };
        if let Some(require) = entry.and_then(|e| parse_require(e, indirect)) {
            if !out.iter().any(|r| r.path == require.path) {
                out.push(require);
            }
        }
    }
    out
}

fn parse_require(entry: &str, indirect: bool) -> Option<Require> {
    let mut tokens = entry.split_whitespace().map(unquote);
    let path = tokens.next()??;
    let version = tokens.next()??;
    if tokens.next().is_some()
        || path.len() > MAX_TOKEN
        || version.len() > MAX_TOKEN
        || !version.starts_with('v')
    {
        return None;
    }
    Some(Require {
        path,
        version,
        indirect,
    })
}

fn unquote(token: &str) -> Option<String> {
    let inner = token
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| token.strip_prefix('`').and_then(|t| t.strip_suffix('`')))
        .unwrap_or(token);
    (!inner.is_empty() && !inner.contains(['"', '`', '\\'])).then(|| inner.to_owned())
}

/// The SBOM facts of a module from the `requires` its metadata holds.
pub fn facts(metadata: &Value) -> BomFacts {
    let dependencies = metadata["requires"]
        .as_array()
        .into_iter()
        .flatten()
        .take(MAX_BOM_DEPENDENCIES)
        .filter_map(|r| {
            Some(DeclaredDependency::new(
                r["path"].as_str()?,
                r["version"].as_str().unwrap_or(""),
                false,
            ))
        })
        .collect();
    BomFacts {
        license: None,
        dependencies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_MOD: &str = "module example.com/app\n\ngo 1.21\n\n\
        require golang.org/x/text v0.14.0\n\
        require (\n\
        \texample.com/direct v1.2.3\n\
        \t\"example.com/quoted\" v0.0.0-20240101000000-abcdefabcdef // indirect\n\
        \texample.com/noted v2.0.0+incompatible // a note\n\
        \tnot-a-requirement\n\
        )\n\
        replace (\n\texample.com/direct => ../direct\n)\n\
        exclude example.com/direct v1.0.0\n\
        require example.com/direct v1.2.4\n";

    #[test]
    fn reads_single_line_and_block_requires_only() {
        let want = |path: &str, version: &str, indirect| Require {
            path: path.into(),
            version: version.into(),
            indirect,
        };
        assert_eq!(
            requires(GO_MOD),
            [
                want("golang.org/x/text", "v0.14.0", false),
                want("example.com/direct", "v1.2.3", false),
                want(
                    "example.com/quoted",
                    "v0.0.0-20240101000000-abcdefabcdef",
                    true
                ),
                want("example.com/noted", "v2.0.0+incompatible", false),
            ]
        );
        assert!(requires("module m\n").is_empty());
        let many: String = (0..MAX_BOM_DEPENDENCIES + 10)
            .map(|i| format!("require example.com/m{i} v1.0.0\n"))
            .collect();
        assert_eq!(requires(&many).len(), MAX_BOM_DEPENDENCIES);
    }

    #[test]
    fn facts_come_from_the_stored_requires() {
        let metadata = serde_json::json!({ "requires": requires(GO_MOD) });
        let facts = facts(&metadata);
        assert_eq!(facts.license, None);
        assert_eq!(facts.dependencies.len(), 4);
        assert_eq!(facts.dependencies[2].name, "example.com/quoted");
        assert_eq!(facts.dependencies[0].requirement, "v0.14.0");
        assert_eq!(super::facts(&Value::Null), BomFacts::default());
    }
}
