//! Another apt repository's `Release` and `Packages` read back into what Gantry lists: the
//! upstream side of a repository. Bounded (sizes by the caller, indexes, paragraphs and
//! packages here); a paragraph that does not describe a well-named `.deb` inside the upstream
//! is left out rather than failing the whole index.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::control;
use super::index::IndexEntry;

/// Most packages taken from one upstream distribution.
pub const MAX_PACKAGES: usize = 200_000;
/// Most `Packages` indexes (component × architecture) read from one distribution.
pub const MAX_INDEXES: usize = 64;
/// Longest `Filename` taken.
const MAX_FILENAME: usize = 512;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RemoteError(pub String);

/// An index a `Release` names: its path under `dists/<dist>/`, size and sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRef {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// What a distribution's `Release` says: its components and architectures, and the
/// `Packages` index to read for each pair (the first of `.gz`, `.xz`, plain it lists).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    pub indexes: Vec<(String, String, IndexRef)>,
}

/// A package an upstream lists: its name and version, and its index entry as the upstream's
/// `Packages` gives it (`filename` is the upstream's `Filename`, relative to its base URL;
/// the checksums are the upstream's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteDeb {
    pub name: String,
    pub version: String,
    pub entry: IndexEntry,
}

impl RemoteDeb {
    /// The `.deb`'s file name, the last segment of its upstream path.
    pub fn basename(&self) -> &str {
        let path = &self.entry.filename;
        path.rsplit('/').next().unwrap_or(path)
    }
}

fn bad<T>(message: impl Into<String>) -> Result<T, RemoteError> {
    Err(RemoteError(message.into()))
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads a `Release` (or the signed text of an `InRelease`): the `Packages` indexes of its
/// components and architectures, with the sha256 each must have.
pub fn parse_release(text: &str) -> Result<Release, RemoteError> {
    let mut components = Vec::new();
    let mut architectures = Vec::new();
    let mut sha256: BTreeMap<String, IndexRef> = BTreeMap::new();
    let mut in_sha256 = false;
    for line in text.lines() {
        if let Some(entry) = line.strip_prefix(' ') {
            if in_sha256 {
                let parts: Vec<&str> = entry.split_whitespace().collect();
                if let [hash, size, path] = parts[..] {
                    if is_hex(hash, 64) && sha256.len() < 100_000 {
                        let size = size.parse().unwrap_or(u64::MAX);
                        let index = IndexRef {
                            path: path.to_owned(),
                            size,
                            sha256: hash.to_ascii_lowercase(),
                        };
                        sha256.insert(path.to_owned(), index);
                    }
                }
            }
            continue;
        }
        in_sha256 = false;
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let words = || -> Vec<String> { value.split_whitespace().map(str::to_owned).collect() };
        match key {
            "Components" => components = words(),
            "Architectures" => architectures = words(),
            "SHA256" => in_sha256 = true,
            _ => {}
        }
    }
    if sha256.is_empty() {
        return bad("the Release lists no SHA256 checksums");
    }
    let mut indexes = Vec::new();
    for component in &components {
        // `updates/main` names a component below a directory; taken as written.
        if component
            .split('/')
            .any(|part| control::check_suite_name("component", part).is_err())
        {
            continue;
        }
        for arch in architectures.iter().filter(|a| *a != "source") {
            if control::check_architecture(arch).is_err() {
                continue;
            }
            let base = format!("{component}/binary-{arch}/Packages");
            let found = ["gz", "xz"]
                .iter()
                .map(|ext| format!("{base}.{ext}"))
                .chain(std::iter::once(base.clone()))
                .find_map(|path| sha256.get(&path).cloned());
            if let Some(index) = found {
                if indexes.len() >= MAX_INDEXES {
                    return bad(format!(
                        "the Release names more than {MAX_INDEXES} Packages indexes"
                    ));
                }
                indexes.push((component.clone(), arch.clone(), index));
            }
        }
    }
    Ok(Release { indexes })
}

/// The text signed in an `InRelease`, or the text itself when it is not clear-signed.
pub fn signed_text(text: &str) -> &str {
    const BEGIN: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
    const SIGNATURE: &str = "\n-----BEGIN PGP SIGNATURE-----";
    let Some(rest) = text.trim_start().strip_prefix(BEGIN) else {
        return text;
    };
    // Armor headers (`Hash: SHA512`) end at the first empty line.
    let body = rest.split_once("\n\n").map_or("", |(_, body)| body);
    body.split_once(SIGNATURE)
        .map_or(body, |(signed, _)| signed)
}

/// Whether an upstream `Filename` is a `.deb` inside the upstream: relative, no `..`, no
/// scheme, plain path characters.
fn filename_ok(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_FILENAME
        && path.ends_with(".deb")
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && path.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_' | b'+' | b'~' | b'%')
        })
}

/// One paragraph's package, or `None` when it is not one Gantry can list.
fn package(paragraph: &str, component: &str) -> Option<RemoteDeb> {
    let mut raw: Vec<(&str, &str)> = Vec::new();
    for line in paragraph.lines() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let (key, value) = line.split_once(':')?;
        raw.push((key, value.trim()));
    }
    let get = |name: &str| {
        raw.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| (*v).to_owned())
    };
    let filename = get("Filename")?;
    let sha256 = get("SHA256")?.to_ascii_lowercase();
    let size: i64 = get("Size")?.parse().ok()?;
    if !filename_ok(&filename) || !is_hex(&sha256, 64) || size < 0 {
        return None;
    }
    let parsed = control::parse(paragraph.as_bytes()).ok()?;
    Some(RemoteDeb {
        name: parsed.package().to_owned(),
        version: parsed.version().to_owned(),
        entry: IndexEntry {
            architecture: parsed.architecture().to_owned(),
            control: parsed.fields,
            filename,
            size,
            md5: get("MD5sum").filter(|h| is_hex(h, 32)).unwrap_or_default(),
            sha1: get("SHA1").filter(|h| is_hex(h, 40)).unwrap_or_default(),
            sha256,
            sha512: get("SHA512").filter(|h| is_hex(h, 128)).unwrap_or_default(),
            components: vec![component.to_owned()],
        },
    })
}

/// Adds the packages of one `Packages` text of `component` to `out`; a package already
/// there (an `all` package read from each architecture's index, or one listed in several
/// components) gains the component.
pub fn add_packages(
    text: &str,
    component: &str,
    out: &mut Vec<RemoteDeb>,
    seen: &mut BTreeMap<(String, String, String), usize>,
) -> Result<(), RemoteError> {
    for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let Some(deb) = package(paragraph.trim_start_matches('\n'), component) else {
            continue;
        };
        let identity = (
            deb.name.clone(),
            deb.version.clone(),
            deb.entry.architecture.clone(),
        );
        if let Some(&at) = seen.get(&identity) {
            let listed = &mut out[at].entry;
            if !listed.components.iter().any(|c| c == component) {
                listed.components.push(component.to_owned());
            }
            continue;
        }
        if out.len() >= MAX_PACKAGES {
            return bad(format!(
                "the upstream lists more than {MAX_PACKAGES} packages"
            ));
        }
        seen.insert(identity, out.len());
        out.push(deb);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn release_names_one_index_per_component_and_architecture() -> Result<(), RemoteError> {
        let text = format!(
            "Origin: mirror\nCodename: bookworm\nArchitectures: amd64 source\nComponents: main ../x\n\
             MD5Sum:\n 0123 10 main/binary-amd64/Packages\nSHA256:\n {SUM} 10 main/binary-amd64/Packages\n \
             {SUM} 5 main/binary-amd64/Packages.gz\n {SUM} 5 ../x/binary-amd64/Packages.gz\n"
        );
        let release = parse_release(&text)?;
        assert_eq!(release.indexes.len(), 1);
        let (component, arch, index) = &release.indexes[0];
        assert_eq!((component.as_str(), arch.as_str()), ("main", "amd64"));
        assert_eq!(index.path, "main/binary-amd64/Packages.gz");
        assert_eq!(index.size, 5);
        assert!(parse_release("Components: main\n").is_err());
        Ok(())
    }

    #[test]
    fn inrelease_signed_text() {
        let text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nCodename: x\n\
                    -----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n";
        assert_eq!(signed_text(text), "Codename: x");
        assert_eq!(signed_text("Codename: y\n"), "Codename: y\n");
    }

    #[test]
    fn packages_skip_what_cannot_be_listed_and_merge_components() -> Result<(), RemoteError> {
        let stanza = |name: &str, filename: &str| {
            format!(
                "Package: {name}\nVersion: 1.0\nArchitecture: all\nDescription: d\n more\n\
                 Filename: {filename}\nSize: 3\nSHA256: {SUM}\n\n"
            )
        };
        let text = [
            stanza("hello", "pool/main/h/hello/hello_1.0_all.deb"),
            stanza("evil", "../../etc/passwd.deb"),
            stanza("abs", "/pool/abs_1.0_all.deb"),
            stanza("Bad_Name", "pool/b.deb"),
            "Package: nofile\nVersion: 1\nArchitecture: all\n\n".to_owned(),
        ]
        .concat();
        let (mut out, mut seen) = (Vec::new(), BTreeMap::new());
        add_packages(&text, "main", &mut out, &mut seen)?;
        add_packages(&text, "contrib", &mut out, &mut seen)?;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "hello");
        assert_eq!(out[0].entry.components, ["main", "contrib"]);
        assert_eq!(out[0].basename(), "hello_1.0_all.deb");
        assert!(out[0]
            .entry
            .control
            .iter()
            .all(|(k, _)| k != "Filename" && k != "SHA256"));
        assert!(out[0].entry.md5.is_empty());
        Ok(())
    }
}
