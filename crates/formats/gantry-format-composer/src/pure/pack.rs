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
    let mut files = Vec::new();
    collect(dir, "", &mut files)?;
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

/// The package's files below `rel` (slash-separated, sorted), with their sizes.
fn collect(root: &Path, rel: &str, out: &mut Vec<(String, u64)>) -> Result<(), FormatError> {
    let here = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries: Vec<_> = fs::read_dir(&here)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| invalid(format!("file name {n:?} is not UTF-8")))?;
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            let skipped = matches!(name.as_str(), ".git" | ".hg" | ".svn" | ".bzr")
                || (rel.is_empty() && name == "vendor");
            if !skipped {
                collect(root, &path, out)?;
            }
        } else if kind.is_file() {
            check_entry_name(&path)?;
            out.push((path, entry.metadata()?.len()));
            if out.len() > MAX_ENTRIES {
                return Err(invalid(format!(
                    "the package has more than {MAX_ENTRIES} files"
                )));
            }
        }
    }
    Ok(())
}
