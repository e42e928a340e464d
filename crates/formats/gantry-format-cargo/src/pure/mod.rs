//! Rust crates (`.crate` files, as `cargo package` writes them). Identity and the sparse-index
//! entry come from the normalised `Cargo.toml` inside the archive, never from what the
//! uploader says; a publish's JSON metadata and the CLI's name/version must agree with it.
//! Names compare as cargo does: ASCII case-insensitively, with `-` and `_` equivalent.

mod archive;
mod bom;

pub use semver::Version;
use serde_json::{json, Map, Value};

use crate::format::{Artifact, Declared, Format, FormatError, FormatInfo, Identity, Processed};
use gantry_formats::format::invalid;

pub struct Cargo;

/// Longest crate name cargo accepts for publishing.
pub const MAX_NAME_LEN: usize = 64;
/// Most dependencies and features read from one manifest.
const MAX_DEPS: usize = 10_000;
const MAX_FEATURES: usize = 10_000;

/// The lookup form of a crate name: lowercase, `-` as `_`.
pub fn normalize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// cargo's rule for publishable names: ASCII letters, digits, `-` and `_`, starting with a
/// letter, at most 64 characters.
pub fn valid_crate_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.as_bytes()[0].is_ascii_alphabetic()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The path of a crate's file in a sparse index, below the index root (`1/a`, `3/s/syn`,
/// `se/rd/serde`), from the lowercase name.
pub fn index_path(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}

/// A semantic version as cargo requires for published crates.
pub fn parse_version(version: &str) -> Result<semver::Version, FormatError> {
    crate::format::check_version_len(version)?;
    semver::Version::parse(version)
        .map_err(|e| FormatError::Invalid(format!("'{version}' is not a semantic version: {e}")))
}

fn string_of(table: &toml::Table, key: &str) -> Option<String> {
    table.get(key).and_then(|v| v.as_str()).map(str::to_owned)
}

fn strings_of(value: Option<&toml::Value>, what: &str) -> Result<Vec<String>, FormatError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let array = value
        .as_array()
        .ok_or_else(|| invalid(format!("{what} must be an array of strings")))?;
    array
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("{what} must be an array of strings")))
        })
        .collect()
}

/// The index entries of one dependency table.
fn push_deps(
    table: Option<&toml::Value>,
    kind: &str,
    target: Option<&str>,
    out: &mut Vec<Value>,
) -> Result<(), FormatError> {
    let Some(table) = table else { return Ok(()) };
    let table = table
        .as_table()
        .ok_or_else(|| invalid(format!("{kind} dependencies must be a table")))?;
    for (name, spec) in table {
        if out.len() >= MAX_DEPS {
            return Err(invalid(format!("more than {MAX_DEPS} dependencies")));
        }
        let dep = match spec {
            toml::Value::String(req) => json!({
                "name": name, "req": req, "features": [], "optional": false,
                "default_features": true, "target": target, "kind": kind,
                "registry": null, "package": null,
            }),
            toml::Value::Table(t) => {
                let Some(req) = string_of(t, "version") else {
                    // Path and git dependencies without a version cannot come from a
                    // registry; cargo drops them (dev-dependencies) when packaging.
                    if t.contains_key("path") || t.contains_key("git") {
                        continue;
                    }
                    return Err(invalid(format!("dependency '{name}' has no version")));
                };
                let flag = |keys: [&str; 2], default: bool| {
                    keys.iter()
                        .find_map(|k| t.get(*k).and_then(toml::Value::as_bool))
                        .unwrap_or(default)
                };
                json!({
                    "name": name,
                    "req": req,
                    "features": strings_of(t.get("features"), &format!("features of dependency '{name}'"))?,
                    "optional": flag(["optional", "optional"], false),
                    "default_features": flag(["default-features", "default_features"], true),
                    "target": target,
                    "kind": kind,
                    "registry": string_of(t, "registry-index"),
                    "package": string_of(t, "package"),
                })
            }
            _ => return Err(invalid(format!("dependency '{name}' is malformed"))),
        };
        out.push(dep);
    }
    Ok(())
}

fn deps_of(
    root: &toml::Table,
    target: Option<&str>,
    out: &mut Vec<Value>,
) -> Result<(), FormatError> {
    push_deps(root.get("dependencies"), "normal", target, out)?;
    for key in ["dev-dependencies", "dev_dependencies"] {
        push_deps(root.get(key), "dev", target, out)?;
    }
    for key in ["build-dependencies", "build_dependencies"] {
        push_deps(root.get(key), "build", target, out)?;
    }
    Ok(())
}

/// What a crate's `Cargo.toml` says: its display name, version, sparse-index entry (without
/// `cksum` and `yanked`) and descriptive fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub index: Value,
    pub description: Option<String>,
    pub license: Option<String>,
    pub fields: Map<String, Value>,
}

pub fn parse_manifest(raw: &[u8]) -> Result<Manifest, FormatError> {
    let text = std::str::from_utf8(raw).map_err(|_| invalid("Cargo.toml is not UTF-8"))?;
    let root: toml::Table = text
        .parse()
        .map_err(|e| invalid(format!("Cargo.toml is not valid TOML: {e}")))?;
    let package = root
        .get("package")
        .or_else(|| root.get("project"))
        .and_then(toml::Value::as_table)
        .ok_or_else(|| invalid("Cargo.toml has no [package]"))?;
    let name =
        string_of(package, "name").ok_or_else(|| invalid("Cargo.toml has no package name"))?;
    if !valid_crate_name(&name) {
        return Err(invalid(format!(
            "'{name}' is not a valid crate name (ASCII letters, digits, '-' and '_', starting with a letter, at most {MAX_NAME_LEN} characters)"
        )));
    }
    let version = string_of(package, "version")
        .ok_or_else(|| invalid("Cargo.toml has no package version (a workspace-inherited manifest is not a packaged crate)"))?;
    parse_version(&version)?;
    let mut deps = Vec::new();
    deps_of(&root, None, &mut deps)?;
    if let Some(targets) = root.get("target").and_then(toml::Value::as_table) {
        for (target, table) in targets {
            if let Some(table) = table.as_table() {
                deps_of(table, Some(target), &mut deps)?;
            }
        }
    }
    let mut features = Map::new();
    let mut features2 = Map::new();
    if let Some(table) = root.get("features") {
        let table = table
            .as_table()
            .ok_or_else(|| invalid("[features] must be a table"))?;
        if table.len() > MAX_FEATURES {
            return Err(invalid(format!("more than {MAX_FEATURES} features")));
        }
        for (feature, values) in table {
            let values = strings_of(Some(values), &format!("feature '{feature}'"))?;
            // Features using the newer syntax go where older cargo versions do not look.
            let newer = values
                .iter()
                .any(|v| v.starts_with("dep:") || v.contains("?/"));
            let target = if newer { &mut features2 } else { &mut features };
            target.insert(feature.clone(), json!(values));
        }
    }
    let mut index = json!({
        "name": name,
        "vers": version,
        "deps": deps,
        "features": features,
        "links": string_of(package, "links"),
        "rust_version": string_of(package, "rust-version"),
        "v": if features2.is_empty() { 1 } else { 2 },
    });
    if !features2.is_empty() {
        index["features2"] = Value::Object(features2);
    }
    let mut fields = Map::new();
    for key in [
        "description",
        "license",
        "license-file",
        "repository",
        "homepage",
        "documentation",
        "readme",
        "edition",
    ] {
        if let Some(v) = package.get(key).and_then(toml::Value::as_str) {
            fields.insert(key.replace('-', "_"), json!(v));
        }
    }
    for key in ["keywords", "categories", "authors"] {
        if let Some(v) = package.get(key).and_then(toml::Value::as_array) {
            let list: Vec<&str> = v.iter().filter_map(toml::Value::as_str).collect();
            fields.insert(key.into(), json!(list));
        }
    }
    Ok(Manifest {
        description: string_of(package, "description"),
        license: string_of(package, "license"),
        name,
        version,
        index,
        fields,
    })
}

/// The crate inside a `.crate` file: reads the archive with bounds and parses its manifest;
/// the archive's directory must be `NAME-VERSION`.
pub fn read_crate(content: &mut dyn crate::format::ReadSeek) -> Result<Manifest, FormatError> {
    let archive = archive::read(content)?;
    let manifest = parse_manifest(&archive.manifest)?;
    let expected = format!("{}-{}", manifest.name, manifest.version);
    if archive.top != expected {
        return Err(invalid(format!(
            "the crate's files are under '{}', but its Cargo.toml says {expected}",
            archive.top
        )));
    }
    Ok(manifest)
}

/// Checks cargo's publish metadata against what the crate's own manifest says: the same
/// name, version, `links`, features and dependencies (by crate, kind and target).
pub fn check_publish_metadata(publish: &Value, manifest: &Manifest) -> Result<(), FormatError> {
    let disagree = |what: &str| {
        invalid(format!(
            "the publish metadata's {what} disagrees with the crate's Cargo.toml ({} {})",
            manifest.name, manifest.version
        ))
    };
    if publish["name"].as_str() != Some(manifest.name.as_str()) {
        return Err(disagree("name"));
    }
    if publish["vers"].as_str() != Some(manifest.version.as_str()) {
        return Err(disagree("version"));
    }
    if publish["links"].as_str() != manifest.index["links"].as_str() {
        return Err(disagree("links"));
    }
    let mut published_features: Vec<&str> = publish["features"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut own_features: Vec<&str> = ["features", "features2"]
        .iter()
        .filter_map(|k| manifest.index[*k].as_object())
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    published_features.sort_unstable();
    own_features.sort_unstable();
    if published_features != own_features {
        return Err(disagree("feature list"));
    }
    let key = |krate: &str, kind: &str, target: Option<&str>| {
        format!("{}|{kind}|{}", normalize(krate), target.unwrap_or(""))
    };
    let mut published: Vec<String> = publish["deps"]
        .as_array()
        .map(|deps| {
            deps.iter()
                .map(|d| {
                    key(
                        d["name"].as_str().unwrap_or(""),
                        d["kind"].as_str().unwrap_or("normal"),
                        d["target"].as_str(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut own: Vec<String> = manifest.index["deps"]
        .as_array()
        .map(|deps| {
            deps.iter()
                .map(|d| {
                    let krate = d["package"].as_str().or(d["name"].as_str()).unwrap_or("");
                    key(
                        krate,
                        d["kind"].as_str().unwrap_or("normal"),
                        d["target"].as_str(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    published.sort_unstable();
    own.sort_unstable();
    if published != own {
        return Err(disagree("dependency list"));
    }
    Ok(())
}

static INFO: FormatInfo = FormatInfo {
    id: "cargo",
    purl_type: "cargo",
    vulnerability_ecosystem: Some("crates.io"),
    install:
        "cargo add --registry gantry {name}@{version}  # index = \"sparse+{url}/cargo/index/\"",
    // Cargo downloads from the web API's path (its `config.json` names it).
    download: Some("/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/download"),
    bom_facts: Some(bom::facts),
};

impl Format for Cargo {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    /// The identity lives in the crate's manifest, so uploads are processed before they are
    /// stored as packages.
    fn declared_identity(&self, declared: &Declared) -> Result<Option<Identity>, FormatError> {
        crate::format::check_filename(&declared.filename, "NAME-VERSION.crate")?;
        if !declared.filename.ends_with(".crate") {
            return Err(invalid(format!(
                "'{}' is not a crate file name (NAME-VERSION.crate)",
                declared.filename
            )));
        }
        Ok(None)
    }

    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        self.declared_identity(declared)?;
        let manifest = read_crate(artifact.content)?;
        let filename = format!("{}-{}.crate", manifest.name, manifest.version);
        if let Some(name) = declared.name.as_deref().filter(|n| !n.is_empty()) {
            if normalize(name) != normalize(&manifest.name) {
                return Err(invalid(format!(
                    "the upload says crate '{name}' but its Cargo.toml says '{}'",
                    manifest.name
                )));
            }
        }
        if let Some(version) = declared.version.as_deref().filter(|v| !v.is_empty()) {
            if version != manifest.version {
                return Err(invalid(format!(
                    "the upload says version '{version}' but its Cargo.toml says '{}'",
                    manifest.version
                )));
            }
        }
        let mut metadata = Map::new();
        metadata.insert("index".into(), manifest.index.clone());
        metadata.extend(manifest.fields.clone());
        Ok(Processed {
            identity: Identity {
                name: manifest.name.clone(),
                normalized_name: normalize(&manifest.name),
                version: manifest.version.clone(),
                qualifier: String::new(),
            },
            filename,
            content_type: "application/x-tar".into(),
            metadata: Value::Object(metadata),
            extra_files: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(normalize("Serde-JSON"), "serde_json");
        assert!(valid_crate_name("serde_json"));
        assert!(valid_crate_name("a"));
        assert!(!valid_crate_name("1abc"));
        assert!(!valid_crate_name("a.b"));
        assert!(!valid_crate_name(&"a".repeat(65)));
        assert_eq!(index_path("A"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("Syn"), "3/s/syn");
        assert_eq!(index_path("serde_json"), "se/rd/serde_json");
    }

    const MANIFEST: &str = r#"
[package]
name = "demo"
version = "1.2.3"
links = "z"
rust-version = "1.70"
description = "A demo"
license = "MIT"

[dependencies]
plain = "1"
renamed = { version = "0.2", package = "real-name", optional = true, default-features = false, features = ["x"] }
other = { version = "3", registry-index = "sparse+http://127.0.0.1:1/index/" }

[dev-dependencies]
tester = "0.1"
local = { path = "../local" }

[target.'cfg(unix)'.build-dependencies]
cc = "1"

[features]
default = ["plain/std"]
opt = ["dep:renamed", "other?/x"]
"#;

    #[test]
    fn builds_the_index_entry() -> Result<(), FormatError> {
        let m = parse_manifest(MANIFEST.as_bytes())?;
        let index = &m.index;
        assert_eq!(index["name"], "demo");
        assert_eq!(index["vers"], "1.2.3");
        assert_eq!(index["links"], "z");
        assert_eq!(index["rust_version"], "1.70");
        assert_eq!(index["v"], 2);
        assert_eq!(index["features"]["default"], json!(["plain/std"]));
        assert_eq!(
            index["features2"]["opt"],
            json!(["dep:renamed", "other?/x"])
        );
        let deps = index["deps"].as_array().ok_or(invalid("deps"))?;
        assert_eq!(deps.len(), 5);
        let dep = |n: &str| {
            deps.iter()
                .find(|d| d["name"] == n)
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(dep("renamed")["package"], "real-name");
        assert_eq!(dep("renamed")["optional"], true);
        assert_eq!(dep("renamed")["default_features"], false);
        assert_eq!(dep("other")["registry"], "sparse+http://127.0.0.1:1/index/");
        assert_eq!(dep("tester")["kind"], "dev");
        assert_eq!(dep("cc")["kind"], "build");
        assert_eq!(dep("cc")["target"], "cfg(unix)");
        assert_eq!(m.description.as_deref(), Some("A demo"));

        let publish = json!({
            "name": "demo", "vers": "1.2.3", "links": "z",
            "features": {"default": [], "opt": []},
            "deps": [
                {"name": "plain", "kind": "normal"},
                {"name": "real-name", "explicit_name_in_toml": "renamed", "kind": "normal"},
                {"name": "other", "kind": "normal"},
                {"name": "tester", "kind": "dev"},
                {"name": "cc", "kind": "build", "target": "cfg(unix)"},
            ],
        });
        check_publish_metadata(&publish, &m)?;
        let mut wrong = publish.clone();
        wrong["vers"] = json!("1.2.4");
        assert!(check_publish_metadata(&wrong, &m).is_err());
        let mut wrong = publish;
        wrong["deps"] = json!([]);
        assert!(check_publish_metadata(&wrong, &m).is_err());
        Ok(())
    }

    #[test]
    fn checks_the_archive_directory() {
        let bytes = archive::tests::crate_with(&[(
            "other-1.0.0/Cargo.toml",
            b"[package]\nname = \"demo\"\nversion = \"1.0.0\"\n",
        )]);
        assert!(read_crate(&mut std::io::Cursor::new(bytes)).is_err());
        let bytes = archive::tests::crate_with(&[(
            "demo-1.0.0/Cargo.toml",
            b"[package]\nname = \"demo\"\nversion = \"1.0.0\"\n",
        )]);
        assert!(read_crate(&mut std::io::Cursor::new(bytes)).is_ok());
    }

    #[test]
    fn reads_the_real_fixtures() -> Result<(), FormatError> {
        for (file, name, version) in [
            ("hyper-0.14.9.crate", "hyper", "0.14.9"),
            ("itoa-1.0.11.crate", "itoa", "1.0.11"),
            ("serde_json-1.0.100.crate", "serde_json", "1.0.100"),
            ("smallvec-1.6.0.crate", "smallvec", "1.6.0"),
            ("time-0.1.43.crate", "time", "0.1.43"),
        ] {
            let Ok(bytes) = std::fs::read(format!(
                "{}/../../../shared/fixtures/cargo/{file}",
                env!("CARGO_MANIFEST_DIR")
            )) else {
                // The shared fixtures sit beside the repository; without them there is nothing to read.
                return Ok(());
            };
            let mut cursor = std::io::Cursor::new(bytes);
            let p = Cargo.process(
                &Declared {
                    filename: file.into(),
                    ..Declared::default()
                },
                Artifact {
                    content: &mut cursor,
                    size: 0,
                    md5: "",
                    sha1: "",
                    sha256: "",
                    sha512: "",
                },
            )?;
            assert_eq!(p.identity.name, name);
            assert_eq!(p.identity.version, version);
            assert!(
                p.metadata["index"]["deps"]
                    .as_array()
                    .is_some_and(|d| !d.is_empty())
                    || name == "itoa"
            );
        }
        Ok(())
    }
}
