//! `composer.json`, read bounded and checked: a JSON object with a valid lower-case `name`,
//! an optional `version`, and the fields a repository serves in the right shapes. Only the
//! fields that describe how to install the package are kept for the index; the rest
//! (`repositories`, `config`, `scripts` …) matter to a root project only, and are dropped.

use serde_json::{Map, Value};

use super::archive::MAX_MANIFEST;
use super::name::check_name;
use crate::archive::quote;
use crate::format::FormatError;
use gantry_formats::format::invalid;

/// The fields served in the repository's metadata, when the package declares them (with
/// [`LINKS`]).
const KEPT: &[&str] = &[
    "description",
    "keywords",
    "homepage",
    "readme",
    "license",
    "authors",
    "type",
    "autoload",
    "autoload-dev",
    "include-path",
    "target-dir",
    "bin",
    "extra",
    "support",
    "funding",
    "abandoned",
];

/// Fields that map package names to version constraints (or, for `suggest`, to reasons).
const LINKS: &[&str] = &[
    "require",
    "require-dev",
    "conflict",
    "replace",
    "provide",
    "suggest",
];

/// What a package's `composer.json` says.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub version: Option<String>,
    /// The kept fields.
    pub fields: Map<String, Value>,
}

/// Parses and checks a `composer.json`.
pub fn parse(bytes: &[u8]) -> Result<Manifest, FormatError> {
    if bytes.len() as u64 > MAX_MANIFEST {
        return Err(invalid(format!(
            "composer.json is larger than {MAX_MANIFEST} bytes"
        )));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("composer.json is not valid JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(invalid("composer.json must hold a JSON object"));
    };
    let name = match object.remove("name") {
        Some(Value::String(name)) => name,
        Some(_) => return Err(invalid("composer.json: 'name' must be a string")),
        None => return Err(invalid("composer.json has no 'name' (vendor/package)")),
    };
    check_name(&name)?;
    let version = match object.remove("version") {
        Some(Value::String(v)) => Some(v),
        None | Some(Value::Null) => None,
        Some(_) => return Err(invalid("composer.json: 'version' must be a string")),
    };
    let mut fields = Map::new();
    for key in KEPT.iter().chain(LINKS) {
        if let Some(value) = object.remove(*key) {
            check_field(key, &value)?;
            fields.insert((*key).to_owned(), value);
        }
    }
    Ok(Manifest {
        name,
        version,
        fields,
    })
}

fn check_field(key: &str, value: &Value) -> Result<(), FormatError> {
    let shaped = |ok: bool, shape: &str| {
        if ok {
            Ok(())
        } else {
            Err(invalid(format!("composer.json: '{key}' must be {shape}")))
        }
    };
    match key {
        k if LINKS.contains(&k) => {
            let Some(links) = value.as_object() else {
                return shaped(false, "an object of package names to constraints");
            };
            for (name, constraint) in links {
                if !constraint.is_string() {
                    return Err(invalid(format!(
                        "composer.json: '{key}' of '{}' must be a string",
                        quote(name)
                    )));
                }
            }
            Ok(())
        }
        "license" => shaped(
            value.is_string()
                || value
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string)),
            "a string or an array of strings",
        ),
        "keywords" | "include-path" => shaped(
            value
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_string)),
            "an array of strings",
        ),
        "bin" => shaped(
            value.is_string()
                || value
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string)),
            "a string or an array of strings",
        ),
        "autoload" | "autoload-dev" | "support" | "extra" => shaped(
            value.is_object() || value.as_array().is_some_and(Vec::is_empty),
            "an object",
        ),
        "authors" | "funding" => shaped(value.is_array(), "an array"),
        "description" | "homepage" | "readme" | "type" | "target-dir" => {
            shaped(value.is_string(), "a string")
        }
        _ => Ok(()),
    }
}

/// The licence as declared: one SPDX id, or several joined with `OR` (Composer's meaning of
/// a list: any of them).
pub fn license(fields: &Value) -> Option<String> {
    match fields.get("license")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(all) => {
            let ids: Vec<&str> = all.iter().filter_map(Value::as_str).collect();
            match ids.len() {
                0 => None,
                1 => Some(ids[0].to_owned()),
                _ => Some(format!("({})", ids.join(" OR "))),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_install_fields_and_checks_shapes() {
        let m = parse(
            br#"{"name":"acme/hello","version":"1.0.0","require":{"php":">=7.4"},
                 "autoload":{"psr-4":{"Acme\\":"src/"}},"scripts":{"x":"rm -rf /"},
                 "repositories":[{"type":"vcs","url":"x"}],"license":["MIT","Apache-2.0"]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.name, "acme/hello");
        assert_eq!(m.version.as_deref(), Some("1.0.0"));
        assert!(m.fields.contains_key("require") && m.fields.contains_key("autoload"));
        assert!(!m.fields.contains_key("scripts") && !m.fields.contains_key("repositories"));
        assert_eq!(
            license(&Value::Object(m.fields)).as_deref(),
            Some("(MIT OR Apache-2.0)")
        );
        for (bad, why) in [
            (&b"[]"[..], "JSON object"),
            (b"{", "not valid JSON"),
            (br#"{"version":"1.0"}"#, "no 'name'"),
            (br#"{"name":"Acme/Hello"}"#, "lower case"),
            (br#"{"name":"acme/x","version":1}"#, "'version'"),
            (
                br#"{"name":"acme/x","require":{"a/b":1}}"#,
                "must be a string",
            ),
            (br#"{"name":"acme/x","require":["a/b"]}"#, "an object"),
        ] {
            let err = parse(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(why), "{why}: {err}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(format!(r#"{{"name":"a/b","extra":{deep}}}"#).as_bytes()).is_err());
    }
}
