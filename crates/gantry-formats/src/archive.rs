//! The one bounded reader of gzip-compressed tar archives (npm tarballs, `.tar.gz` sdists,
//! `.crate` files), and the entry-name checks every archive reader shares.
//!
//! The `tar` crate, left to itself, reads the body of a GNU long-name (`L`, `K`) or PAX (`x`)
//! extension entry wholly into memory before handing out the entry it describes, whatever size
//! the header declares: a small gzip of a 1 GiB long name costs gigabytes. So entries are read
//! raw here, and an extension entry is refused on its declared size, before a byte of its body
//! is read. Everything else is streamed: bodies that are not asked for are skipped, not kept.

use std::borrow::Cow;
use std::io::Read;

use gantry_core::names::{is_odd_char, quote_prefix};

use crate::format::invalid;
use crate::format::{FormatError, ReadSeek};

/// Largest body of one extension entry (a GNU long name or link, or a set of PAX records).
/// Linux paths stop at 4,096 bytes; PAX records for one entry (path, linkpath, times, ids, a
/// few extended attributes) fit with room to spare.
pub const MAX_EXTENSION: u64 = 8 * 1024;
/// Characters of a client-supplied name quoted in an error message.
pub const QUOTE_LEN: usize = 200;

/// A name for an error message: a bounded, escaped prefix.
pub fn quote(name: &str) -> String {
    quote_prefix(name, QUOTE_LEN)
}

/// Whether an entry name could land outside the directory an archive is unpacked into.
pub fn escapes(name: &str) -> bool {
    name.starts_with('/')
        || name.starts_with('\\')
        || name.contains('\0')
        || name.split(['/', '\\']).any(|part| part == "..")
        || (name.len() > 1 && name.as_bytes()[1] == b':')
}

/// Checks an entry name: it must not escape the archive, nor carry control characters or the
/// invisible marks that disguise a name.
pub fn check_entry_name(name: &str) -> Result<(), FormatError> {
    if escapes(name) {
        return Err(invalid(format!(
            "archive entry '{}' escapes the archive",
            quote(name)
        )));
    }
    if name.chars().any(is_odd_char) {
        return Err(invalid(format!(
            "archive entry '{}' has control or invisible formatting characters in its name",
            quote(name)
        )));
    }
    Ok(())
}

/// What an entry is, once its extension headers are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A symbolic or hard link, with its target.
    Link(String),
    /// Anything else: devices, FIFOs, sparse files, unknown types.
    Other(u8),
}

/// One entry of an archive, as a visitor sees it.
pub struct Entry<'r> {
    /// The full name, checked with [`check_entry_name`].
    pub path: String,
    pub kind: Kind,
    /// The size the header declares.
    pub size: u64,
    body: &'r mut dyn Read,
}

impl Entry<'_> {
    /// Reads the body, refusing one larger than `max` bytes without reading past the bound.
    pub fn read_bounded(&mut self, max: u64, what: &str) -> Result<Vec<u8>, FormatError> {
        if self.size > max {
            return Err(invalid(format!("{what} is larger than {max} bytes")));
        }
        read_at_most(&mut self.body, max, what)
    }

    /// The body as a stream, for an entry that is itself an archive (a `.gem`'s
    /// `data.tar.gz`): its reader brings its own bounds.
    pub fn reader(&mut self) -> &mut dyn Read {
        &mut self.body
    }
}

fn read_at_most(reader: &mut dyn Read, max: u64, what: &str) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    reader
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| invalid(format!("cannot read {what}: {e}")))?;
    if out.len() as u64 > max {
        return Err(invalid(format!("{what} is larger than {max} bytes")));
    }
    Ok(out)
}

/// What a visitor wants after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// The bounds of one kind of archive.
#[derive(Debug, Clone, Copy)]
pub struct TarLimits {
    /// How the archive is named in errors ("npm tarball (.tgz)").
    pub what: &'static str,
    /// Entries, counting extension entries.
    pub max_entries: usize,
    /// Bytes of decompressed tar stream read at most; past it the archive is refused.
    pub max_stream: u64,
}

/// Names an extension entry gives to the entry after it.
#[derive(Default)]
struct Pending {
    path: Option<String>,
    link: Option<String>,
    /// The PAX `size`, which overrides the header's in other readers.
    size: Option<u64>,
    seen_long_name: bool,
    seen_long_link: bool,
    seen_pax: bool,
}

fn utf8_name(bytes: Cow<'_, [u8]>, what: &str) -> Result<String, FormatError> {
    String::from_utf8(bytes.into_owned()).map_err(|e| {
        let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
        invalid(format!(
            "{what} '{}' is not valid UTF-8",
            quote(&lossy).replace('\u{FFFD}', "\\u{fffd}")
        ))
    })
}

/// A GNU long name body: the name, NUL-terminated.
fn long_name(body: Vec<u8>, what: &str) -> Result<String, FormatError> {
    let end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
    let mut body = body;
    body.truncate(end);
    utf8_name(Cow::Owned(body), what)
}

fn apply_pax(records: &[u8], pending: &mut Pending) -> Result<(), FormatError> {
    for record in tar::PaxExtensions::new(records) {
        let record = record.map_err(|_| invalid("malformed PAX extended header"))?;
        let key = record
            .key()
            .map_err(|_| invalid("malformed PAX extended header"))?;
        match key {
            "path" => {
                pending.path = Some(utf8_name(
                    Cow::Borrowed(record.value_bytes()),
                    "PAX entry name",
                )?)
            }
            "linkpath" => {
                pending.link = Some(utf8_name(
                    Cow::Borrowed(record.value_bytes()),
                    "PAX link target",
                )?)
            }
            "size" => {
                let size = record
                    .value()
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| invalid("malformed PAX size"))?;
                pending.size = Some(size);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Reads a gzip-compressed tar archive entry by entry, calling `visit` with each file,
/// directory, link or other entry (never an extension entry) until it says [`Flow::Stop`] or
/// the archive ends. Entry names are checked before `visit` sees them.
pub fn walk_tar_gz(
    content: &mut dyn ReadSeek,
    limits: TarLimits,
    visit: impl FnMut(&mut Entry<'_>) -> Result<Flow, FormatError>,
) -> Result<(), FormatError> {
    let mut gz = flate2::read::GzDecoder::new(content);
    walk_tar(&mut gz, limits, visit)
}

/// As [`walk_tar_gz`], for a tar stream that is already decompressed (a plain tar, or one a
/// caller decompresses with another codec); `max_stream` bounds the decompressed bytes.
pub fn walk_tar(
    content: &mut dyn Read,
    limits: TarLimits,
    mut visit: impl FnMut(&mut Entry<'_>) -> Result<Flow, FormatError>,
) -> Result<(), FormatError> {
    let what = limits.what;
    let not_valid = |e: std::io::Error| invalid(format!("not a valid {what}: {e}"));
    let mut archive = tar::Archive::new(content.take(limits.max_stream));
    let entries = archive.entries().map_err(not_valid)?.raw(true);
    let mut pending = Pending::default();
    for (count, entry) in entries.enumerate() {
        if count >= limits.max_entries {
            return Err(invalid(format!(
                "the {what} has more than {} entries",
                limits.max_entries
            )));
        }
        let mut entry = entry.map_err(not_valid)?;
        let kind = entry.header().entry_type();
        let declared = entry.size();
        let is_extension = kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions();
        if is_extension {
            // The bound is checked on the declared size, before any of the body is read.
            if declared > MAX_EXTENSION {
                return Err(invalid(format!(
                    "the {what} has an extended header of {declared} bytes (at most {MAX_EXTENSION})"
                )));
            }
            if kind.is_pax_global_extensions() {
                // Global records are ignored, as the tar reader does; the body is skipped.
                continue;
            }
            let body = read_at_most(&mut entry, MAX_EXTENSION, "an extended header")?;
            let twice = || invalid(format!("the {what} has two extended headers for one entry"));
            if kind.is_gnu_longname() {
                if std::mem::replace(&mut pending.seen_long_name, true) {
                    return Err(twice());
                }
                pending.path = Some(long_name(body, "long entry name")?);
            } else if kind.is_gnu_longlink() {
                if std::mem::replace(&mut pending.seen_long_link, true) {
                    return Err(twice());
                }
                pending.link = Some(long_name(body, "long link target")?);
            } else {
                if std::mem::replace(&mut pending.seen_pax, true) {
                    return Err(twice());
                }
                apply_pax(&body, &mut pending)?;
            }
            continue;
        }
        let this = std::mem::take(&mut pending);
        // Other readers let a PAX size override the header's; this reader cannot, so a
        // disagreement (one archive that reads two ways) is refused.
        if this.size.is_some_and(|size| size != declared) {
            return Err(invalid(format!(
                "the {what} has an entry whose PAX size disagrees with its header"
            )));
        }
        let path = match this.path {
            Some(path) => path,
            None => utf8_name(entry.path_bytes(), "entry name")?,
        };
        check_entry_name(&path)?;
        let kind = if kind.is_file() || kind == tar::EntryType::Continuous {
            Kind::File
        } else if kind.is_dir() {
            Kind::Dir
        } else if kind.is_symlink() || kind.is_hard_link() {
            let target = match this.link {
                Some(link) => link,
                None => match entry.link_name_bytes() {
                    Some(bytes) => utf8_name(bytes, "link target")?,
                    None => String::new(),
                },
            };
            Kind::Link(target)
        } else {
            Kind::Other(kind.as_byte())
        };
        let mut view = Entry {
            path,
            kind,
            size: declared,
            body: &mut entry,
        };
        if visit(&mut view)? == Flow::Stop {
            return Ok(());
        }
    }
    if pending.seen_long_name || pending.seen_long_link || pending.seen_pax {
        return Err(invalid(format!(
            "the {what} ends with an extended header that describes no entry"
        )));
    }
    Ok(())
}

/// Hostile archives for the tests of the format crates.
#[doc(hidden)]
pub mod testing {
    use std::io::Write;

    /// A gzip stream of the tar that `build` writes.
    pub fn tar_gz_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        gzip(&builder.into_inner().unwrap_or_default())
    }

    /// Appends a regular file, its name written raw so that hostile names reach the reader
    /// as they are.
    pub fn append(b: &mut tar::Builder<Vec<u8>>, path: &str, body: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        let name = header.as_old_mut().name.as_mut();
        let n = path.len().min(name.len());
        name[..n].copy_from_slice(&path.as_bytes()[..n]);
        header.set_cksum();
        let _ = b.append(&header, body);
    }

    pub fn gzip(tar: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(tar);
        gz.finish().unwrap_or_default()
    }

    /// A raw tar header block with the given name, type and declared size.
    pub fn header_block(name: &[u8], kind: u8, size: u64) -> Vec<u8> {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::new(kind));
        let field = header.as_old_mut().name.as_mut();
        let n = name.len().min(field.len());
        field[..n].copy_from_slice(&name[..n]);
        header.set_cksum();
        header.as_bytes().to_vec()
    }

    /// A gzip stream of a tar whose first entry is an extension entry declaring `size` bytes,
    /// followed by a few blocks of it. The gzip is tiny whatever `size` says; a reader that
    /// trusts the declared size would try to hold it all.
    pub fn huge_extension(kind: u8, size: u64) -> Vec<u8> {
        let mut tar = header_block(b"././@LongLink", kind, size);
        // Sixteen KiB of body follow: more than the cap, far less than declared.
        tar.extend(std::iter::repeat_n(b'a', 16 * 1024));
        gzip(&tar)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use std::io::Cursor;

    fn limits() -> TarLimits {
        TarLimits {
            what: "test archive",
            max_entries: 100,
            max_stream: 1024 * 1024 * 1024,
        }
    }

    fn names(bytes: Vec<u8>) -> Result<Vec<(String, Kind)>, FormatError> {
        let mut out = Vec::new();
        walk_tar_gz(&mut Cursor::new(bytes), limits(), |e| {
            out.push((e.path.clone(), e.kind.clone()));
            Ok(Flow::Continue)
        })?;
        Ok(out)
    }

    #[test]
    fn huge_extension_headers_are_refused_on_their_declared_size() {
        for kind in [b'L', b'K', b'x', b'g'] {
            let bytes = huge_extension(kind, 1 << 40);
            assert!(bytes.len() < 4096, "{}", bytes.len());
            let err = names(bytes)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains("extended header of 1099511627776 bytes"),
                "{err}"
            );
            assert!(err.len() < 300, "{err}");
        }
    }

    #[test]
    fn long_names_and_pax_paths_within_the_bound_are_applied() -> Result<(), FormatError> {
        let long = format!("package/{}", "d/".repeat(200) + "index.js");
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // `append_data` writes a GNU long-name entry for a name this long.
        builder
            .append_data(&mut header, &long, &b"hi"[..])
            .map_err(|e| invalid(e.to_string()))?;
        let mut pax = tar::Builder::new(Vec::new());
        pax.append_pax_extensions([("path", b"package/pax-named.js".as_slice())])
            .map_err(|e| invalid(e.to_string()))?;
        let mut h = tar::Header::new_ustar();
        h.set_size(0);
        h.set_entry_type(tar::EntryType::Regular);
        pax.append_data(&mut h, "package/short", &b""[..])
            .map_err(|e| invalid(e.to_string()))?;
        let mut tar = builder.into_inner().map_err(|e| invalid(e.to_string()))?;
        tar.truncate(tar.len() - 1024);
        tar.extend(pax.into_inner().map_err(|e| invalid(e.to_string()))?);
        let got = names(gzip(&tar))?;
        assert_eq!(
            got,
            vec![
                (long, Kind::File),
                ("package/pax-named.js".to_owned(), Kind::File)
            ]
        );
        Ok(())
    }

    #[test]
    fn odd_and_non_utf8_names_are_refused_and_quoted_briefly() {
        let mut tar = header_block(b"package/\xff\xfe.js", b'0', 0);
        tar.extend([0u8; 1024]);
        let err = names(gzip(&tar)).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("not valid UTF-8")));
        let mut tar = header_block("package/exe\u{202E}txt.js".as_bytes(), b'0', 0);
        tar.extend([0u8; 1024]);
        let err = names(gzip(&tar)).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("\\u{202e}")));
        // A long name just under the bound, escaping: the error quotes a prefix only.
        let name = format!("../{}", "x".repeat(8000));
        let mut tar = header_block(b"././@LongLink", b'L', name.len() as u64 + 1);
        let mut body = name.into_bytes();
        body.push(0);
        body.resize(body.len().div_ceil(512) * 512, 0);
        tar.extend(body);
        tar.extend(header_block(b"x", b'0', 0));
        tar.extend([0u8; 1024]);
        let err = names(gzip(&tar))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("escapes") && err.len() < 400, "{}", err.len());
    }

    #[test]
    fn devices_and_links_are_reported_as_such() -> Result<(), FormatError> {
        let mut tar = header_block(b"package/dev", b'3', 0);
        tar.extend(header_block(b"package/fifo", b'6', 0));
        tar.extend([0u8; 1024]);
        let got = names(gzip(&tar))?;
        assert_eq!(got[0].1, Kind::Other(b'3'));
        assert_eq!(got[1].1, Kind::Other(b'6'));
        Ok(())
    }
}
