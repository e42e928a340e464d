//! Bounded reader of `.crate` files (gzip-compressed tar). Every entry must sit under one
//! top-level directory; entry names that escape it, links, devices, too many entries and too
//! many unpacked bytes are refused. Only `Cargo.toml` is kept, up to a size bound.

use std::io::Read;

use crate::format::{FormatError, ReadSeek};

/// Entries a crate may hold.
pub(super) const MAX_ENTRIES: usize = 50_000;
/// Largest `Cargo.toml` read.
pub(super) const MAX_MANIFEST: u64 = 1024 * 1024;
/// Bytes a crate may unpack to (what cargo itself allows is of this order).
pub(super) const MAX_UNPACKED: u64 = 1024 * 1024 * 1024;

fn invalid(msg: impl Into<String>) -> FormatError {
    FormatError::Invalid(msg.into())
}

fn unsafe_name(name: &str) -> bool {
    name.starts_with('/')
        || name.starts_with('\\')
        || name.contains('\0')
        || name.contains('\\')
        || name.split('/').any(|part| part == "..")
        || (name.len() > 1 && name.as_bytes()[1] == b':')
}

/// What a crate archive holds that matters: its top-level directory and `Cargo.toml`.
pub(super) struct CrateArchive {
    pub(super) top: String,
    pub(super) manifest: Vec<u8>,
}

pub(super) fn read(content: &mut dyn ReadSeek) -> Result<CrateArchive, FormatError> {
    let gz = flate2::read::GzDecoder::new(content);
    let mut archive = tar::Archive::new(gz.take(MAX_UNPACKED));
    let entries = archive
        .entries()
        .map_err(|e| invalid(format!("not a valid .crate (gzip tar) archive: {e}")))?;
    let mut top: Option<String> = None;
    let mut manifest: Option<Vec<u8>> = None;
    let mut count = 0usize;
    for entry in entries {
        count += 1;
        if count > MAX_ENTRIES {
            return Err(invalid(format!(
                "crate has more than {MAX_ENTRIES} entries"
            )));
        }
        let mut entry =
            entry.map_err(|e| invalid(format!("not a valid .crate (gzip tar) archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| invalid(format!("bad entry name: {e}")))?
            .to_string_lossy()
            .into_owned();
        if unsafe_name(&path) {
            return Err(invalid(format!("crate entry '{path}' escapes the archive")));
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(invalid(format!("crate entry '{path}' is a link")));
        }
        // PAX and GNU long-name headers are consumed by the tar reader; what is left must be
        // a file or a directory.
        if !(kind.is_file() || kind.is_dir() || kind == tar::EntryType::Continuous) {
            return Err(invalid(format!(
                "crate entry '{path}' is neither a file nor a directory"
            )));
        }
        let clean = path.trim_start_matches("./");
        let (first, rest) = clean.split_once('/').unwrap_or((clean, ""));
        if first.is_empty() {
            return Err(invalid(format!("crate entry '{path}' has no directory")));
        }
        match &top {
            None => top = Some(first.to_owned()),
            Some(t) if t != first => {
                return Err(invalid(format!(
                    "crate entries must all be under one directory ('{t}' and '{first}')"
                )))
            }
            Some(_) => {}
        }
        if rest == "Cargo.toml" && kind.is_file() {
            if manifest.is_some() {
                return Err(invalid("crate has more than one Cargo.toml"));
            }
            if entry.size() > MAX_MANIFEST {
                return Err(invalid(format!(
                    "Cargo.toml is larger than {MAX_MANIFEST} bytes"
                )));
            }
            let mut out = Vec::new();
            entry
                .by_ref()
                .take(MAX_MANIFEST + 1)
                .read_to_end(&mut out)
                .map_err(|e| invalid(format!("cannot read Cargo.toml: {e}")))?;
            manifest = Some(out);
        }
    }
    let top = top.ok_or_else(|| invalid("the crate archive is empty"))?;
    let manifest = manifest.ok_or_else(|| invalid(format!("crate has no {top}/Cargo.toml")))?;
    Ok(CrateArchive { top, manifest })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    pub(crate) fn crate_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, body) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // Written raw so that hostile names reach the reader as they are.
            let name = header.as_old_mut().name.as_mut();
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            let _ = builder.append(&header, *body);
        }
        let tar = builder.into_inner().unwrap_or_default();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(&tar);
        gz.finish().unwrap_or_default()
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
        Ok(())
    }
}
