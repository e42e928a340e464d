//! What an image has installed, read from its layers (bounded, through the toolkit's archive
//! reader) with whiteouts honoured: distribution packages (dpkg's status and `status.d/`,
//! apk's database, with `os-release` naming the release) and language packages (Python
//! `*.dist-info/METADATA`, npm `node_modules/**/package.json`, RubyGems
//! `specifications/*.gemspec`, Composer `vendor/composer/installed.json`, Maven
//! `META-INF/maven/**/pom.properties` inside jars).

use std::collections::BTreeMap;

use gantry_formats::archive::{self, Flow, Kind, TarLimits};
use gantry_formats::format::ReadSeek;
use gantry_formats::FormatError;

use super::parsers::{self, Found, OsRelease, Source};

/// The bounds of one layer.
const LAYER_LIMITS: TarLimits = TarLimits {
    what: "image layer",
    max_entries: 500_000,
    max_stream: 8 * 1024 * 1024 * 1024,
};
/// Largest metadata file read (a package's own metadata).
const MAX_METADATA: u64 = 1024 * 1024;
/// Largest package database or lock-like list read (dpkg status, apk db, installed.json).
const MAX_DATABASE: u64 = 32 * 1024 * 1024;
/// Largest jar opened: it is held in memory to be read as a zip.
const MAX_JAR: u64 = 64 * 1024 * 1024;
/// Files of one layer that list packages; past it the rest of the layer is not looked at.
const MAX_FILES: usize = 100_000;

/// The places an installed package's metadata may sit (`/etc/os-release` is a link to
/// `/usr/lib/os-release` on many distributions, so both are read).
const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// An installed package found in a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The OSV ecosystem (`PyPI`, `Debian:12`, …).
    pub ecosystem: String,
    pub name: String,
    pub version: String,
    /// The layer (digest) and the path it was found at (`app.jar!/META-INF/…` inside a jar).
    pub layer: String,
    pub path: String,
}

/// What one layer holds that matters: packages, `os-release` files and whiteouts.
#[derive(Debug, Default)]
pub struct Layer {
    found: Vec<(String, Vec<Found>)>,
    os_release: Vec<(String, OsRelease)>,
    /// Paths a whiteout removes from the layers below.
    removed: Vec<String>,
    /// Directories an opaque whiteout empties of what the layers below put there.
    emptied: Vec<String>,
}

/// How a file of a layer is read, by its path.
#[derive(Debug, Clone, Copy)]
enum Reader {
    Bytes(u64, fn(&[u8]) -> Vec<Found>),
    /// The file name alone says what is installed.
    Name(fn(&str) -> Vec<Found>),
    OsRelease,
}

fn reader_for(path: &str, dir: &str, file: &str) -> Option<Reader> {
    Some(if file == "METADATA" && dir.ends_with(".dist-info") {
        Reader::Bytes(MAX_METADATA, parsers::python_metadata)
    } else if file == "package.json" && is_node_module(dir) {
        Reader::Bytes(MAX_METADATA, parsers::npm_package)
    } else if path == "var/lib/dpkg/status" || dir == "var/lib/dpkg/status.d" {
        // `status.d/` also holds `*.md5sums` lists next to each package's control file.
        if file.ends_with(".md5sums") {
            return None;
        }
        Reader::Bytes(MAX_DATABASE, parsers::dpkg_status)
    } else if path == "lib/apk/db/installed" {
        Reader::Bytes(MAX_DATABASE, parsers::apk_installed)
    } else if file.ends_with(".gemspec")
        && (dir == "specifications" || dir.ends_with("/specifications"))
    {
        Reader::Name(parsers::gemspec_file)
    } else if file == "installed.json"
        && (dir == "vendor/composer" || dir.ends_with("/vendor/composer"))
    {
        Reader::Bytes(MAX_DATABASE, parsers::composer_installed)
    } else if file.ends_with(".jar") {
        Reader::Bytes(MAX_JAR, parsers::jar_artifacts)
    } else if OS_RELEASE.contains(&path) {
        Reader::OsRelease
    } else {
        return None;
    })
}

/// How a layer's tar stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Uncompressed,
}

impl Compression {
    /// From a layer's media type (OCI `…tar`, `…tar+gzip`, `…tar+zstd`, their
    /// non-distributable variants, Docker's `…rootfs.diff.tar[.gzip]`); `None` for a blob
    /// that is not a tar layer (an artifact's payload).
    pub fn of_media_type(media_type: &str) -> Option<Self> {
        let media_type = media_type.trim();
        if media_type.ends_with("tar+gzip") || media_type.ends_with(".tar.gzip") {
            Some(Compression::Gzip)
        } else if media_type.ends_with("tar+zstd") || media_type.ends_with(".tar.zstd") {
            Some(Compression::Zstd)
        } else if media_type.ends_with(".tar") {
            Some(Compression::Uncompressed)
        } else {
            None
        }
    }
}

/// Reads one tar layer compressed as `compression`. The decompressed stream is bounded by
/// the layer limits; a zstd frame may not ask for more than the decoder's default window
/// (128 MiB), so a hostile frame cannot make it allocate more.
pub fn read_layer(
    content: &mut dyn ReadSeek,
    compression: Compression,
) -> Result<Layer, FormatError> {
    let mut layer = Layer::default();
    let mut files = 0usize;
    let visit = |entry: &mut archive::Entry<'_>| {
        let path = entry.path.trim_start_matches("./").to_owned();
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if file == ".wh..wh..opq" {
            layer.emptied.push(dir.to_owned());
            return Ok(Flow::Continue);
        }
        if let Some(hidden) = file.strip_prefix(".wh.") {
            layer.removed.push(join(dir, hidden));
            return Ok(Flow::Continue);
        }
        let reader = match entry.kind {
            Kind::File => reader_for(&path, dir, file),
            _ => None,
        };
        let Some(reader) = reader else {
            return Ok(Flow::Continue);
        };
        files += 1;
        if files > MAX_FILES {
            return Ok(Flow::Stop);
        }
        // A file too large to be what it claims is skipped, not fatal: the rest still counts.
        let found = match reader {
            Reader::Name(parse) => parse(file),
            Reader::Bytes(max, parse) => entry
                .read_bounded(max, "a package metadata file")
                .map(|bytes| parse(&bytes))
                .unwrap_or_default(),
            Reader::OsRelease => {
                if let Ok(bytes) = entry.read_bounded(MAX_METADATA, "os-release") {
                    layer
                        .os_release
                        .push((path.clone(), OsRelease::parse(&bytes)));
                }
                return Ok(Flow::Continue);
            }
        };
        if !found.is_empty() {
            layer.found.push((path.clone(), found));
        }
        Ok(Flow::Continue)
    };
    match compression {
        Compression::Gzip => archive::walk_tar_gz(content, LAYER_LIMITS, visit)?,
        Compression::Uncompressed => archive::walk_tar(content, LAYER_LIMITS, visit)?,
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(content)
                .map_err(|e| FormatError::Invalid(format!("not a valid zstd image layer: {e}")))?;
            archive::walk_tar(&mut decoder, LAYER_LIMITS, visit)?;
        }
    }
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

/// The file system an image's layers build, as far as installed packages go.
#[derive(Debug, Default)]
pub struct Image {
    /// By path: what the file lists, and the layer that put it there.
    files: BTreeMap<String, (String, Vec<Found>)>,
    os_release: BTreeMap<String, OsRelease>,
}

/// Drops from `map` what the layer's whiteouts remove.
fn whiteout<V>(map: &mut BTreeMap<String, V>, layer: &Layer) {
    let under = |path: &str, dir: &str| {
        dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
    };
    for dir in &layer.emptied {
        map.retain(|path, _| !(under(path, dir) && path != dir));
    }
    for removed in &layer.removed {
        map.retain(|path, _| !under(path, removed));
    }
}

impl Image {
    /// Applies the next layer (`digest`) on top of the ones before.
    pub fn apply(&mut self, digest: &str, layer: Layer) {
        whiteout(&mut self.files, &layer);
        whiteout(&mut self.os_release, &layer);
        for (path, found) in layer.found {
            self.files.insert(path, (digest.to_owned(), found));
        }
        self.os_release.extend(layer.os_release);
    }

    /// Everything installed. Distribution packages get their ecosystem from `os-release`;
    /// without one that names Debian or Alpine and a release, they are left out, since
    /// their advisories are per release.
    pub fn installed(self) -> Vec<Installed> {
        let release = OS_RELEASE
            .iter()
            .find_map(|p| self.os_release.get(*p))
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::new();
        for (path, (layer, found)) in self.files {
            for f in found {
                let ecosystem = match f.source {
                    Source::Language(e) => Some(e.to_owned()),
                    source => release.ecosystem(source),
                };
                let Some(ecosystem) = ecosystem else {
                    continue;
                };
                out.push(Installed {
                    ecosystem,
                    name: f.name,
                    version: f.version,
                    layer: layer.clone(),
                    path: match &f.detail {
                        Some(inner) => format!("{path}!/{inner}"),
                        None => path.clone(),
                    },
                });
            }
        }
        out
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
        read_layer(&mut std::io::Cursor::new(bytes), Compression::Gzip)
            .unwrap_or_else(|e| panic!("{e}"))
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

    #[test]
    fn os_packages_take_their_release_from_os_release() {
        let status = b"Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n";
        let mut image = Image::default();
        image.apply(
            "sha256:a",
            layer(&[
                ("usr/lib/os-release", b"ID=debian\nVERSION_ID=\"12\"\n"),
                ("var/lib/dpkg/status", status),
                (
                    "var/lib/dpkg/status.d/tzdata",
                    b"Package: tzdata\nVersion: 2024a-0+deb12u1\n",
                ),
                (
                    "var/lib/dpkg/status.d/tzdata.md5sums",
                    b"Package: x\nVersion: 1\n",
                ),
                ("lib/apk/db/installed", b"P:musl\nV:1.2.4-r2\n"),
                ("srv/gems/specifications/rack-2.2.3.gemspec", b"ignored"),
            ]),
        );
        let installed = image.installed();
        let got: Vec<(String, String, String)> = installed
            .iter()
            .map(|i| (i.ecosystem.clone(), i.name.clone(), i.path.clone()))
            .collect();
        // apk packages on a Debian image have no ecosystem to be matched in.
        assert_eq!(
            got,
            vec![
                (
                    "RubyGems".into(),
                    "rack".into(),
                    "srv/gems/specifications/rack-2.2.3.gemspec".into()
                ),
                (
                    "Debian:12".into(),
                    "openssl".into(),
                    "var/lib/dpkg/status".into()
                ),
                (
                    "Debian:12".into(),
                    "tzdata".into(),
                    "var/lib/dpkg/status.d/tzdata".into()
                ),
            ]
        );
        // Without os-release, distribution packages are left out.
        let mut bare = Image::default();
        bare.apply("sha256:b", layer(&[("var/lib/dpkg/status", status)]));
        assert!(bare.installed().is_empty());
        // A whiteout of os-release takes the release away too.
        let mut removed = Image::default();
        removed.apply(
            "sha256:a",
            layer(&[
                ("etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
                ("var/lib/dpkg/status", status),
            ]),
        );
        removed.apply("sha256:b", layer(&[("etc/.wh.os-release", b"")]));
        assert!(removed.installed().is_empty());
    }
}
