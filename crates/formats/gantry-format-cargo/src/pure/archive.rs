//! Bounded reader of `.crate` files (gzip-compressed tar), over the shared reader in
//! `crate::archive`. Every entry must sit under one top-level directory; entry names that
//! escape it or hide their form, links, devices, too many entries and too many unpacked bytes
//! are refused. Only `Cargo.toml` is kept, up to a size bound.

use crate::archive::{quote, walk_tar_gz, Flow, Kind, TarLimits};
use crate::format::{FormatError, ReadSeek};
use gantry_formats::format::invalid;

/// Entries a crate may hold.
pub(super) const MAX_ENTRIES: usize = 50_000;
/// Largest `Cargo.toml` read.
pub(super) const MAX_MANIFEST: u64 = 1024 * 1024;
/// Bytes a crate may unpack to (what cargo itself allows is of this order).
pub(super) const MAX_UNPACKED: u64 = 1024 * 1024 * 1024;

/// What a crate archive holds that matters: its top-level directory and `Cargo.toml`.
pub(super) struct CrateArchive {
    pub(super) top: String,
    pub(super) manifest: Vec<u8>,
}

pub(super) fn read(content: &mut dyn ReadSeek) -> Result<CrateArchive, FormatError> {
    let limits = TarLimits {
        what: ".crate (gzip tar) archive",
        max_entries: MAX_ENTRIES,
        max_stream: MAX_UNPACKED,
    };
    let mut top: Option<String> = None;
    let mut manifest: Option<Vec<u8>> = None;
    walk_tar_gz(content, limits, |entry| {
        let path = entry.path.as_str();
        // Cargo refuses backslashes in crate paths; so does this, beyond the shared checks.
        if path.contains('\\') {
            return Err(invalid(format!(
                "crate entry '{}' escapes the archive",
                quote(path)
            )));
        }
        match entry.kind {
            Kind::Link(_) => {
                return Err(invalid(format!("crate entry '{}' is a link", quote(path))))
            }
            Kind::Other(_) => {
                return Err(invalid(format!(
                    "crate entry '{}' is neither a file nor a directory",
                    quote(path)
                )))
            }
            Kind::File | Kind::Dir => {}
        }
        let clean = path.trim_start_matches("./");
        let (first, rest) = clean.split_once('/').unwrap_or((clean, ""));
        if first.is_empty() {
            return Err(invalid(format!(
                "crate entry '{}' has no directory",
                quote(path)
            )));
        }
        match &top {
            None => top = Some(first.to_owned()),
            Some(t) if t != first => {
                return Err(invalid(format!(
                    "crate entries must all be under one directory ('{}' and '{}')",
                    quote(t),
                    quote(first)
                )))
            }
            Some(_) => {}
        }
        if rest == "Cargo.toml" && entry.kind == Kind::File {
            if manifest.is_some() {
                return Err(invalid("crate has more than one Cargo.toml"));
            }
            manifest = Some(entry.read_bounded(MAX_MANIFEST, "Cargo.toml")?);
        }
        Ok(Flow::Continue)
    })?;
    let top = top.ok_or_else(|| invalid("the crate archive is empty"))?;
    let manifest =
        manifest.ok_or_else(|| invalid(format!("crate has no {}/Cargo.toml", quote(&top))))?;
    Ok(CrateArchive { top, manifest })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    pub(crate) fn crate_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        crate::archive::testing::tar_gz_with(|b| {
            for (path, body) in entries {
                crate::archive::testing::append(b, path, body);
            }
        })
    }

    #[test]
    fn reads_the_manifest_and_refuses_hostile_archives() -> Result<(), FormatError> {
        let good = crate_with(&[
            ("demo-0.1.0/Cargo.toml", b"[package]\nname = \"demo\"\n"),
            ("demo-0.1.0/src/lib.rs", b""),
        ]);
        let read_back = read(&mut Cursor::new(good))?;
        assert_eq!(read_back.top, "demo-0.1.0");
        assert!(read_back.manifest.starts_with(b"[package]"));
        let evil = crate_with(&[("demo-0.1.0/Cargo.toml", b""), ("demo-0.1.0/../../x", b"")]);
        assert!(read(&mut Cursor::new(evil)).is_err());
        let two = crate_with(&[("a-1/Cargo.toml", b""), ("b-1/src/lib.rs", b"")]);
        assert!(read(&mut Cursor::new(two)).is_err());
        let none = crate_with(&[("demo-0.1.0/src/lib.rs", b"")]);
        assert!(read(&mut Cursor::new(none)).is_err());
        assert!(read(&mut Cursor::new(b"\x1f\x8bgarbage".to_vec())).is_err());

        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        let _ = builder.append_link(&mut header, "demo-0.1.0/Cargo.toml", "/etc/passwd");
        let tar = builder.into_inner().unwrap_or_default();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(&tar);
        let link = gz.finish().unwrap_or_default();
        assert!(read(&mut Cursor::new(link)).is_err());

        let huge = crate::archive::testing::huge_extension(b'x', 1 << 31);
        let err = read(&mut Cursor::new(huge)).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("extended header") && e.len() < 300));
        Ok(())
    }
}
