//! A `.nupkg` (or `.snupkg`) is a zip archive with one `.nuspec` at its root. Every entry is
//! checked before anything is read: names that escape the archive or hide their form, links
//! and devices are refused, entry counts and the declared unpacked size are capped (a zip
//! bomb is refused on its central directory), and only the `.nuspec` is decompressed, up to
//! its bound.

use std::io::Read;

use crate::format::{FormatError, ReadSeek};
use gantry_formats::archive::{check_entry_name, quote};
use gantry_formats::format::invalid;

/// Most entries in one package.
pub const MAX_ENTRIES: usize = 65_536;
/// Most bytes a package may unpack to (its entries' declared sizes).
pub const MAX_UNPACKED: u64 = 8 << 30;

/// The checked archive's `.nuspec`, its entry name and bytes.
pub fn nuspec_of(content: &mut dyn ReadSeek) -> Result<(String, Vec<u8>), FormatError> {
    let mut archive = zip::ZipArchive::new(content)
        .map_err(|e| invalid(format!("not a valid .nupkg (zip) archive: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(invalid(format!(
            "the package has more than {MAX_ENTRIES} entries"
        )));
    }
    let mut unpacked = 0u64;
    let mut nuspec = None;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| invalid(format!("not a valid .nupkg (zip) archive: {e}")))?;
        let name = entry.name().to_owned();
        check_entry_name(&name)?;
        let file_type = entry.unix_mode().map_or(0, |mode| mode & 0o170_000);
        if entry.is_symlink() || !matches!(file_type, 0 | 0o100_000 | 0o040_000) {
            return Err(invalid(format!(
                "package entry '{}' is neither a file nor a directory",
                quote(&name)
            )));
        }
        unpacked = unpacked.saturating_add(entry.size());
        if unpacked > MAX_UNPACKED {
            return Err(invalid(format!(
                "the package unpacks to more than {MAX_UNPACKED} bytes"
            )));
        }
        if !name.contains('/') && name.to_ascii_lowercase().ends_with(".nuspec") {
            if nuspec.is_some() {
                return Err(invalid("the package has more than one .nuspec at its root"));
            }
            nuspec = Some((index, name, entry.size()));
        }
    }
    let (index, name, size) =
        nuspec.ok_or_else(|| invalid("the package has no .nuspec at its root"))?;
    if size > super::nuspec::MAX_NUSPEC {
        return Err(invalid(format!(
            "{} is larger than {} bytes",
            quote(&name),
            super::nuspec::MAX_NUSPEC
        )));
    }
    let entry = archive
        .by_index(index)
        .map_err(|e| invalid(format!("cannot read {}: {e}", quote(&name))))?;
    let mut bytes = Vec::new();
    entry
        .take(super::nuspec::MAX_NUSPEC + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| invalid(format!("cannot read {}: {e}", quote(&name))))?;
    if bytes.len() as u64 != size {
        return Err(invalid(format!(
            "{} does not hold the {size} bytes its header declares",
            quote(&name)
        )));
    }
    Ok((name, bytes))
}
