//! The `.deb` container: an `ar` archive of `debian-binary`, `control.tar[.gz|.xz|.zst]` and
//! `data.tar.*`. Only the control member is read (decompressed under a bound, walked with the
//! toolkit's tar reader: no traversal, no links); `data.tar` is skipped by seeking.

use std::io::{Read, SeekFrom};

use gantry_formats::archive::{self, Flow, Kind, TarLimits};
use gantry_formats::{FormatError, ReadSeek};

/// The control file itself (Debian's tools refuse far smaller ones in practice).
pub(crate) const MAX_CONTROL: u64 = 64 * 1024;
/// The decompressed control archive (maintainer scripts, md5sums, conffiles).
const MAX_CONTROL_TAR: u64 = 16 * 1024 * 1024;
/// The compressed control member.
const MAX_CONTROL_MEMBER: u64 = 16 * 1024 * 1024;
/// Members of the ar archive looked at before `control.tar` must have appeared.
const MAX_MEMBERS: usize = 8;
const LIMITS: TarLimits = TarLimits {
    what: "control archive of the .deb",
    max_entries: 256,
    // The bound is kept by `Bounded`, which says why it stops.
    max_stream: MAX_CONTROL_TAR + 1,
};

fn invalid(message: impl Into<String>) -> FormatError {
    FormatError::Invalid(message.into())
}

/// One ar member header: name and size.
fn member_header(content: &mut dyn ReadSeek) -> Result<Option<(String, u64)>, FormatError> {
    let mut header = [0u8; 60];
    let mut read = 0;
    while read < header.len() {
        match content.read(&mut header[read..]) {
            Ok(0) if read == 0 => return Ok(None),
            Ok(0) => return Err(invalid("the .deb ends inside an ar member header")),
            Ok(n) => read += n,
            Err(e) => return Err(invalid(format!("cannot read the .deb: {e}"))),
        }
    }
    if &header[58..60] != b"`\n" {
        return Err(invalid(
            "the .deb is not a valid ar archive (bad member header)",
        ));
    }
    let name = String::from_utf8_lossy(&header[0..16])
        .trim_end()
        .trim_end_matches('/')
        .to_owned();
    let size = std::str::from_utf8(&header[48..58])
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| invalid("the .deb has an ar member with a malformed size"))?;
    Ok(Some((name, size)))
}

/// The `control` file's bytes, from the `.deb` in `content`.
pub(crate) fn control_file(content: &mut dyn ReadSeek) -> Result<Vec<u8>, FormatError> {
    let mut magic = [0u8; 8];
    content
        .read_exact(&mut magic)
        .map_err(|_| invalid("not a .deb: too short"))?;
    if &magic != b"!<arch>\n" {
        return Err(invalid("not a .deb: it is not an ar archive"));
    }
    let mut position = 8u64;
    for index in 0..MAX_MEMBERS {
        let Some((name, size)) = member_header(content)? else {
            break;
        };
        position += 60;
        if index == 0 && name != "debian-binary" {
            return Err(invalid("not a .deb: the first member is not debian-binary"));
        }
        if let Some(codec) = name.strip_prefix("control.tar") {
            if size > MAX_CONTROL_MEMBER {
                return Err(invalid(format!(
                    "the .deb's control member is larger than {MAX_CONTROL_MEMBER} bytes"
                )));
            }
            let mut member = (&mut *content).take(size);
            return control_from_tar(codec, &mut member);
        }
        if name.contains('/') || name.contains("..") {
            return Err(invalid(format!(
                "the .deb has a member named '{}'",
                archive::quote(&name)
            )));
        }
        // Members are padded to an even length.
        position = position
            .checked_add(size + size % 2)
            .ok_or_else(|| invalid("the .deb has an ar member with a malformed size"))?;
        content
            .seek(SeekFrom::Start(position))
            .map_err(|e| invalid(format!("cannot read the .deb: {e}")))?;
    }
    Err(invalid("the .deb has no control.tar member"))
}

fn control_from_tar(codec: &str, member: &mut dyn Read) -> Result<Vec<u8>, FormatError> {
    match codec {
        "" => find_control(member),
        ".gz" => find_control(&mut flate2::read::GzDecoder::new(member)),
        ".xz" => find_control(&mut liblzma::read::XzDecoder::new(member)),
        ".zst" => {
            let mut decoder = zstd::stream::read::Decoder::new(member)
                .map_err(|e| invalid(format!("cannot read the control archive: {e}")))?;
            find_control(&mut decoder)
        }
        other => Err(invalid(format!(
            "the .deb's control archive is compressed as '{}' (gz, xz or zst expected)",
            archive::quote(other)
        ))),
    }
}

/// A decompressed stream that fails, naming the bound, once it would pass `left` bytes: a
/// bomb is refused as one, not as a truncated archive.
struct Bounded<'r> {
    inner: &'r mut dyn Read,
    left: u64,
}

impl Read for Bounded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(format!(
                    "it decompresses to more than {MAX_CONTROL_TAR} bytes"
                ))),
            };
        }
        let n = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let read = self.inner.read(&mut buf[..n])?;
        self.left -= read as u64;
        Ok(read)
    }
}

fn find_control(tar: &mut dyn Read) -> Result<Vec<u8>, FormatError> {
    let mut control = None;
    let mut bounded = Bounded {
        inner: tar,
        left: MAX_CONTROL_TAR,
    };
    archive::walk_tar(&mut bounded, LIMITS, |entry| {
        if let Kind::Link(_) = entry.kind {
            return Err(invalid(format!(
                "the control archive holds a link ('{}')",
                archive::quote(&entry.path)
            )));
        }
        if matches!(entry.kind, Kind::Other(_)) {
            return Err(invalid(format!(
                "the control archive holds a special file ('{}')",
                archive::quote(&entry.path)
            )));
        }
        let name = entry.path.trim_start_matches("./");
        if name == "control" && entry.kind == Kind::File {
            control = Some(entry.read_bounded(MAX_CONTROL, "the control file")?);
            return Ok(Flow::Stop);
        }
        Ok(Flow::Continue)
    })?;
    control.ok_or_else(|| invalid("the .deb's control archive has no control file"))
}
