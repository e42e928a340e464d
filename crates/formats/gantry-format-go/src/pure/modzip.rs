//! Module zips, checked by the rules the go command applies to what a proxy serves: every
//! entry under `path@version/`, file paths made of safe elements, no two names equal but for
//! case, `go.mod` only at the root, no files of vendored packages, bounded sizes; and the
//! `h1:` checksum (`go.sum`'s SHA-256 "dirhash") of the zip and of its `go.mod`.

use std::collections::HashMap;
use std::io::Write;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::path::{check_element, check_path, Kind};
use super::version::Version;
use crate::archive::{check_entry_name, quote};
use crate::format::{FormatError, ReadSeek};
use gantry_formats::format::invalid;
use gantry_formats::zip_archive::{BoundedZip, ZipEntry, ZipLimits};

/// Largest module zip, and the most its files may hold unpacked (the go command's bound).
pub const MAX_ZIP: u64 = 500 << 20;
/// Largest `go.mod` and `LICENSE` (the go command's bounds).
pub const MAX_GO_MOD: u64 = 16 << 20;
pub const MAX_LICENSE: u64 = 16 << 20;
/// Most entries in one module zip.
pub const MAX_ENTRIES: usize = 100_000;

pub(super) const LIMITS: ZipLimits = ZipLimits {
    what: "module zip",
    max_size: MAX_ZIP,
    max_entries: MAX_ENTRIES,
    max_unpacked: MAX_ZIP,
};

/// What a checked module zip holds.
#[derive(Debug, Clone)]
pub struct ModuleZip {
    pub path: String,
    pub version: Version,
    /// The root `go.mod`, when the module has one.
    pub go_mod: Option<Vec<u8>>,
    /// `h1:` of the zip, as `go.sum` records it.
    pub h1: String,
    pub files: usize,
    pub unpacked_size: u64,
}

/// Whether a file belongs to a vendored package (a file below `vendor/x/`), which module
/// zips never hold. The second form keeps the go command's historical offset for nested
/// `vendor` directories, so both agree on which files count.
pub fn is_vendored_package(name: &str) -> bool {
    let start = if name.starts_with("vendor/") {
        "vendor/".len()
    } else if name.contains("/vendor/") {
        "/vendor/".len()
    } else {
        return false;
    };
    name.get(start..).is_some_and(|rest| rest.contains('/'))
}

/// Checks a file path inside a module (without the `path@version/` prefix).
pub fn check_file_path(name: &str) -> Result<(), FormatError> {
    let bad = |why: String| invalid(format!("file '{}' in the module zip: {why}", quote(name)));
    check_entry_name(name)?;
    for elem in name.split('/') {
        check_element(elem, Kind::File).map_err(bad)?;
    }
    Ok(())
}

/// `path@version/`, taken from the first entry.
fn split_prefix(first: &str) -> Result<(String, String), FormatError> {
    let at = first
        .find('@')
        .ok_or_else(|| invalid("module zip entries must start with module@version/"))?;
    let slash = first[at..]
        .find('/')
        .map(|i| i + at)
        .ok_or_else(|| invalid("module zip entries must start with module@version/"))?;
    Ok((first[..at].to_owned(), first[at + 1..slash].to_owned()))
}

/// Names equal but for case collide on case-insensitive file systems; a file may not share
/// a name with a directory either.
#[derive(Default)]
struct Collisions {
    seen: HashMap<String, (bool, String)>,
}

impl Collisions {
    fn check(&mut self, name: &str, is_dir: bool) -> Result<(), FormatError> {
        let folded = name.to_lowercase();
        if let Some((was_dir, other)) = self.seen.get(&folded) {
            if *was_dir && is_dir {
                return Ok(());
            }
            return Err(invalid(format!(
                "module zip has two entries for '{}' (with '{}'), equal but for case or kind",
                quote(name),
                quote(other)
            )));
        }
        self.seen.insert(folded, (is_dir, name.to_owned()));
        if let Some((parent, _)) = name.rsplit_once('/') {
            self.check(parent, true)?;
        }
        Ok(())
    }
}

/// Checks a module zip and computes its `h1:` checksum. Only entry headers are read in the
/// first pass; file bodies are read once each, bounded by their declared sizes, to hash them.
pub fn read(content: &mut dyn ReadSeek, size: u64) -> Result<ModuleZip, FormatError> {
    let mut archive = BoundedZip::open(content, size, LIMITS)?;
    if archive.is_empty() {
        return Err(invalid("module zip is empty"));
    }
    let (path, version_text) = split_prefix(&archive.raw_name(0)?)?;
    check_path(&path)?;
    let version = Version::parse(&version_text)?;
    version.check_path_major(&path)?;
    let prefix = format!("{path}@{version_text}/");
    let listed = list_entries(&mut archive, &prefix)?;
    let mut sums: Vec<(String, String)> = Vec::with_capacity(listed.len());
    let mut go_mod = None;
    let mut files = 0;
    let mut unpacked_size = 0;
    let go_mod_name = format!("{prefix}go.mod");
    for entry in &listed {
        let mut hashed = Hashed::new(entry.name == go_mod_name);
        archive.inflate(entry, &mut hashed)?;
        if let Some(body) = hashed.body.take() {
            go_mod = Some(body);
        }
        if !entry.is_dir() {
            files += 1;
            unpacked_size += entry.size;
        }
        sums.push((entry.name.clone(), hex::encode(hashed.hasher.finalize())));
    }
    if version.incompatible() && go_mod.is_some() {
        return Err(invalid(format!(
            "version {} is +incompatible, but the module has a go.mod file",
            quote(version.as_str())
        )));
    }
    if let Some(declared) = go_mod.as_deref().map(String::from_utf8_lossy) {
        check_module_directive(&declared, &path)?;
    }
    Ok(ModuleZip {
        path,
        version,
        go_mod,
        h1: hash1(sums),
        files,
        unpacked_size,
    })
}

/// The first pass: names, kinds and declared sizes of every entry, checked by the rules of
/// module zips.
fn list_entries(archive: &mut BoundedZip<'_>, prefix: &str) -> Result<Vec<ZipEntry>, FormatError> {
    let mut collisions = Collisions::default();
    archive.list(|entry| {
        let full = &entry.name;
        let name = full
            .strip_prefix(prefix)
            .ok_or_else(|| invalid(format!("'{}' is not under {}", quote(full), quote(prefix))))?;
        if name.is_empty() {
            return Ok(false);
        }
        let is_dir = name.ends_with('/');
        let clean = name.strip_suffix('/').unwrap_or(name);
        check_file_path(clean)?;
        collisions.check(clean, is_dir)?;
        if !is_dir {
            check_file(clean, entry.size)?;
        }
        Ok(!is_dir)
    })
}

/// The rules for one file of a module.
fn check_file(name: &str, size: u64) -> Result<(), FormatError> {
    let base = name.rsplit('/').next().unwrap_or(name);
    if base == "go.mod" && name != "go.mod" {
        return Err(invalid(format!(
            "'{}': a go.mod below the module root belongs to another module",
            quote(name)
        )));
    }
    if is_vendored_package(name) {
        return Err(invalid(format!(
            "'{}' is a file of a vendored package",
            quote(name)
        )));
    }
    if name == "go.mod" && size > MAX_GO_MOD {
        return Err(invalid(format!("go.mod is larger than {MAX_GO_MOD} bytes")));
    }
    if name == "LICENSE" && size > MAX_LICENSE {
        return Err(invalid(format!(
            "LICENSE is larger than {MAX_LICENSE} bytes"
        )));
    }
    Ok(())
}

/// The `go.mod` must declare the module it is published as.
pub fn check_module_directive(go_mod: &str, path: &str) -> Result<(), FormatError> {
    match super::gomod::module_path(go_mod) {
        Some(declared) if declared == path => Ok(()),
        Some(declared) => Err(invalid(format!(
            "go.mod declares module {}, not {}",
            quote(&declared),
            quote(path)
        ))),
        None => Err(invalid("go.mod has no module directive")),
    }
}

/// A body's SHA-256, and the body itself when it is kept.
struct Hashed {
    hasher: Sha256,
    body: Option<Vec<u8>>,
}

impl Hashed {
    fn new(keep: bool) -> Self {
        Self {
            hasher: Sha256::new(),
            body: keep.then(Vec::new),
        }
    }
}

impl Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(buf);
        if let Some(body) = &mut self.body {
            body.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The go command's "Hash1": SHA-256 over the sorted lines `"<sha256 hex>  <name>\n"`,
/// base64-encoded with the `h1:` prefix.
pub fn hash1(mut sums: Vec<(String, String)>) -> String {
    sums.sort();
    let mut summary = Sha256::new();
    for (name, digest) in &sums {
        summary.update(format!("{digest}  {name}\n"));
    }
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(summary.finalize())
    )
}

/// `h1:` of a `go.mod`, as `go.sum`'s `/go.mod` lines record it.
pub fn go_mod_hash(go_mod: &[u8]) -> String {
    hash1(vec![("go.mod".into(), hex::encode(Sha256::digest(go_mod)))])
}

#[cfg(test)]
mod tests;
