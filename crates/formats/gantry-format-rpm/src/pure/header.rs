//! The bounded reader of an RPM file's headers: the 96-byte lead, the signature header
//! (padded to 8 bytes) and the main header. Each header is an index of (tag, type, offset,
//! count) entries over a data store; every count, offset and size is checked against caps and
//! against the store before anything is read, so a hostile file costs at most the caps.

use std::collections::HashMap;
use std::io::Read;

const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 3] = [0x8e, 0xad, 0xe8];
const LEAD_LEN: u64 = 96;

/// Caps on what a header may declare.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Index entries per header.
    pub max_entries: u32,
    /// Bytes of a header's data store.
    pub max_store: u32,
    /// Elements of one array entry.
    pub max_count: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_store: 64 * 1024 * 1024,
            max_count: 1_000_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("not an RPM package: {0}")]
    Malformed(String),
    #[error("reading the package failed: {0}")]
    Io(#[from] std::io::Error),
}

fn bad<T>(msg: impl Into<String>) -> Result<T, HeaderError> {
    Err(HeaderError::Malformed(msg.into()))
}

/// A value of a header entry, decoded by its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Ints(Vec<u64>),
    Strings(Vec<String>),
    Binary(Vec<u8>),
}

/// One parsed header: its values by tag.
#[derive(Debug, Default)]
pub struct Header {
    values: HashMap<u32, Value>,
}

impl Header {
    pub fn string(&self, tag: u32) -> Option<&str> {
        match self.values.get(&tag)? {
            Value::Strings(s) => s.first().map(String::as_str),
            _ => None,
        }
    }

    pub fn strings(&self, tag: u32) -> &[String] {
        match self.values.get(&tag) {
            Some(Value::Strings(s)) => s,
            _ => &[],
        }
    }

    pub fn int(&self, tag: u32) -> Option<u64> {
        match self.values.get(&tag)? {
            Value::Ints(v) => v.first().copied(),
            _ => None,
        }
    }

    pub fn ints(&self, tag: u32) -> &[u64] {
        match self.values.get(&tag) {
            Some(Value::Ints(v)) => v,
            _ => &[],
        }
    }
}

/// Both headers of a package and where the main one sits in the file (the byte range dnf
/// reads with `rpm:header-range`).
#[derive(Debug)]
pub struct Headers {
    pub signature: Header,
    pub main: Header,
    pub header_start: u64,
    pub header_end: u64,
}

/// Reads the lead and both headers from the start of `input`.
pub fn read(input: &mut dyn Read, limits: &Limits) -> Result<Headers, HeaderError> {
    let mut lead = [0u8; LEAD_LEN as usize];
    read_exact(input, &mut lead, "the lead")?;
    if lead[..4] != LEAD_MAGIC {
        return bad("the file does not start with the RPM lead");
    }
    let (signature, sig_len) = read_header(input, limits, "signature")?;
    let pad = (8 - sig_len % 8) % 8;
    let mut skip = [0u8; 8];
    read_exact(input, &mut skip[..pad as usize], "the signature padding")?;
    let header_start = LEAD_LEN + sig_len + pad;
    let (main, main_len) = read_header(input, limits, "main")?;
    Ok(Headers {
        signature,
        main,
        header_start,
        header_end: header_start + main_len,
    })
}

fn read_exact(input: &mut dyn Read, buf: &mut [u8], what: &str) -> Result<(), HeaderError> {
    match input.read_exact(buf) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            bad(format!("the file ends inside {what}"))
        }
        Err(e) => Err(e.into()),
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(word)
}

/// One header structure; returns it with its length in bytes.
fn read_header(
    input: &mut dyn Read,
    limits: &Limits,
    which: &str,
) -> Result<(Header, u64), HeaderError> {
    let mut intro = [0u8; 16];
    read_exact(input, &mut intro, &format!("the {which} header"))?;
    if intro[..3] != HEADER_MAGIC {
        return bad(format!("the {which} header has no header magic"));
    }
    let entries = be32(&intro, 8);
    let store_len = be32(&intro, 12);
    if entries > limits.max_entries {
        return bad(format!(
            "the {which} header has {entries} entries (at most {})",
            limits.max_entries
        ));
    }
    if store_len > limits.max_store {
        return bad(format!(
            "the {which} header's data is {store_len} bytes (at most {})",
            limits.max_store
        ));
    }
    let mut index = vec![0u8; entries as usize * 16];
    read_exact(input, &mut index, &format!("the {which} header index"))?;
    let mut store = vec![0u8; store_len as usize];
    read_exact(input, &mut store, &format!("the {which} header data"))?;
    let mut header = Header::default();
    for entry in index.chunks_exact(16) {
        let (tag, kind, offset, count) = (
            be32(entry, 0),
            be32(entry, 4),
            be32(entry, 8),
            be32(entry, 12),
        );
        if count > limits.max_count {
            return bad(format!(
                "tag {tag} of the {which} header has {count} values"
            ));
        }
        if let Some(value) = decode(&store, kind, offset as usize, count as usize, tag, which)? {
            header.values.insert(tag, value);
        }
    }
    Ok((header, 16 + u64::from(entries) * 16 + u64::from(store_len)))
}

fn decode(
    store: &[u8],
    kind: u32,
    offset: usize,
    count: usize,
    tag: u32,
    which: &str,
) -> Result<Option<Value>, HeaderError> {
    let out_of_range = || {
        HeaderError::Malformed(format!(
            "tag {tag} of the {which} header points outside its data"
        ))
    };
    let slice = |width: usize| -> Result<&[u8], HeaderError> {
        let end = count
            .checked_mul(width)
            .and_then(|n| n.checked_add(offset))
            .ok_or_else(out_of_range)?;
        store.get(offset..end).ok_or_else(out_of_range)
    };
    let value = match kind {
        // CHAR and INT8
        1 | 2 => Value::Ints(slice(1)?.iter().map(|b| u64::from(*b)).collect()),
        3 => Value::Ints(
            slice(2)?
                .chunks_exact(2)
                .map(|c| u64::from(u16::from_be_bytes([c[0], c[1]])))
                .collect(),
        ),
        4 => Value::Ints(
            slice(4)?
                .chunks_exact(4)
                .map(|c| u64::from(be32(c, 0)))
                .collect(),
        ),
        5 => Value::Ints(
            slice(8)?
                .chunks_exact(8)
                .map(|c| (u64::from(be32(c, 0)) << 32) | u64::from(be32(c, 4)))
                .collect(),
        ),
        // STRING (count 1), STRING_ARRAY, I18NSTRING (the first is the C locale's)
        6 | 8 | 9 => {
            let mut rest = store.get(offset..).ok_or_else(out_of_range)?;
            let mut strings = Vec::with_capacity(count.min(4096));
            for _ in 0..count {
                let end = rest.iter().position(|b| *b == 0).ok_or_else(out_of_range)?;
                strings.push(String::from_utf8_lossy(&rest[..end]).into_owned());
                rest = &rest[end + 1..];
            }
            Value::Strings(strings)
        }
        7 => Value::Binary(slice(1)?.to_vec()),
        // NULL and types this reader does not know: ignored, as rpm does with unknown tags.
        _ => return Ok(None),
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header structure with the given (tag, type, count, data) entries.
    pub(crate) fn header_bytes(entries: &[(u32, u32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut store = Vec::new();
        for (tag, kind, count, data) in entries {
            for word in [*tag, *kind, store.len() as u32, *count] {
                index.extend_from_slice(&word.to_be_bytes());
            }
            store.extend_from_slice(data);
        }
        let mut out = vec![0x8e, 0xad, 0xe8, 1, 0, 0, 0, 0];
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(store.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(store);
        out
    }

    fn file(sig: &[u8], main: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; 96];
        out[..4].copy_from_slice(&LEAD_MAGIC);
        out.extend_from_slice(sig);
        out.resize(out.len() + (8 - sig.len() % 8) % 8, 0);
        out.extend_from_slice(main);
        out
    }

    #[test]
    fn reads_strings_ints_and_the_header_range() -> Result<(), HeaderError> {
        let sig = header_bytes(&[(1000, 4, 1, 42u32.to_be_bytes().to_vec())]);
        let main = header_bytes(&[
            (1000, 6, 1, b"hello\0".to_vec()),
            (1047, 8, 2, b"a\0b\0".to_vec()),
            (1003, 4, 1, 3u32.to_be_bytes().to_vec()),
        ]);
        let bytes = file(&sig, &main);
        let h = read(&mut bytes.as_slice(), &Limits::default())?;
        assert_eq!(h.main.string(1000), Some("hello"));
        assert_eq!(h.main.strings(1047), ["a", "b"]);
        assert_eq!(h.main.int(1003), Some(3));
        assert_eq!(h.signature.int(1000), Some(42));
        assert_eq!(
            h.header_start,
            96 + 40,
            "36 bytes of signature header, padded to 40"
        );
        assert_eq!(h.header_end, bytes.len() as u64);
        Ok(())
    }

    #[test]
    fn refuses_hostile_headers_without_panicking() {
        let sig = header_bytes(&[]);
        let cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"not an rpm at all".to_vec(),
            vec![0xed, 0xab, 0xee, 0xdb],
            file(
                &sig,
                &[
                    0x8e, 0xad, 0xe8, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
                ],
            ),
            file(
                &sig,
                &[
                    0x8e, 0xad, 0xe8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                ],
            ),
            // An offset past the store, a string without its end, a count past the cap.
            file(&sig, &header_bytes(&[(1000, 4, 4, vec![0; 4])])),
            file(&sig, &header_bytes(&[(1000, 6, 1, b"abc".to_vec())])),
            file(
                &sig,
                &header_bytes(&[(1000, 8, 0xffff_ffff, b"a\0".to_vec())]),
            ),
        ];
        for bytes in cases {
            assert!(read(&mut bytes.as_slice(), &Limits::default()).is_err());
        }
        let mut truncated = file(&sig, &header_bytes(&[(1000, 6, 1, b"abc\0".to_vec())]));
        truncated.pop();
        assert!(read(&mut truncated.as_slice(), &Limits::default()).is_err());
    }
}
