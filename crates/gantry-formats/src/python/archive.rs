//! Bounded readers that find the core metadata inside wheels and sdists. They refuse entry
//! names that escape the archive, links in tar archives, and archives with too many entries;
//! only the metadata file is decompressed, and only up to a size bound.

use std::io::{Read, Seek};

use crate::format::{FormatError, ReadSeek};

/// Entries an archive may hold.
pub(super) const MAX_ENTRIES: usize = 100_000;
/// Largest metadata file read.
pub(super) const MAX_METADATA: u64 = 4 * 1024 * 1024;
/// Bytes a tar stream is decompressed while looking for `PKG-INFO`.
pub(super) const MAX_TAR_SCAN: u64 = 4 * 1024 * 1024 * 1024;

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

fn read_bounded(mut reader: impl Read, what: &str) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    reader
        .by_ref()
        .take(MAX_METADATA + 1)
        .read_to_end(&mut out)
        .map_err(|e| invalid(format!("cannot read {what}: {e}")))?;
    if out.len() as u64 > MAX_METADATA {
        return Err(invalid(format!(
            "{what} is larger than {MAX_METADATA} bytes"
        )));
    }
    Ok(out)
}

/// Opens a zip archive and checks every entry name.
fn open_zip<R: Read + Seek>(content: R) -> Result<zip::ZipArchive<R>, FormatError> {
    let archive = zip::ZipArchive::new(content)
        .map_err(|e| invalid(format!("not a valid zip archive: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(invalid(format!(
            "archive has more than {MAX_ENTRIES} entries"
        )));
    }
    if let Some(bad) = archive.file_names().find(|n| unsafe_name(n)) {
        return Err(invalid(format!(
            "archive entry '{bad}' escapes the archive"
        )));
    }
    Ok(archive)
}

/// The `METADATA` of a wheel: `<name>-<version>.dist-info/METADATA`, exactly one.
pub(super) fn wheel_metadata(content: &mut dyn ReadSeek) -> Result<Vec<u8>, FormatError> {
    let mut archive = open_zip(content)?;
    let candidates: Vec<String> = archive
        .file_names()
        .filter(|n| {
            let mut parts = n.split('/');
            matches!(
                (parts.next(), parts.next(), parts.next()),
                (Some(dir), Some("METADATA"), None) if dir.ends_with(".dist-info")
            )
        })
        .map(str::to_owned)
        .collect();
    let name = match candidates.as_slice() {
        [one] => one.clone(),
        [] => return Err(invalid("wheel has no *.dist-info/METADATA")),
        _ => return Err(invalid("wheel has more than one *.dist-info/METADATA")),
    };
    let file = archive
        .by_name(&name)
        .map_err(|e| invalid(format!("cannot open {name}: {e}")))?;
    if file.size() > MAX_METADATA {
        return Err(invalid(format!(
            "{name} is larger than {MAX_METADATA} bytes"
        )));
    }
    read_bounded(file, &name)
}

/// The `PKG-INFO` at the top of a zip sdist (`<dir>/PKG-INFO`).
pub(super) fn zip_sdist_metadata(content: &mut dyn ReadSeek) -> Result<Vec<u8>, FormatError> {
    let mut archive = open_zip(content)?;
    let name = archive
        .file_names()
        .find(|n| {
            let parts: Vec<&str> = n.split('/').collect();
            parts.len() == 2 && parts[1] == "PKG-INFO"
        })
        .map(str::to_owned)
        .ok_or_else(|| invalid("sdist has no top-level PKG-INFO"))?;
    let file = archive
        .by_name(&name)
        .map_err(|e| invalid(format!("cannot open {name}: {e}")))?;
    read_bounded(file, &name)
}

/// The `PKG-INFO` at the top of a `.tar.gz` sdist.
pub(super) fn tar_sdist_metadata(content: &mut dyn ReadSeek) -> Result<Vec<u8>, FormatError> {
    let gz = flate2::read::GzDecoder::new(content);
    let mut archive = tar::Archive::new(gz.take(MAX_TAR_SCAN));
    let entries = archive
        .entries()
        .map_err(|e| invalid(format!("not a valid tar.gz archive: {e}")))?;
    for (count, entry) in entries.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(invalid(format!(
                "archive has more than {MAX_ENTRIES} entries"
            )));
        }
        let entry = entry.map_err(|e| invalid(format!("not a valid tar.gz archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| invalid(format!("bad entry name: {e}")))?
            .to_string_lossy()
            .into_owned();
        if unsafe_name(&path) {
            return Err(invalid(format!(
                "archive entry '{path}' escapes the archive"
            )));
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()
                .ok()
                .flatten()
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            // A link may point within the archive only.
            if target.is_empty() || unsafe_name(&target) {
                return Err(invalid(format!(
                    "archive entry '{path}' links outside the archive ('{target}')"
                )));
            }
            continue;
        }
        // Some tools write entries as `./pkg-1.0/PKG-INFO`.
        let parts: Vec<&str> = path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .split('/')
            .collect();
        if parts.len() == 2 && parts[1] == "PKG-INFO" && kind.is_file() {
            return read_bounded(entry, &path);
        }
    }
    Err(invalid("sdist has no top-level PKG-INFO"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut out);
            for (name, body) in entries {
                let _ = w.start_file(*name, zip::write::SimpleFileOptions::default());
                let _ = w.write_all(body);
            }
            let _ = w.finish();
        }
        out.into_inner()
    }

    #[test]
    fn finds_wheel_metadata_and_refuses_traversal() -> Result<(), FormatError> {
        let good = zip_with(&[
            ("pkg/__init__.py", b""),
            ("pkg-1.0.dist-info/METADATA", b"Name: pkg\nVersion: 1.0\n"),
        ]);
        assert!(wheel_metadata(&mut Cursor::new(good))?.starts_with(b"Name: pkg"));
        let evil = zip_with(&[
            ("../../etc/passwd", b"x"),
            ("pkg-1.0.dist-info/METADATA", b"Name: pkg\n"),
        ]);
        assert!(wheel_metadata(&mut Cursor::new(evil)).is_err());
        let none = zip_with(&[("pkg/__init__.py", b"")]);
        assert!(wheel_metadata(&mut Cursor::new(none)).is_err());
        assert!(wheel_metadata(&mut Cursor::new(b"not a zip".to_vec())).is_err());
        Ok(())
    }

    fn tar_gz_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        let tar = builder.into_inner().unwrap_or_default();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(&tar);
        gz.finish().unwrap_or_default()
    }

    fn append(b: &mut tar::Builder<Vec<u8>>, path: &str, body: &[u8]) {
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
    fn finds_pkg_info_and_refuses_bad_tars() {
        let good = tar_gz_with(|b| {
            append(b, "pkg-1.0/setup.py", b"");
            append(b, "pkg-1.0/PKG-INFO", b"Name: pkg\nVersion: 1.0\n");
        });
        assert!(tar_sdist_metadata(&mut Cursor::new(good)).is_ok());
        let evil = tar_gz_with(|b| append(b, "../evil", b"x"));
        assert!(tar_sdist_metadata(&mut Cursor::new(evil)).is_err());
        let link = tar_gz_with(|b| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            let _ = b.append_link(&mut header, "pkg-1.0/passwd", "/etc/passwd");
        });
        assert!(tar_sdist_metadata(&mut Cursor::new(link)).is_err());
        assert!(tar_sdist_metadata(&mut Cursor::new(b"\x1f\x8bgarbage".to_vec())).is_err());
        let empty = tar_gz_with(|b| append(b, "pkg-1.0/setup.py", b""));
        assert!(tar_sdist_metadata(&mut Cursor::new(empty)).is_err());
    }
}
