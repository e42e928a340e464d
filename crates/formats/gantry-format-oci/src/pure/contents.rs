//! What an image has installed, read from its layers (bounded, through the toolkit's archive
//! reader) with whiteouts honoured: Python distributions (`*.dist-info/METADATA`) and npm
//! packages (`node_modules/**/package.json`).

use std::collections::BTreeMap;

use gantry_formats::archive::{self, Flow, Kind, TarLimits};
use gantry_formats::format::ReadSeek;
use gantry_formats::FormatError;

/// The bounds of one layer.
const LAYER_LIMITS: TarLimits = TarLimits {
    what: "image layer",
    max_entries: 500_000,
    max_stream: 8 * 1024 * 1024 * 1024,
};
/// Largest metadata file read.
const MAX_METADATA: u64 = 1024 * 1024;

/// An installed package found in a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The OSV ecosystem.
    pub ecosystem: &'static str,
    pub name: String,
    pub version: String,
    /// The layer (digest) and the path it was found at.
    pub layer: String,
    pub path: String,
}

/// What one layer holds that matters: packages and whiteouts.
#[derive(Debug, Default)]
pub struct Layer {
    found: Vec<(String, &'static str, String, String)>,
    /// Paths a whiteout removes from the layers below.
    removed: Vec<String>,
    /// Directories an opaque whiteout empties of what the layers below put there.
    emptied: Vec<String>,
}

/// Reads one gzip-compressed tar layer.
pub fn read_layer(content: &mut dyn ReadSeek) -> Result<Layer, FormatError> {
    let mut layer = Layer::default();
    archive::walk_tar_gz(content, LAYER_LIMITS, |entry| {
        let path = entry.path.trim_start_matches("./").to_owned();
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if file == ".wh..wh..opq" {
            layer.emptied.push(dir.to_owned());
        } else if let Some(hidden) = file.strip_prefix(".wh.") {
            layer.removed.push(join(dir, hidden));
        } else if entry.kind == Kind::File {
            let kind = if file == "METADATA" && dir.ends_with(".dist-info") {
                Some("PyPI")
            } else if file == "package.json" && is_node_module(dir) {
                Some("npm")
            } else {
                None
            };
            if let Some(ecosystem) = kind {
                // A file too large to be metadata is skipped, not fatal: the rest still counts.
                if let Ok(bytes) = entry.read_bounded(MAX_METADATA, "a metadata file") {
                    let parsed = match ecosystem {
                        "PyPI" => python_metadata(&bytes),
                        _ => npm_package(&bytes),
                    };
                    if let Some((name, version)) = parsed {
                        layer.found.push((path.clone(), ecosystem, name, version));
                    }
                }
            }
        }
        Ok(Flow::Continue)
    })?;
    Ok(layer)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// `…/node_modules/NAME` or `…/node_modules/@SCOPE/NAME`.
fn is_node_module(dir: &str) -> bool {
    let parts: Vec<&str> = dir.split('/').collect();
    match parts.as_slice() {
        [.., "node_modules", name] => !name.starts_with('@') && !name.starts_with('.'),
        [.., "node_modules", scope, _] => scope.starts_with('@'),
        _ => false,
    }
}

/// `Name:` and `Version:` from a core metadata file's headers.
fn python_metadata(bytes: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Name:") {
            name.get_or_insert_with(|| v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("Version:") {
            version.get_or_insert_with(|| v.trim().to_owned());
        }
    }
    Some((
        name.filter(|n| !n.is_empty())?,
        version.filter(|v| !v.is_empty())?,
    ))
}

fn npm_package(bytes: &[u8]) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    Some((
        v["name"].as_str()?.to_owned(),
        v["version"].as_str()?.to_owned(),
    ))
}

/// The file system an image's layers build, as far as installed packages go.
#[derive(Debug, Default)]
pub struct Image {
    installed: BTreeMap<String, Installed>,
}

impl Image {
    /// Applies the next layer (`digest`) on top of the ones before.
    pub fn apply(&mut self, digest: &str, layer: Layer) {
        let under = |path: &str, dir: &str| {
            dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
        };
        for dir in &layer.emptied {
            self.installed
                .retain(|path, _| !(under(path, dir) && path != dir));
        }
        for removed in &layer.removed {
            self.installed.retain(|path, _| !under(path, removed));
        }
        for (path, ecosystem, name, version) in layer.found {
            self.installed.insert(
                path.clone(),
                Installed {
                    ecosystem,
                    name,
                    version,
                    layer: digest.to_owned(),
                    path,
                },
            );
        }
    }

    pub fn installed(self) -> Vec<Installed> {
        self.installed.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_formats::archive::testing::{append, tar_gz_with};

    fn layer(files: &[(&str, &[u8])]) -> Layer {
        let bytes = tar_gz_with(|b| {
            for (path, body) in files {
                append(b, path, body);
            }
        });
        read_layer(&mut std::io::Cursor::new(bytes)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn packages_across_layers_with_whiteouts() {
        let meta = b"Metadata-Version: 2.1\nName: urllib3\nVersion: 1.24.1\n\nbody";
        let npm = br#"{"name": "left-pad", "version": "1.3.0"}"#;
        let site = "usr/lib/python3/site-packages";
        let mut image = Image::default();
        image.apply(
            "sha256:a",
            layer(&[
                (&format!("{site}/urllib3-1.24.1.dist-info/METADATA"), meta),
                ("app/node_modules/left-pad/package.json", npm),
                ("app/package.json", npm),
                (
                    "opt/x/requests-2.0.dist-info/METADATA",
                    b"Name: requests\nVersion: 2.0\n",
                ),
            ]),
        );
        image.apply(
            "sha256:b",
            layer(&[("opt/.wh.x", b""), ("app/node_modules/.wh..wh..opq", b"")]),
        );
        let installed = image.installed();
        assert_eq!(installed.len(), 1, "{installed:?}");
        assert_eq!(installed[0].name, "urllib3");
        assert_eq!(installed[0].version, "1.24.1");
        assert_eq!(installed[0].ecosystem, "PyPI");
        assert_eq!(installed[0].layer, "sha256:a");
    }

    #[test]
    fn scoped_npm_packages_and_bad_metadata() {
        let l = layer(&[
            (
                "n/node_modules/@s/p/package.json",
                br#"{"name": "@s/p", "version": "1.0.0"}"#,
            ),
            ("n/node_modules/q/package.json", b"not json"),
            ("x.dist-info/METADATA", b"Name: only-name\n"),
        ]);
        let mut image = Image::default();
        image.apply("sha256:c", l);
        let names: Vec<String> = image.installed().into_iter().map(|i| i.name).collect();
        assert_eq!(names, vec!["@s/p".to_owned()]);
    }
}
