//! A `.nupkg` (or `.snupkg`) is a zip archive with one `.nuspec` at its root. Every entry is
//! checked before anything is read: names that escape the archive or hide their form, links
//! and devices are refused, entry counts and the declared unpacked size are capped (a zip
//! bomb is refused on its central directory), and only the `.nuspec` is decompressed, up to
//! its bound.

use crate::format::{FormatError, ReadSeek};
use gantry_formats::archive::quote;
use gantry_formats::format::invalid;
use gantry_formats::zip_archive::{BoundedZip, ZipLimits};

/// Most entries in one package.
pub const MAX_ENTRIES: usize = 65_536;
/// Most bytes a package may unpack to (its entries' declared sizes).
pub const MAX_UNPACKED: u64 = 8 << 30;

const LIMITS: ZipLimits = ZipLimits {
    what: "the package",
    max_size: u64::MAX,
    max_entries: MAX_ENTRIES,
    max_unpacked: MAX_UNPACKED,
};

/// The checked archive's `.nuspec`, its entry name and bytes. The archive's own size is
/// bounded by the upload limit before it is stored.
pub fn nuspec_of(content: &mut dyn ReadSeek) -> Result<(String, Vec<u8>), FormatError> {
    let mut archive = BoundedZip::open(content, 0, LIMITS)?;
    let mut nuspec = None;
    archive.list(|entry| {
        let name = &entry.name;
        if !name.contains('/') && name.to_ascii_lowercase().ends_with(".nuspec") {
            if nuspec.is_some() {
                return Err(invalid("the package has more than one .nuspec at its root"));
            }
            nuspec = Some(entry.clone());
        }
        Ok(true)
    })?;
    let entry = nuspec.ok_or_else(|| invalid("the package has no .nuspec at its root"))?;
    if entry.size > super::nuspec::MAX_NUSPEC {
        return Err(invalid(format!(
            "{} is larger than {} bytes",
            quote(&entry.name),
            super::nuspec::MAX_NUSPEC
        )));
    }
    let mut bytes = Vec::new();
    archive.inflate(&entry, &mut bytes)?;
    Ok((entry.name, bytes))
}
