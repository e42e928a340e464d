//! Packing a package directory into a dist zip for `gantry push composer REPO DIR`: the
//! directory's regular files at the zip's root (links and devices skipped), version-control
//! directories and the root `vendor/` (installed dependencies, not the package) left out, in
//! a stable order. The name comes from the directory's `composer.json`.

use std::fs;
use std::io::{Seek, Write};
use std::path::Path;

use super::archive::{LIMITS, MAX_ENTRIES, MAX_MANIFEST};
use crate::archive::check_entry_name;
use crate::format::FormatError;
use gantry_formats::dir::{regular_files, Walked};
use gantry_formats::format::invalid;
use gantry_formats::zip_archive::{write_zip, ZipLimits};

/// What was packed: the package's name and the version to declare, if any is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub name: String,
    pub version: Option<String>,
}

/// Packs the package in `dir` into `out`.
pub fn pack_dir(dir: &Path, out: &mut (impl Write + Seek)) -> Result<Packed, FormatError> {
    let manifest_path = dir.join("composer.json");
    if !manifest_path.is_file() {
        return Err(invalid(format!("{} has no composer.json", dir.display())));
    }
    if fs::metadata(&manifest_path)?.len() > MAX_MANIFEST {
        return Err(invalid(format!(
            "composer.json is larger than {MAX_MANIFEST} bytes"
        )));
    }
    let manifest = super::manifest::parse(&fs::read(&manifest_path)?)?;
    let files = collect(dir)?;
    let limits = ZipLimits {
        what: "the package",
        ..LIMITS
    };
    write_zip(dir, &files, "", limits, |_, _| Ok(()), out)?;
    Ok(Packed {
        name: manifest.name,
        version: manifest.version,
    })
}

/// The package's files, sorted, with their sizes.
fn collect(root: &Path) -> Result<Vec<(String, u64)>, FormatError> {
    let keep = |path: &str, _: &Path, kind: Walked| match kind {
        Walked::Dir => Ok(!(matches!(
            path.rsplit('/').next(),
            Some(".git" | ".hg" | ".svn" | ".bzr")
        ) || path == "vendor")),
        Walked::File => check_entry_name(path).map(|()| true),
    };
    regular_files(root, MAX_ENTRIES, &keep)
}
