//! The one bounded reader of zip archives (Composer dists, Go module zips) and the writer of
//! the zips `pack_directory` makes.
//!
//! A zip is read in two passes. The first reads the central directory only: every entry name
//! checked with [`check_entry_name`], links and devices refused, entry count and declared
//! unpacked size capped, before a byte is inflated. The second inflates each body the format
//! asks for once, at most one byte past its declared size, and refuses a body that is not the
//! size its header declares (a zip that lies about its sizes is refused before it is stored).

use std::fs;
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::archive::{check_entry_name, quote};
use crate::format::invalid;
use crate::format::{FormatError, ReadSeek};

/// The bounds of one kind of zip.
#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    /// What error messages call the archive (`the zip`, `module zip`).
    pub what: &'static str,
    /// Largest archive.
    pub max_size: u64,
    /// Most entries.
    pub max_entries: usize,
    /// Most bytes the files may hold unpacked, as their headers declare.
    pub max_unpacked: u64,
}

/// One entry as the first pass found it.
#[derive(Debug, Clone)]
pub struct ZipEntry {
    pub index: usize,
    /// The full name, checked with [`check_entry_name`]; directories end in `/`.
    pub name: String,
    /// The size the header declares.
    pub size: u64,
}

impl ZipEntry {
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

/// An open zip, bounded by its [`ZipLimits`].
pub struct BoundedZip<'r> {
    archive: zip::ZipArchive<&'r mut dyn ReadSeek>,
    limits: ZipLimits,
}

impl<'r> BoundedZip<'r> {
    /// Opens the archive `content` of `size` bytes, refusing one too large or with too many
    /// entries.
    pub fn open(
        content: &'r mut dyn ReadSeek,
        size: u64,
        limits: ZipLimits,
    ) -> Result<Self, FormatError> {
        let what = limits.what;
        if size > limits.max_size {
            return Err(invalid(format!(
                "{what} is larger than {} bytes",
                limits.max_size
            )));
        }
        let archive = zip::ZipArchive::new(content)
            .map_err(|e| invalid(format!("not a valid zip archive: {e}")))?;
        if archive.len() > limits.max_entries {
            return Err(invalid(format!(
                "{what} has more than {} entries",
                limits.max_entries
            )));
        }
        Ok(Self { archive, limits })
    }

    pub fn is_empty(&self) -> bool {
        self.archive.is_empty()
    }

    /// The name of entry `index` as its header gives it, not yet checked (for a format that
    /// reads the layout from the first entry before the first pass).
    pub fn raw_name(&mut self, index: usize) -> Result<String, FormatError> {
        let entry = self
            .archive
            .by_index_raw(index)
            .map_err(|e| invalid(format!("not a valid zip archive: {e}")))?;
        Ok(entry.name().to_owned())
    }

    /// The first pass: every entry's name, kind and declared size, checked; `check` adds the
    /// format's rules for each entry and says whether its size counts towards the unpacked
    /// bound.
    pub fn list(
        &mut self,
        mut check: impl FnMut(&ZipEntry) -> Result<bool, FormatError>,
    ) -> Result<Vec<ZipEntry>, FormatError> {
        let mut listed = Vec::with_capacity(self.archive.len());
        let mut total = 0u64;
        for index in 0..self.archive.len() {
            let entry = self
                .archive
                .by_index_raw(index)
                .map_err(|e| invalid(format!("not a valid zip archive: {e}")))?;
            let name = entry.name().to_owned();
            check_entry_name(&name)?;
            let file_type = entry.unix_mode().map_or(0, |mode| mode & 0o170_000);
            if entry.is_symlink() || !matches!(file_type, 0 | 0o100_000 | 0o040_000) {
                return Err(invalid(format!(
                    "archive entry '{}' is neither a file nor a directory",
                    quote(&name)
                )));
            }
            let entry = ZipEntry {
                index,
                name,
                size: entry.size(),
            };
            if check(&entry)? {
                total = total.saturating_add(entry.size);
                if total > self.limits.max_unpacked {
                    return Err(invalid(format!(
                        "{} unpacks to more than {} bytes",
                        self.limits.what, self.limits.max_unpacked
                    )));
                }
            }
            listed.push(entry);
        }
        Ok(listed)
    }

    /// Inflates the body of `entry` into `out`, at most one byte past its declared size, and
    /// refuses it unless it is that size.
    pub fn inflate(&mut self, entry: &ZipEntry, out: &mut dyn Write) -> Result<(), FormatError> {
        let cannot = |e: &dyn std::fmt::Display| {
            invalid(format!("cannot read '{}': {e}", quote(&entry.name)))
        };
        let file = self.archive.by_index(entry.index).map_err(|e| cannot(&e))?;
        let read = std::io::copy(&mut file.take(entry.size.saturating_add(1)), out)
            .map_err(|e| cannot(&e))?;
        if read != entry.size {
            return Err(invalid(format!(
                "'{}' holds {read} bytes, not the {} its header declares",
                quote(&entry.name),
                entry.size
            )));
        }
        Ok(())
    }
}

/// Writes `files` (paths below `dir` with their sizes, as [`crate::dir::regular_files`] lists
/// them) into a deflated zip on `out`, each named `prefix` and its path. `check` refuses a
/// file by the format's rules; more than `limits.max_unpacked` bytes in all is refused.
pub fn write_zip(
    dir: &Path,
    files: &[(String, u64)],
    prefix: &str,
    limits: ZipLimits,
    check: impl Fn(&str, u64) -> Result<(), FormatError>,
    out: &mut (impl Write + Seek),
) -> Result<(), FormatError> {
    let cannot = |e: zip::result::ZipError| invalid(format!("cannot write the zip: {e}"));
    let mut zip = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    let mut total = 0u64;
    for (name, size) in files {
        total = total.saturating_add(*size);
        if total > limits.max_unpacked {
            return Err(invalid(format!(
                "{} holds more than {} bytes",
                limits.what, limits.max_unpacked
            )));
        }
        check(name, *size)?;
        zip.start_file(format!("{prefix}{name}"), options)
            .map_err(cannot)?;
        let mut file = fs::File::open(dir.join(name))?;
        std::io::copy(&mut file, &mut zip)?;
    }
    zip.finish().map_err(cannot)?;
    Ok(())
}
