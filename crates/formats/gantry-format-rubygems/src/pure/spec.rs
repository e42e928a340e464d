//! A gem's specification, read from the YAML of its `metadata.gz`. The YAML is parsed as
//! plain data: the `!ruby/object:Gem::…` tags RubyGems writes are dropped and their values
//! read as the maps they are, so nothing in the document names a type Gantry instantiates.
//! What is kept is checked and bounded, then stored as JSON; every index page (the compact
//! index, the Marshal indexes and gemspecs) is rendered from that JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::names::{check_name, check_platform, check_version, RUBY};
use crate::format::FormatError;

/// Largest `metadata.gz`, compressed and decompressed.
pub const MAX_METADATA_GZ: u64 = 1 << 20;
pub const MAX_METADATA_YAML: u64 = 4 << 20;
const MAX_DEPENDENCIES: usize = 500;
const MAX_REQUIREMENTS: usize = 20;
const MAX_LIST: usize = 200;
const MAX_METADATA_ENTRIES: usize = 100;
const MAX_SHORT: usize = 1024;
const MAX_TEXT: usize = 64 * 1024;

/// A version requirement: `(operator, version)` pairs, all of which must hold.
pub type Requirement = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    pub name: String,
    pub requirement: Requirement,
    /// `runtime` or `development`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub name: String,
    pub version: String,
    pub platform: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub homepage: Option<String>,
    pub authors: Vec<String>,
    pub email: Vec<String>,
    pub licenses: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    /// `YYYY-MM-DD`.
    pub date: Option<String>,
    pub dependencies: Vec<Dependency>,
    pub required_ruby_version: Requirement,
    pub required_rubygems_version: Requirement,
    pub rubygems_version: String,
    pub specification_version: i64,
}

fn invalid(message: impl Into<String>) -> FormatError {
    FormatError::Invalid(message.into())
}

/// YAML as JSON, tags dropped (their values kept), non-scalar map keys skipped.
fn plain(value: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => n
            .as_i64()
            .map(Value::from)
            .or_else(|| n.as_f64().map(Value::from))
            .unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(plain).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| {
                    let key = match plain(k) {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return None,
                    };
                    Some((key, plain(v)))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => plain(tagged.value),
    }
}

/// A scalar as text (YAML may read `1` or `true` as a number or a boolean).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn bounded(field: &str, value: String, max: usize) -> Result<String, FormatError> {
    if value.len() > max {
        return Err(invalid(format!(
            "the gem's {field} is longer than {max} bytes"
        )));
    }
    Ok(value)
}

fn optional(doc: &Value, field: &str, max: usize) -> Result<Option<String>, FormatError> {
    text(&doc[field])
        .filter(|s| !s.is_empty())
        .map(|s| bounded(field, s, max))
        .transpose()
}

/// A string or a list of strings (`email` may be either).
fn list(doc: &Value, field: &str) -> Result<Vec<String>, FormatError> {
    let items = match &doc[field] {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    if items.len() > MAX_LIST {
        return Err(invalid(format!(
            "the gem lists more than {MAX_LIST} {field}"
        )));
    }
    items
        .iter()
        .filter_map(text)
        .map(|s| bounded(field, s, MAX_SHORT))
        .collect()
}

/// A `Gem::Version` map (`{version: "1.0"}`) or a bare version.
fn version_of(value: &Value) -> Option<String> {
    text(value.get("version").unwrap_or(value))
}

const OPERATORS: [&str; 7] = ["=", "!=", ">", "<", ">=", "<=", "~>"];

/// A `Gem::Requirement` map: `requirements: [[op, version], …]`.
fn requirement(value: &Value, what: &str) -> Result<Requirement, FormatError> {
    let Some(pairs) = value["requirements"].as_array() else {
        return Ok(vec![(">=".into(), "0".into())]);
    };
    if pairs.len() > MAX_REQUIREMENTS {
        return Err(invalid(format!(
            "{what} has more than {MAX_REQUIREMENTS} requirements"
        )));
    }
    let mut out = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let op = text(&pair[0]).unwrap_or_default();
        let version = version_of(&pair[1]).unwrap_or_default();
        if !OPERATORS.contains(&op.as_str()) || !super::names::is_version(&version) {
            return Err(invalid(format!(
                "{what} has a malformed requirement '{} {}'",
                crate::archive::quote(&op),
                crate::archive::quote(&version)
            )));
        }
        out.push((op, version));
    }
    if out.is_empty() {
        out.push((">=".into(), "0".into()));
    }
    Ok(out)
}

fn dependencies(doc: &Value) -> Result<Vec<Dependency>, FormatError> {
    let items = match &doc["dependencies"] {
        Value::Array(items) => items.as_slice(),
        Value::Null => &[],
        _ => return Err(invalid("the gem's dependencies are not a list")),
    };
    if items.len() > MAX_DEPENDENCIES {
        return Err(invalid(format!(
            "the gem has more than {MAX_DEPENDENCIES} dependencies"
        )));
    }
    items
        .iter()
        .map(|item| {
            let name = text(&item["name"]).unwrap_or_default();
            check_name(&name)?;
            let what = format!("dependency {name}");
            let requirement = requirement(&item["requirement"], &what)?;
            let kind = match text(&item["type"]).as_deref() {
                Some(":development" | "development") => "development",
                _ => "runtime",
            };
            Ok(Dependency {
                name,
                requirement,
                kind: kind.into(),
            })
        })
        .collect()
}

fn metadata_map(doc: &Value) -> Result<BTreeMap<String, String>, FormatError> {
    let Some(map) = doc["metadata"].as_object() else {
        return Ok(BTreeMap::new());
    };
    if map.len() > MAX_METADATA_ENTRIES {
        return Err(invalid(format!(
            "the gem's metadata has more than {MAX_METADATA_ENTRIES} entries"
        )));
    }
    map.iter()
        .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
        .map(|(k, v)| {
            Ok((
                bounded("metadata key", k, 128)?,
                bounded("metadata", v, MAX_SHORT)?,
            ))
        })
        .collect()
}

/// `2024-01-02 00:00:00.000000000 Z` (or a bare date) as `2024-01-02`.
fn date(doc: &Value) -> Option<String> {
    let raw = text(&doc["date"])?;
    let day = raw.get(..10)?;
    let b = day.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shaped.then(|| day.to_owned())
}

impl Spec {
    /// Reads the YAML of a `metadata.gz`.
    pub fn from_yaml(yaml: &[u8]) -> Result<Self, FormatError> {
        let parsed: serde_norway::Value = serde_norway::from_slice(yaml)
            .map_err(|e| invalid(format!("the gem's metadata is not valid YAML: {e}")))?;
        let doc = plain(parsed);
        if !doc.is_object() {
            return Err(invalid("the gem's metadata is not a specification"));
        }
        let name = text(&doc["name"]).unwrap_or_default();
        check_name(&name)?;
        let version = version_of(&doc["version"]).unwrap_or_default();
        check_version(&version)?;
        if version.contains('-') {
            // RubyGems writes `1.0-1` as `1.0.pre.1`; the compact index splits on `-`.
            return Err(invalid(format!(
                "gem version '{}' has a '-': write it as .pre.",
                crate::archive::quote(&version)
            )));
        }
        let platform = text(&doc["platform"]).unwrap_or_else(|| RUBY.into());
        check_platform(&platform)?;
        let specification_version = doc["specification_version"].as_i64().unwrap_or(4);
        let rubygems_version = text(&doc["rubygems_version"])
            .filter(|v| super::names::is_version(v))
            .unwrap_or_else(|| "0".into());
        Ok(Self {
            summary: optional(&doc, "summary", MAX_TEXT)?,
            description: optional(&doc, "description", MAX_TEXT)?,
            homepage: optional(&doc, "homepage", MAX_SHORT)?,
            authors: list(&doc, "authors")?,
            email: list(&doc, "email")?,
            licenses: list(&doc, "licenses")?,
            metadata: metadata_map(&doc)?,
            date: date(&doc),
            dependencies: dependencies(&doc)?,
            required_ruby_version: requirement(
                &doc["required_ruby_version"],
                "required_ruby_version",
            )?,
            required_rubygems_version: requirement(
                &doc["required_rubygems_version"],
                "required_rubygems_version",
            )?,
            rubygems_version,
            specification_version: specification_version.clamp(-1, 4),
            name,
            version,
            platform,
        })
    }

    pub fn is_ruby(&self) -> bool {
        self.platform == RUBY
    }

    pub fn runtime_dependencies(&self) -> impl Iterator<Item = &Dependency> {
        self.dependencies.iter().filter(|d| d.kind == "runtime")
    }
}

/// A requirement as RubyGems writes it: `>= 1.0, < 2`.
pub fn requirement_text(requirement: &Requirement, separator: &str) -> String {
    requirement
        .iter()
        .map(|(op, v)| format!("{op} {v}"))
        .collect::<Vec<_>>()
        .join(separator)
}
