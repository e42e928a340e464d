//! Packing a package directory into a dist zip for `gantry push composer REPO DIR`: the
//! directory's regular files at the zip's root (links and devices skipped), version-control
//! directories and the root `vendor/` (installed dependencies, not the package) left out, in
//! a stable order. The name comes from the directory's `composer.json`.

use std::fs;
use std::io::{Seek, Write};
use std::path::Path;

use super::archive::{MAX_ENTRIES, MAX_MANIFEST, MAX_UNPACKED};
use crate::archive::check_entry_name;
use crate::format::FormatError;
use gantry_formats::dir::{regular_files, Walked};

fn invalid(msg: impl Into<String>) -> FormatError {
    FormatError::Invalid(msg.into())
}

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
    let mut zip = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    let mut total = 0u64;
    for (name, size) in &files {
        total = total.saturating_add(*size);
        if total > MAX_UNPACKED {
            return Err(invalid(format!(
                "the package holds more than {MAX_UNPACKED} bytes"
            )));
        }
        zip.start_file(name.as_str(), options)
            .map_err(|e| invalid(format!("cannot write the zip: {e}")))?;
        let mut file = fs::File::open(dir.join(name))?;
        std::io::copy(&mut file, &mut zip)?;
    }
    zip.finish()
        .map_err(|e| invalid(format!("cannot write the zip: {e}")))?;
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
