//! A bounded reader of npm package tarballs (gzip-compressed tar), over the shared reader in
//! `crate::archive`. Every entry is checked: names that escape the archive or hide their form,
//! links of any kind and special files (devices, FIFOs) are refused, as are archives with too
//! many entries or too many unpacked bytes. Only `package.json` is kept in memory.

use crate::archive::{quote, walk_tar_gz, Flow, Kind, TarLimits};
use crate::format::{FormatError, ReadSeek};
use gantry_formats::format::invalid;

/// Entries a tarball may hold.
pub(super) const MAX_ENTRIES: usize = 100_000;
/// Largest `package.json` read.
pub(super) const MAX_MANIFEST: u64 = 4 * 1024 * 1024;
/// Bytes a tarball may unpack to.
pub(super) const MAX_UNPACKED: u64 = 2 * 1024 * 1024 * 1024;

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
    let limits = TarLimits {
        what: "npm tarball (.tgz)",
        max_entries: MAX_ENTRIES,
        // The tar reader sees at most the bound (plus headers); past it the read fails.
        max_stream: MAX_UNPACKED + 64 * 1024 * 1024,
    };
    let mut manifest: Option<Vec<u8>> = None;
    let mut file_count = 0u64;
    let mut unpacked_size = 0u64;
    let mut has_binding_gyp = false;
    walk_tar_gz(content, limits, |entry| {
        match entry.kind {
            Kind::Link(_) => {
                return Err(invalid(format!(
                    "tarball entry '{}' is a link; npm packages may not contain links",
                    quote(&entry.path)
                )))
            }
            Kind::Other(_) => {
                return Err(invalid(format!(
                    "tarball entry '{}' is a device, FIFO or other special file; npm packages hold files and directories only",
                    quote(&entry.path)
                )))
            }
            Kind::Dir => return Ok(Flow::Continue),
            Kind::File => {}
        }
        file_count += 1;
        unpacked_size = unpacked_size.saturating_add(entry.size);
        if unpacked_size > MAX_UNPACKED {
            return Err(invalid(format!(
                "the tarball unpacks to more than {MAX_UNPACKED} bytes"
            )));
        }
        let path = entry.path.trim_start_matches("./");
        let Some((_, file)) = path.split_once('/').filter(|(_, f)| !f.contains('/')) else {
            return Ok(Flow::Continue);
        };
        if file == "binding.gyp" {
            has_binding_gyp = true;
        }
        // npm itself reads the first top-level package.json; so does this.
        if file == "package.json" && manifest.is_none() {
            manifest = Some(entry.read_bounded(MAX_MANIFEST, "package.json")?);
        }
        Ok(Flow::Continue)
    })?;
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
    pub(crate) use crate::archive::testing::{append, tar_gz_with as tgz_with};
    use std::io::Cursor;

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
        for (kind, what) in [
            (b'3', "character device"),
            (b'4', "block device"),
            (b'6', "FIFO"),
        ] {
            let mut tar = crate::archive::testing::header_block(b"package/package.json", b'0', 2);
            tar.extend(b"{}".iter().copied().chain(std::iter::repeat_n(0, 510)));
            tar.extend(crate::archive::testing::header_block(
                b"package/dev",
                kind,
                0,
            ));
            tar.extend([0u8; 1024]);
            let err = read(&mut Cursor::new(crate::archive::testing::gzip(&tar)));
            assert!(
                err.as_ref()
                    .err()
                    .is_some_and(|e| e.to_string().contains("device, FIFO")),
                "{what}"
            );
        }
    }

    #[test]
    fn a_huge_long_name_is_refused_before_it_is_read() {
        // 512 MiB declared, a few KB of gzip: the bound is on the declared size.
        let bytes = crate::archive::testing::huge_extension(b'L', 512 * 1024 * 1024);
        let err = read(&mut Cursor::new(bytes)).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("extended header") && e.len() < 300));
    }
}
