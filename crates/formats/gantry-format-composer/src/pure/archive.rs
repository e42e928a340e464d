//! Dist zips, read bounded: every entry name checked with the shared archive rules (no
//! traversal, no control or invisible characters), links and devices refused, entry count and
//! unpacked size capped, every body inflated once against its declared size (a zip that lies
//! about its sizes, or inflates past the bound, is refused before it is stored), and the
//! `composer.json` at the package root kept. The root is the archive's top level, or its one
//! top-level directory when everything sits in one, as Composer unpacks dists.

use gantry_formats::zip_archive::{BoundedZip, ZipLimits};

use crate::format::{FormatError, ReadSeek};
use gantry_formats::format::invalid;

/// Largest dist zip.
pub const MAX_ZIP: u64 = 512 << 20;
/// Most bytes a dist's files may hold unpacked.
pub const MAX_UNPACKED: u64 = 1 << 30;
/// Most entries in one dist.
pub const MAX_ENTRIES: usize = 100_000;
/// Largest `composer.json`.
pub const MAX_MANIFEST: u64 = 1 << 20;

pub(super) const LIMITS: ZipLimits = ZipLimits {
    what: "the zip",
    max_size: MAX_ZIP,
    max_entries: MAX_ENTRIES,
    max_unpacked: MAX_UNPACKED,
};

/// What a checked dist holds.
#[derive(Debug, Clone)]
pub struct Dist {
    /// The `composer.json` bytes.
    pub manifest: Vec<u8>,
    pub files: usize,
    pub unpacked_size: u64,
}

/// The directory all entries share (`pkg-1.0/`), or `""` when files sit at the top.
fn root_of(names: &[&str]) -> String {
    let mut root: Option<&str> = None;
    for name in names {
        let Some((top, _)) = name.split_once('/') else {
            return String::new();
        };
        match root {
            None => root = Some(top),
            Some(r) if r == top => {}
            Some(_) => return String::new(),
        }
    }
    root.map(|r| format!("{r}/")).unwrap_or_default()
}

/// Checks a dist zip and reads its `composer.json`.
pub fn read(content: &mut dyn ReadSeek, size: u64) -> Result<Dist, FormatError> {
    let mut archive = BoundedZip::open(content, size, LIMITS)?;
    let listed = archive.list(|_| Ok(true))?;
    let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    let manifest_name = format!("{}composer.json", root_of(&names));
    let mut manifest = None;
    let mut files = 0;
    let mut unpacked_size = 0;
    for entry in listed.iter().filter(|e| !e.is_dir()) {
        if entry.name == manifest_name {
            if entry.size > MAX_MANIFEST {
                return Err(invalid(format!(
                    "composer.json is larger than {MAX_MANIFEST} bytes"
                )));
            }
            let mut body = Vec::new();
            archive.inflate(entry, &mut body)?;
            manifest = Some(body);
        } else {
            archive.inflate(entry, &mut std::io::sink())?;
        }
        files += 1;
        unpacked_size += entry.size;
    }
    let manifest = manifest.ok_or_else(|| {
        invalid("the zip has no composer.json at its root (nor in its one top-level directory)")
    })?;
    Ok(Dist {
        manifest,
        files,
        unpacked_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_one_top_directory() {
        assert_eq!(root_of(&["a/composer.json", "a/src/x.php"]), "a/");
        assert_eq!(root_of(&["composer.json", "src/x.php"]), "");
        assert_eq!(root_of(&["a/composer.json", "b/x"]), "");
        assert_eq!(root_of(&[]), "");
    }
}
