//! Dist zips, read bounded: every entry name checked with the shared archive rules (no
//! traversal, no control or invisible characters), links and devices refused, entry count and
//! unpacked size capped, every body inflated once against its declared size (a zip that lies
//! about its sizes, or inflates past the bound, is refused before it is stored), and the
//! `composer.json` at the package root kept. The root is the archive's top level, or its one
//! top-level directory when everything sits in one, as Composer unpacks dists.

use std::io::Read;

use crate::archive::{check_entry_name, quote};
use crate::format::{FormatError, ReadSeek};

/// Largest dist zip.
pub const MAX_ZIP: u64 = 512 << 20;
/// Most bytes a dist's files may hold unpacked.
pub const MAX_UNPACKED: u64 = 1 << 30;
/// Most entries in one dist.
pub const MAX_ENTRIES: usize = 100_000;
/// Largest `composer.json`.
pub const MAX_MANIFEST: u64 = 1 << 20;

fn invalid(msg: impl Into<String>) -> FormatError {
    FormatError::Invalid(msg.into())
}

/// What a checked dist holds.
#[derive(Debug, Clone)]
pub struct Dist {
    /// The `composer.json` bytes.
    pub manifest: Vec<u8>,
    pub files: usize,
    pub unpacked_size: u64,
}

/// One entry of the first pass.
struct Listed {
    index: usize,
    name: String,
    size: u64,
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
    if size > MAX_ZIP {
        return Err(invalid(format!("the zip is larger than {MAX_ZIP} bytes")));
    }
    let mut archive = zip::ZipArchive::new(content)
        .map_err(|e| invalid(format!("not a valid zip archive: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(invalid(format!(
            "the zip has more than {MAX_ENTRIES} entries"
        )));
    }
    let listed = list_entries(&mut archive)?;
    let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    let manifest_name = format!("{}composer.json", root_of(&names));
    let mut manifest = None;
    let mut files = 0;
    let mut unpacked_size = 0;
    for entry in &listed {
        let mut file = archive
            .by_index(entry.index)
            .map_err(|e| invalid(format!("cannot read '{}': {e}", quote(&entry.name))))?;
        if entry.name.ends_with('/') {
            continue;
        }
        let keep = entry.name == manifest_name;
        if keep && entry.size > MAX_MANIFEST {
            return Err(invalid(format!(
                "composer.json is larger than {MAX_MANIFEST} bytes"
            )));
        }
        let (read, body) = inflate_bounded(&mut file, entry.size, keep)
            .map_err(|e| invalid(format!("cannot read '{}': {e}", quote(&entry.name))))?;
        if read != entry.size {
            return Err(invalid(format!(
                "'{}' holds more bytes than the {} its header declares",
                quote(&entry.name),
                entry.size
            )));
        }
        if keep {
            manifest = Some(body);
        }
        files += 1;
        unpacked_size += read;
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

/// The first pass: names, kinds and declared sizes, checked before anything is inflated.
fn list_entries(
    archive: &mut zip::ZipArchive<&mut dyn ReadSeek>,
) -> Result<Vec<Listed>, FormatError> {
    let mut listed = Vec::with_capacity(archive.len());
    let mut total = 0u64;
    for index in 0..archive.len() {
        let entry = archive
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
        total = total.saturating_add(entry.size());
        if total > MAX_UNPACKED {
            return Err(invalid(format!(
                "the zip unpacks to more than {MAX_UNPACKED} bytes"
            )));
        }
        listed.push(Listed {
            index,
            name,
            size: entry.size(),
        });
    }
    Ok(listed)
}

/// Inflates at most `size + 1` bytes of `reader`: the bytes read, and the body if `keep`.
fn inflate_bounded(
    reader: &mut impl Read,
    size: u64,
    keep: bool,
) -> std::io::Result<(u64, Vec<u8>)> {
    let mut limited = reader.take(size.saturating_add(1));
    if keep {
        let mut body = Vec::new();
        limited.read_to_end(&mut body)?;
        return Ok((body.len() as u64, body));
    }
    let read = std::io::copy(&mut limited, &mut std::io::sink())?;
    Ok((read, Vec::new()))
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
