//! A search hit (`SearchQueryService`) as the feed renders it: from this repository's
//! versions of a package, or read from an upstream's search answer (checked: a valid id and
//! versions, known fields of the right type only; its URLs are the feed's own, since the
//! feed's registration merges the upstream's versions).

use serde_json::{json, Map, Value};

use super::entries::Entry;
use crate::pure::version::Version;

/// Most versions taken from one upstream hit.
const MAX_HIT_VERSIONS: usize = 1_000;
/// The hit's text fields, the empty string when absent.
const TEXT_FIELDS: &[&str] = &[
    "description",
    "summary",
    "title",
    "iconUrl",
    "licenseUrl",
    "projectUrl",
];

pub(crate) struct Hit {
    /// The id as the package spells it.
    pub id: String,
    /// The newest version the search wanted, for display.
    pub version: String,
    /// (normalised key, display version) of each version the search wanted, in order.
    pub versions: Vec<(String, String)>,
    /// The text fields, `tags` and `authors`.
    pub fields: Map<String, Value>,
}

/// A list of strings: an array's strings, or a string split at `separators`.
fn strings(value: Option<&Value>, separators: &[char]) -> Value {
    let list: Vec<&str> = match value {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(text)) => text.split(separators).map(str::trim).collect(),
        _ => Vec::new(),
    };
    json!(list
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>())
}

fn fields(source: &Map<String, Value>) -> Map<String, Value> {
    let mut out: Map<String, Value> = TEXT_FIELDS
        .iter()
        .map(|k| {
            let text = source.get(*k).and_then(Value::as_str).unwrap_or_default();
            ((*k).to_owned(), json!(text))
        })
        .collect();
    out.insert("tags".into(), strings(source.get("tags"), &[' ', ',']));
    out.insert("authors".into(), strings(source.get("authors"), &[',']));
    out
}

impl Hit {
    /// The hit of this repository's wanted versions of a package (in order).
    pub(crate) fn local(versions: &[&Entry]) -> Option<Hit> {
        let latest = versions.last()?;
        Some(Hit {
            id: latest.id.clone(),
            version: latest.full.clone(),
            versions: versions
                .iter()
                .map(|e| (e.key.clone(), e.full.clone()))
                .collect(),
            fields: fields(&latest.catalog),
        })
    }

    /// A hit of an upstream's search answer; `None` when it is not well-formed.
    pub(crate) fn upstream(item: &Value) -> Option<Hit> {
        let id = item["id"].as_str()?;
        crate::pure::check_id(id).ok()?;
        let latest = Version::parse(item["version"].as_str()?).ok()?;
        let mut versions: Vec<(String, String)> = item["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .take(MAX_HIT_VERSIONS)
            .filter_map(|v| Version::parse(v["version"].as_str()?).ok())
            .map(|v| (v.key(), v.full))
            .collect();
        if !versions.iter().any(|(key, _)| *key == latest.key()) {
            versions.push((latest.key(), latest.full.clone()));
        }
        Some(Hit {
            id: id.to_owned(),
            version: latest.full,
            versions,
            fields: fields(item.as_object()?),
        })
    }

    /// The hit's search result, its URLs in `feed`.
    pub(crate) fn render(&self, feed: &str) -> Value {
        let lid = self.id.to_lowercase();
        let registration = format!("{feed}/registration/{lid}/index.json");
        let mut out = self.fields.clone();
        for (key, value) in [
            ("@id", json!(registration)),
            ("@type", json!("Package")),
            ("registration", json!(registration)),
            ("id", json!(self.id)),
            ("version", json!(self.version)),
            ("totalDownloads", json!(0)),
            ("verified", json!(false)),
            ("packageTypes", json!([{ "name": "Dependency" }])),
        ] {
            out.insert(key.into(), value);
        }
        let versions: Vec<Value> = self
            .versions
            .iter()
            .map(|(key, full)| {
                json!({
                    "version": full,
                    "downloads": 0,
                    "@id": format!("{feed}/registration/{lid}/{key}.json"),
                })
            })
            .collect();
        out.insert("versions".into(), json!(versions));
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_hits_are_checked_and_take_the_feeds_urls() {
        let Some(hit) = Hit::upstream(&json!({
            "id": "Remote.Lib", "version": "3.2.0+build", "description": "d", "title": 7,
            "authors": "a, b", "tags": ["x", 1], "iconUrl": "http://elsewhere/icon",
            "versions": [{"version": "3.1"}, {"version": "not a version"}],
            "registration": "http://elsewhere/reg",
        })) else {
            panic!("a valid hit was refused");
        };
        let out = hit.render("http://h/acme/dev/nuget/v3");
        assert_eq!(
            out["registration"],
            "http://h/acme/dev/nuget/v3/registration/remote.lib/index.json"
        );
        assert_eq!(out["title"], "");
        assert_eq!(out["authors"], json!(["a", "b"]));
        assert_eq!(out["tags"], json!(["x"]));
        assert_eq!(
            out["versions"][1]["@id"],
            "http://h/acme/dev/nuget/v3/registration/remote.lib/3.2.0.json"
        );
        assert_eq!(out["versions"][0]["version"], "3.1.0");
        assert!(Hit::upstream(&json!({"id": "../x", "version": "1.0"})).is_none());
        assert!(Hit::upstream(&json!({"id": "X", "version": "one"})).is_none());
    }
}
