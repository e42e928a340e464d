//! A bounded reader of npm package tarballs (gzip-compressed tar). Every entry is checked:
//! names that escape the archive and links of any kind are refused, as are archives with too
//! many entries or too many unpacked bytes. Only `package.json` is kept in memory.

use std::io::Read;

use crate::format::{FormatError, ReadSeek};

/// Entries a tarball may hold.
pub(super) const MAX_ENTRIES: usize = 100_000;
/// Largest `package.json` read.
pub(super) const MAX_MANIFEST: u64 = 4 * 1024 * 1024;
/// Bytes a tarball may unpack to.
pub(super) const MAX_UNPACKED: u64 = 2 * 1024 * 1024 * 1024;

fn invalid(msg: impl Into<String>) -> FormatError {
    FormatError::Invalid(msg.into())
}

fn unsafe_name(name: &str) -> bool {
    name.starts_with('/')
        || name.starts_with('\\')
        || name.contains('\0')
        || name.split(['/', '\\']).any(|part| part == "..")
        || (name.len() > 1 && name.as_bytes()[1] == b':')
}

/// What a tarball holds.
#[derive(Debug, Clone)]
pub struct Contents {
    /// The bytes of the top-level `package.json` (`<dir>/package.json`).
    pub manifest: Vec<u8>,
    pub file_count: u64,
    pub unpacked_size: u64,
    /// A top-level `binding.gyp`, which makes npm run `node-gyp rebuild` at install.
    pub has_binding_gyp: bool,
}

/// Reads a tarball from start to end.
pub fn read(content: &mut dyn ReadSeek) -> Result<Contents, FormatError> {
    let gz = flate2::read::GzDecoder::new(content);
    // The tar reader sees at most the bound (plus headers); past it the read fails below.
    let mut archive = tar::Archive::new(gz.take(MAX_UNPACKED + 64 * 1024 * 1024));
    let entries = archive
        .entries()
        .map_err(|e| invalid(format!("not a valid npm tarball (.tgz): {e}")))?;
    let mut manifest: Option<Vec<u8>> = None;
    let mut file_count = 0u64;
    let mut unpacked_size = 0u64;
    let mut has_binding_gyp = false;
    for (count, entry) in entries.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(invalid(format!(
                "the tarball has more than {MAX_ENTRIES} entries"
            )));
        }
        let mut entry =
            entry.map_err(|e| invalid(format!("not a valid npm tarball (.tgz): {e}")))?;
        let path = entry
            .path()
            .map_err(|e| invalid(format!("bad entry name in the tarball: {e}")))?
            .to_string_lossy()
            .into_owned();
        if unsafe_name(&path) {
            return Err(invalid(format!(
                "tarball entry '{path}' escapes the archive"
            )));
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(invalid(format!(
                "tarball entry '{path}' is a link; npm packages may not contain links"
            )));
        }
        if !kind.is_file() {
            continue;
        }
        file_count += 1;
        unpacked_size = unpacked_size.saturating_add(entry.size());
        if unpacked_size > MAX_UNPACKED {
            return Err(invalid(format!(
                "the tarball unpacks to more than {MAX_UNPACKED} bytes"
            )));
        }
        let parts: Vec<&str> = path.trim_start_matches("./").split('/').collect();
        if parts.len() != 2 {
            continue;
        }
        if parts[1] == "binding.gyp" {
            has_binding_gyp = true;
        }
        // npm itself reads the first top-level package.json; so does this.
        if parts[1] == "package.json" && manifest.is_none() {
            if entry.size() > MAX_MANIFEST {
                return Err(invalid(format!(
                    "package.json is larger than {MAX_MANIFEST} bytes"
                )));
            }
            let mut out = Vec::new();
            entry
                .by_ref()
                .take(MAX_MANIFEST + 1)
                .read_to_end(&mut out)
                .map_err(|e| invalid(format!("cannot read package.json: {e}")))?;
            manifest = Some(out);
        }
    }
    let manifest = manifest.ok_or_else(|| {
        invalid("the tarball has no package.json at its top level (package/package.json)")
    })?;
    Ok(Contents {
        manifest,
        file_count,
        unpacked_size,
        has_binding_gyp,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    pub(crate) fn tgz_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        let tar = builder.into_inner().unwrap_or_default();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(&tar);
        gz.finish().unwrap_or_default()
    }

    pub(crate) fn append(b: &mut tar::Builder<Vec<u8>>, path: &str, body: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // Written raw so that hostile names reach the reader as they are.
        let name = header.as_old_mut().name.as_mut();
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        let _ = b.append(&header, body);
    }

    #[test]
    fn reads_package_json_and_refuses_bad_tarballs() {
        let good = tgz_with(|b| {
            append(b, "package/index.js", b"module.exports = 1\n");
            append(
                b,
                "package/package.json",
                br#"{"name":"a","version":"1.0.0"}"#,
            );
            append(b, "package/binding.gyp", b"{}");
        });
        let c = read(&mut Cursor::new(good));
        let c = c.as_ref().ok();
        assert_eq!(c.map(|c| c.file_count), Some(3));
        assert!(c.is_some_and(|c| c.has_binding_gyp && c.manifest.starts_with(b"{")));
        let evil = tgz_with(|b| append(b, "../package.json", b"{}"));
        assert!(read(&mut Cursor::new(evil)).is_err());
        let link = tgz_with(|b| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            let _ = b.append_link(&mut header, "package/x", "/etc/passwd");
        });
        assert!(read(&mut Cursor::new(link)).is_err());
        assert!(read(&mut Cursor::new(b"\x1f\x8bgarbage".to_vec())).is_err());
        assert!(read(&mut Cursor::new(b"not gzip at all".to_vec())).is_err());
        let none = tgz_with(|b| append(b, "package/index.js", b""));
        assert!(read(&mut Cursor::new(none)).is_err());
    }
}
