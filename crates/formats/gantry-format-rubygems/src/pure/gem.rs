//! Reading a `.gem`: a plain tar holding `metadata.gz` (the specification as gzipped YAML),
//! `data.tar.gz` (the files) and optionally `checksums.yaml.gz` and signatures. Every layer
//! is bounded: the outer tar's entries, the metadata's compressed and decompressed sizes,
//! and the files archive's entries and unpacked bytes; names that escape, links and device
//! entries are refused at any depth.

use std::io::Read;

use super::spec::{Spec, MAX_METADATA_GZ, MAX_METADATA_YAML};
use crate::archive::{walk_tar, Flow, Kind, TarLimits};
use crate::format::FormatError;

/// The outer tar: a handful of entries.
const OUTER: TarLimits = TarLimits {
    what: "gem (.gem)",
    max_entries: 16,
    max_stream: u64::MAX,
};

/// The files archive inside.
const DATA: TarLimits = TarLimits {
    what: "gem's data.tar.gz",
    max_entries: 50_000,
    max_stream: 2 << 30,
};

/// What a `.gem` holds that Gantry keeps.
#[derive(Debug)]
pub struct Gem {
    pub spec: Spec,
    /// Files in `data.tar.gz`.
    pub files: u64,
    /// Their unpacked size.
    pub unpacked_size: u64,
}

fn invalid(message: impl Into<String>) -> FormatError {
    FormatError::Invalid(message.into())
}

fn gunzip_bounded(compressed: &[u8], max: u64, what: &str) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(compressed)
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| invalid(format!("{what} is not valid gzip: {e}")))?;
    if out.len() as u64 > max {
        return Err(invalid(format!(
            "{what} is larger than {max} bytes unpacked"
        )));
    }
    Ok(out)
}

/// Walks the files archive: counts, sizes, and the refusals.
fn check_data(reader: &mut dyn Read) -> Result<(u64, u64), FormatError> {
    let mut gz = flate2::read::GzDecoder::new(reader);
    let (mut files, mut size) = (0u64, 0u64);
    walk_tar(&mut gz, DATA, |entry| {
        match &entry.kind {
            Kind::File => {
                files += 1;
                size = size.saturating_add(entry.size);
            }
            Kind::Dir => {}
            Kind::Link(_) => {
                return Err(invalid(format!(
                    "the gem's data.tar.gz has a link ('{}'); Gantry accepts no links in gems",
                    crate::archive::quote(&entry.path)
                )))
            }
            Kind::Other(kind) => {
                return Err(invalid(format!(
                    "the gem's data.tar.gz has an entry of type {kind} ('{}')",
                    crate::archive::quote(&entry.path)
                )))
            }
        }
        Ok(Flow::Continue)
    })?;
    if size > DATA.max_stream {
        return Err(invalid("the gem's files are too large unpacked"));
    }
    Ok((files, size))
}

/// Reads and checks a `.gem`.
pub fn read(content: &mut dyn Read) -> Result<Gem, FormatError> {
    let mut spec = None;
    let mut data = None;
    walk_tar(content, OUTER, |entry| {
        let name = entry.path.trim_start_matches("./").to_owned();
        match (&entry.kind, name.as_str()) {
            (Kind::File, "metadata.gz") => {
                if spec.is_some() {
                    return Err(invalid("the gem has two metadata.gz"));
                }
                let gz = entry.read_bounded(MAX_METADATA_GZ, "the gem's metadata.gz")?;
                let yaml = gunzip_bounded(&gz, MAX_METADATA_YAML, "the gem's metadata.gz")?;
                spec = Some(Spec::from_yaml(&yaml)?);
            }
            (Kind::File, "data.tar.gz") => {
                if data.is_some() {
                    return Err(invalid("the gem has two data.tar.gz"));
                }
                data = Some(check_data(entry.reader())?);
            }
            (Kind::File, _) => {}
            (Kind::Dir, _) => {}
            _ => {
                return Err(invalid(format!(
                    "the gem has an entry '{}' that is not a file",
                    crate::archive::quote(&entry.path)
                )))
            }
        }
        Ok(Flow::Continue)
    })?;
    let spec = spec.ok_or_else(|| invalid("not a gem: it has no metadata.gz"))?;
    let (files, unpacked_size) = data.ok_or_else(|| invalid("not a gem: it has no data.tar.gz"))?;
    Ok(Gem {
        spec,
        files,
        unpacked_size,
    })
}
