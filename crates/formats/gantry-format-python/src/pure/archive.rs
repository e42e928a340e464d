//! Bounded readers that find the core metadata inside wheels and sdists. They refuse entry
//! names that escape the archive or hide their form, links out of a tar archive, links and
//! devices in a zip, and archives with too many entries; only the metadata file is
//! decompressed, and only up to a size bound. Tar archives go through the shared reader in
//! `crate::archive`, which bounds extension headers.

use std::io::{Read, Seek};

use crate::archive::{check_entry_name, quote, walk_tar_gz, Flow, Kind, TarLimits};
use crate::format::{FormatError, ReadSeek};
use gantry_formats::format::invalid;

/// Entries an archive may hold.
pub(super) const MAX_ENTRIES: usize = 100_000;
/// Largest metadata file read.
pub(super) const MAX_METADATA: u64 = 4 * 1024 * 1024;
/// Bytes a tar stream is decompressed while looking for `PKG-INFO`.
pub(super) const MAX_TAR_SCAN: u64 = 4 * 1024 * 1024 * 1024;

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

/// Opens a zip archive and checks every entry: its name, and that it is a file or a directory.
/// Installers would create a symlink entry as a link, pointing anywhere.
fn open_zip<R: Read + Seek>(content: R) -> Result<zip::ZipArchive<R>, FormatError> {
    let mut archive = zip::ZipArchive::new(content)
        .map_err(|e| invalid(format!("not a valid zip archive: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(invalid(format!(
            "archive has more than {MAX_ENTRIES} entries"
        )));
    }
    for index in 0..archive.len() {
        let file = archive
            .by_index_raw(index)
            .map_err(|e| invalid(format!("not a valid zip archive: {e}")))?;
        let name = file.name();
        check_entry_name(name)?;
        if file.is_symlink() {
            return Err(invalid(format!(
                "archive entry '{}' is a symbolic link",
                quote(name)
            )));
        }
        // Only the file-type bits matter; 0 means the archiver recorded none.
        let file_type = file.unix_mode().map_or(0, |mode| mode & 0o170_000);
        if !matches!(file_type, 0 | 0o100_000 | 0o040_000) {
            return Err(invalid(format!(
                "archive entry '{}' is neither a file nor a directory",
                quote(name)
            )));
        }
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
        .map_err(|e| invalid(format!("cannot open {}: {e}", quote(&name))))?;
    if file.size() > MAX_METADATA {
        return Err(invalid(format!(
            "{} is larger than {MAX_METADATA} bytes",
            quote(&name)
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
        .map_err(|e| invalid(format!("cannot open {}: {e}", quote(&name))))?;
    read_bounded(file, &name)
}

/// The `PKG-INFO` at the top of a `.tar.gz` sdist.
pub(super) fn tar_sdist_metadata(content: &mut dyn ReadSeek) -> Result<Vec<u8>, FormatError> {
    let limits = TarLimits {
        what: "tar.gz archive",
        max_entries: MAX_ENTRIES,
        max_stream: MAX_TAR_SCAN,
    };
    let mut found = None;
    walk_tar_gz(content, limits, |entry| {
        match &entry.kind {
            Kind::Link(target) => {
                // A link may point within the archive only.
                if target.is_empty() || check_entry_name(target).is_err() {
                    return Err(invalid(format!(
                        "archive entry '{}' links outside the archive ('{}')",
                        quote(&entry.path),
                        quote(target)
                    )));
                }
                return Ok(Flow::Continue);
            }
            Kind::Other(_) => {
                return Err(invalid(format!(
                    "archive entry '{}' is neither a file, a directory nor a link",
                    quote(&entry.path)
                )))
            }
            Kind::File | Kind::Dir => {}
        }
        // Some tools write entries as `./pkg-1.0/PKG-INFO`.
        let parts: Vec<&str> = entry
            .path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .split('/')
            .collect();
        if parts.len() == 2 && parts[1] == "PKG-INFO" && entry.kind == Kind::File {
            let what = quote(&entry.path);
            found = Some(entry.read_bounded(MAX_METADATA, &what)?);
            return Ok(Flow::Stop);
        }
        Ok(Flow::Continue)
    })?;
    found.ok_or_else(|| invalid("sdist has no top-level PKG-INFO"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testing::{append, tar_gz_with};
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

        let mut out = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut out);
            let _ = w.add_symlink(
                "pkg/evil",
                "/etc/passwd",
                zip::write::SimpleFileOptions::default(),
            );
            let _ = w.start_file(
                "pkg-1.0.dist-info/METADATA",
                zip::write::SimpleFileOptions::default(),
            );
            let _ = w.write_all(b"Name: pkg\n");
            let _ = w.finish();
        }
        let err = wheel_metadata(&mut Cursor::new(out.into_inner())).err();
        assert!(err.is_some_and(|e| e.to_string().contains("symbolic link")));
        let rtl = zip_with(&[
            ("pkg/a\u{202E}yp.exe", b""),
            ("pkg-1.0.dist-info/METADATA", b"Name: pkg\n"),
        ]);
        assert!(wheel_metadata(&mut Cursor::new(rtl)).is_err());
        Ok(())
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
        // 1 GiB declared as a long name over a tiny gzip: refused on the declared size.
        let huge = crate::archive::testing::huge_extension(b'L', 1 << 30);
        let err = tar_sdist_metadata(&mut Cursor::new(huge)).err();
        assert!(err.is_some_and(|e| e.to_string().contains("extended header")));
    }
}
