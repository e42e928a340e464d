//! npm packages: gzip-compressed tarballs whose top-level `package.json` is the source of
//! truth for name, version, licence, dependencies, `bin` and install scripts. A publish
//! document (or an API upload's form) that disagrees with it is refused. One tarball per
//! name and version, so the qualifier is empty.

mod bom;
pub mod tarball;

use serde_json::{Map, Value};

use crate::format::{Artifact, Declared, Format, FormatError, FormatInfo, Identity, Processed};

pub struct Npm;

/// Longest package name npm accepts.
const MAX_NAME_LEN: usize = 214;
/// Largest version document kept (the `package.json` minus what the registry drops).
const MAX_MANIFEST_JSON: usize = 1024 * 1024;

/// Fields of a version that the abbreviated (install) packument carries, besides `dist`.
pub const ABBREVIATED_FIELDS: &[&str] = &[
    "name",
    "version",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "acceptDependencies",
    "bin",
    "directories",
    "engines",
    "os",
    "cpu",
    "libc",
    "funding",
    "_hasShrinkwrap",
    "hasInstallScript",
];

/// Checks an npm package name: `name` or `@scope/name`, URL-safe, at most 214 characters.
pub fn validate_name(name: &str) -> Result<(), FormatError> {
    let bad = |why: &str| {
        FormatError::Invalid(format!("'{name}' is not a valid npm package name: {why}"))
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(bad("it must have 1 to 214 characters"));
    }
    let part_ok = |part: &str| {
        !part.is_empty()
            && !part.starts_with(['.', '_'])
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    };
    match name.strip_prefix('@') {
        Some(scoped) => {
            let (scope, base) = scoped
                .split_once('/')
                .ok_or_else(|| bad("a scoped name is @scope/name"))?;
            if !part_ok(scope) || !part_ok(base) {
                return Err(bad(
                    "letters, digits, '-', '.', '_' and '~' only, not starting with '.' or '_'",
                ));
            }
        }
        None => {
            if !part_ok(name) {
                return Err(bad(
                    "letters, digits, '-', '.', '_' and '~' only, not starting with '.' or '_'",
                ));
            }
        }
    }
    Ok(())
}

/// The semver form of a version (`v1.2.3` and `=1.2.3` become `1.2.3`).
pub fn normalize_version(version: &str) -> Result<String, FormatError> {
    crate::format::check_version_len(version)?;
    let trimmed = version.trim().trim_start_matches(['v', '=']);
    semver::Version::parse(trimmed)
        .map(|v| v.to_string())
        .map_err(|e| FormatError::Invalid(format!("'{version}' is not a semver version: {e}")))
}

/// The name without its scope (`@scope/name` → `name`).
pub fn base_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The tarball's filename as npm names it: `name-1.0.0.tgz` (without the scope).
pub fn tarball_filename(name: &str, version: &str) -> String {
    format!("{}-{version}.tgz", base_name(name))
}

/// A licence from `license` (a string or a legacy `{type}` object) or a legacy `licenses`
/// array.
fn license(manifest: &Map<String, Value>) -> Option<String> {
    match manifest.get("license") {
        Some(Value::String(s)) => return Some(s.clone()),
        Some(Value::Object(o)) => {
            if let Some(t) = o.get("type").and_then(Value::as_str) {
                return Some(t.to_owned());
            }
        }
        _ => {}
    }
    let list: Vec<&str> = manifest
        .get("licenses")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(|l| l.get("type").and_then(Value::as_str).or_else(|| l.as_str()))
        .collect();
    (!list.is_empty()).then(|| list.join(" OR "))
}

/// `bin` as a map of command → path (a string `bin` is named after the package).
fn bin(name: &str, manifest: &Map<String, Value>) -> Option<Value> {
    match manifest.get("bin")? {
        Value::String(path) => {
            let mut map = Map::new();
            map.insert(base_name(name).to_owned(), Value::String(path.clone()));
            Some(Value::Object(map))
        }
        Value::Object(map) => Some(Value::Object(map.clone())),
        _ => None,
    }
}

/// Whether installing runs a script: `preinstall`, `install` or `postinstall`, or the
/// implicit `node-gyp rebuild` of a top-level `binding.gyp`.
fn has_install_script(manifest: &Map<String, Value>, has_binding_gyp: bool) -> bool {
    let scripts = manifest.get("scripts").and_then(Value::as_object);
    let has = |k: &str| scripts.is_some_and(|s| s.get(k).is_some_and(|v| v.is_string()));
    has("preinstall") || has("install") || has("postinstall") || has_binding_gyp
}

/// A map field, or an empty map.
fn map_field(manifest: &Map<String, Value>, key: &str) -> Value {
    match manifest.get(key) {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => Value::Object(Map::new()),
    }
}

/// What a tarball says about itself.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// The version document served in packuments (without `dist`).
    pub document: Map<String, Value>,
    /// The subset served in abbreviated packuments (without `dist`).
    pub abbreviated: Map<String, Value>,
    pub metadata: Value,
}

/// Reads and checks the `package.json` of a tarball.
pub fn read_manifest(content: &mut dyn crate::ReadSeek) -> Result<Manifest, FormatError> {
    let contents = tarball::read(content)?;
    let raw: Value = serde_json::from_slice(&contents.manifest)
        .map_err(|e| FormatError::Invalid(format!("package.json is not valid JSON: {e}")))?;
    let Value::Object(raw) = raw else {
        return Err(FormatError::Invalid(
            "package.json is not a JSON object".into(),
        ));
    };
    let name = raw
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| FormatError::Invalid("package.json has no name".into()))?
        .to_owned();
    validate_name(&name)?;
    let raw_version = raw
        .get("version")
        .and_then(Value::as_str)
        .ok_or_else(|| FormatError::Invalid("package.json has no version".into()))?;
    let version = normalize_version(raw_version)?;
    let install_script = has_install_script(&raw, contents.has_binding_gyp);
    let bin = bin(&name, &raw);
    // The registry keeps the manifest minus private (`_`-prefixed) fields and the readme,
    // and owns `dist` and `deprecated` itself.
    let mut document: Map<String, Value> = raw
        .iter()
        .filter(|(k, _)| {
            !k.starts_with('_')
                && !matches!(
                    k.as_str(),
                    "readme" | "readmeFilename" | "dist" | "deprecated"
                )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    document.insert("name".into(), Value::String(name.clone()));
    document.insert("version".into(), Value::String(version.clone()));
    if let Some(bin) = &bin {
        document.insert("bin".into(), bin.clone());
    }
    if install_script {
        document.insert("hasInstallScript".into(), Value::Bool(true));
    }
    let size = serde_json::to_vec(&document).map_or(usize::MAX, |v| v.len());
    if size > MAX_MANIFEST_JSON {
        return Err(FormatError::Invalid(format!(
            "package.json is larger than {MAX_MANIFEST_JSON} bytes without its readme"
        )));
    }
    let abbreviated: Map<String, Value> = ABBREVIATED_FIELDS
        .iter()
        .filter_map(|k| document.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    let metadata = serde_json::json!({
        "name": name,
        "version": version,
        "description": raw.get("description").and_then(Value::as_str),
        "license": license(&raw),
        "dependencies": map_field(&raw, "dependencies"),
        "dev_dependencies": map_field(&raw, "devDependencies"),
        "peer_dependencies": map_field(&raw, "peerDependencies"),
        "optional_dependencies": map_field(&raw, "optionalDependencies"),
        "bin": bin,
        "engines": raw.get("engines"),
        "has_install_script": install_script,
        "file_count": contents.file_count,
        "unpacked_size": contents.unpacked_size,
    });
    Ok(Manifest {
        name,
        version,
        document,
        abbreviated,
        metadata,
    })
}

static INFO: FormatInfo = FormatInfo {
    id: "npm",
    purl_type: "npm",
    vulnerability_ecosystem: Some("npm"),
    install: "npm install --registry {url}/npm/ {name}@{version}",
    download: None,
    bom_facts: Some(bom::facts),
};

impl Format for Npm {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    /// The identity lives in the tarball's `package.json`.
    fn declared_identity(&self, declared: &Declared) -> Result<Option<Identity>, FormatError> {
        crate::format::check_filename(&declared.filename, "an npm tarball")?;
        Ok(None)
    }

    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        let manifest = read_manifest(artifact.content)?;
        if let Some(want) = declared.name.as_deref().filter(|n| !n.is_empty()) {
            if want != manifest.name {
                return Err(FormatError::Invalid(format!(
                    "the publish names package '{want}' but the tarball's package.json says '{}'",
                    manifest.name
                )));
            }
        }
        if let Some(want) = declared.version.as_deref().filter(|v| !v.is_empty()) {
            if normalize_version(want).ok().as_deref() != Some(manifest.version.as_str()) {
                return Err(FormatError::Invalid(format!(
                    "the publish says version '{want}' but the tarball's package.json says '{}'",
                    manifest.version
                )));
            }
        }
        let mut metadata = manifest.metadata;
        metadata["manifest"] = Value::Object(manifest.document);
        metadata["abbreviated"] = Value::Object(manifest.abbreviated);
        Ok(Processed {
            identity: Identity {
                normalized_name: manifest.name.clone(),
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                qualifier: String::new(),
            },
            filename: tarball_filename(&manifest.name, &manifest.version),
            content_type: "application/gzip".into(),
            metadata,
            extra_files: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn checks_names_and_versions() -> Result<(), FormatError> {
        for good in [
            "lodash",
            "@babel/helper-plugin-utils",
            "a.b-c_d~e",
            "JSONStream",
        ] {
            validate_name(good)?;
        }
        for bad in [
            "", "@scope", "@/x", ".hidden", "_x", "a b", "a/b", "@s/../x", "é",
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_version("v1.2.3")?, "1.2.3");
        assert_eq!(normalize_version("1.0.0-beta.1+b")?, "1.0.0-beta.1+b");
        assert!(normalize_version("1.0").is_err());
        let long = format!("1.0.0-{}", "a".repeat(10_000));
        let err = normalize_version(&long).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("longer than 256") && e.len() < 200));
        assert_eq!(tarball_filename("@s/pkg", "1.0.0"), "pkg-1.0.0.tgz");
        Ok(())
    }

    fn run(declared: Declared, bytes: Vec<u8>) -> Result<Processed, FormatError> {
        let mut cursor = Cursor::new(bytes);
        Npm.process(
            &declared,
            Artifact {
                content: &mut cursor,
                size: 0,
                md5: "",
                sha1: "",
                sha256: "",
                sha512: "",
            },
        )
    }

    fn fixture(name: &str) -> Option<Vec<u8>> {
        std::fs::read(format!(
            "{}/../../../shared/fixtures/npm/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .ok()
    }

    #[test]
    fn reads_the_real_fixtures() -> Result<(), FormatError> {
        for (file, name, version) in [
            (
                "babel-helper-plugin-utils-7.10.4.tgz",
                "@babel/helper-plugin-utils",
                "7.10.4",
            ),
            ("lodash-4.17.15.tgz", "lodash", "4.17.15"),
            ("semver-7.5.1.tgz", "semver", "7.5.1"),
            ("ws-7.4.5.tgz", "ws", "7.4.5"),
        ] {
            let Some(bytes) = fixture(file) else {
                // The shared fixtures sit beside the repository; without them there is nothing to read.
                return Ok(());
            };
            let p = run(Declared::default(), bytes)?;
            assert_eq!(p.identity.name, name);
            assert_eq!(p.identity.version, version);
            assert_eq!(p.metadata["manifest"]["name"], name);
            assert!(p.metadata["manifest"].get("readme").is_none());
            assert!(p.metadata["file_count"].as_u64().unwrap_or(0) > 0);
        }
        if let Some(bytes) = fixture("semver-7.5.1.tgz") {
            assert_eq!(
                p_bin(bytes)?,
                serde_json::json!({"semver": "bin/semver.js"})
            );
        }
        Ok(())
    }

    fn p_bin(bytes: Vec<u8>) -> Result<Value, FormatError> {
        Ok(run(Declared::default(), bytes)?.metadata["bin"].clone())
    }

    #[test]
    fn a_disagreeing_declaration_is_refused() {
        let tgz = tarball::tests::tgz_with(|b| {
            tarball::tests::append(
                b,
                "package/package.json",
                br#"{"name":"pkg","version":"1.0.0","scripts":{"postinstall":"x"}}"#,
            );
        });
        let ok = run(Declared::default(), tgz.clone());
        assert!(ok.is_ok_and(|p| p.metadata["has_install_script"] == true
            && p.metadata["abbreviated"]["hasInstallScript"] == true));
        let name = run(
            Declared {
                name: Some("other".into()),
                ..Declared::default()
            },
            tgz.clone(),
        );
        assert!(matches!(name, Err(FormatError::Invalid(m)) if m.contains("'other'")));
        let version = run(
            Declared {
                version: Some("2.0.0".into()),
                ..Declared::default()
            },
            tgz,
        );
        assert!(matches!(version, Err(FormatError::Invalid(m)) if m.contains("2.0.0")));
    }
}
