//! Splits an npm publish document while it streams in. The document is JSON whose
//! `_attachments.<file>.data` holds the tarball in base64; that one string is decoded into
//! chunks as it arrives (so the tarball never sits in memory whole), and everything else is
//! kept as the document, with the data replaced by an empty string. The document itself is
//! bounded; the tarball is bounded by whoever consumes the chunks.

use base64::Engine as _;
use bytes::Bytes;

/// Deepest nesting accepted in a publish document.
const MAX_DEPTH: usize = 256;
/// Longest object key remembered (longer keys are never the ones looked for).
const MAX_KEY: usize = 256;
/// Base64 characters decoded at once.
const DECODE_BATCH: usize = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SplitError {
    #[error("the publish document is larger than {0} bytes (not counting the tarball)")]
    TooLarge(usize),
    #[error("the publish document is not valid JSON: {0}")]
    Malformed(&'static str),
    #[error("the tarball attachment is not valid base64: {0}")]
    Base64(String),
}

#[derive(Debug)]
struct Frame {
    object: bool,
    key: Option<String>,
    expect_key: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    Str { key: bool, escape: bool },
    Data { escape: bool },
}

#[derive(Debug)]
pub(crate) struct Splitter {
    doc: Vec<u8>,
    max_doc: usize,
    stack: Vec<Frame>,
    state: State,
    key: Vec<u8>,
    pending: Vec<u8>,
    attachments: usize,
}

impl Splitter {
    pub(crate) fn new(max_doc: usize) -> Self {
        Self {
            doc: Vec::new(),
            max_doc,
            stack: Vec::new(),
            state: State::Normal,
            key: Vec::new(),
            pending: Vec::new(),
            attachments: 0,
        }
    }

    /// Whether the string value starting now is `_attachments.<file>.data`.
    fn at_attachment_data(&self) -> bool {
        matches!(
            self.stack.as_slice(),
            [root, files, attachment]
                if root.object && files.object && attachment.object
                && root.key.as_deref() == Some("_attachments")
                && attachment.key.as_deref() == Some("data")
        )
    }

    fn keep(&mut self, byte: u8) -> Result<(), SplitError> {
        if self.doc.len() >= self.max_doc {
            return Err(SplitError::TooLarge(self.max_doc));
        }
        self.doc.push(byte);
        Ok(())
    }

    fn decode(&mut self, all: bool, out: &mut Vec<Bytes>) -> Result<(), SplitError> {
        let usable = if all {
            self.pending.len()
        } else {
            self.pending.len() - self.pending.len() % 4
        };
        if usable == 0 {
            return Ok(());
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&self.pending[..usable])
            .map_err(|e| SplitError::Base64(e.to_string()))?;
        self.pending.drain(..usable);
        if !decoded.is_empty() {
            out.push(Bytes::from(decoded));
        }
        Ok(())
    }

    /// Feeds the next bytes of the document; returns the tarball bytes they completed.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Bytes>, SplitError> {
        let mut out = Vec::new();
        for &b in chunk {
            match self.state {
                State::Data { escape } => {
                    if escape {
                        // Only `\/` can stand for a base64 character; other escapes are
                        // whitespace or invalid and are dropped.
                        if b == b'/' {
                            self.pending.push(b);
                        }
                        self.state = State::Data { escape: false };
                    } else if b == b'\\' {
                        self.state = State::Data { escape: true };
                    } else if b == b'"' {
                        self.decode(true, &mut out)?;
                        self.keep(b'"')?;
                        self.state = State::Normal;
                    } else if !b.is_ascii_whitespace() {
                        self.pending.push(b);
                        if self.pending.len() >= DECODE_BATCH {
                            self.decode(false, &mut out)?;
                        }
                    }
                }
                State::Str { key, escape } => {
                    self.keep(b)?;
                    if escape {
                        self.state = State::Str { key, escape: false };
                    } else if b == b'\\' {
                        self.state = State::Str { key, escape: true };
                    } else if b == b'"' {
                        self.state = State::Normal;
                        if key {
                            let name = String::from_utf8_lossy(&self.key).into_owned();
                            if let Some(top) = self.stack.last_mut() {
                                top.key = Some(name);
                                top.expect_key = false;
                            }
                        }
                    }
                    if key && self.state != State::Normal && self.key.len() < MAX_KEY {
                        self.key.push(b);
                    }
                }
                State::Normal => match b {
                    b'{' | b'[' => {
                        if self.stack.len() >= MAX_DEPTH {
                            return Err(SplitError::Malformed("nested too deeply"));
                        }
                        self.stack.push(Frame {
                            object: b == b'{',
                            key: None,
                            expect_key: b == b'{',
                        });
                        self.keep(b)?;
                    }
                    b'}' | b']' => {
                        let frame = self
                            .stack
                            .pop()
                            .ok_or(SplitError::Malformed("unbalanced brackets"))?;
                        if frame.object != (b == b'}') {
                            return Err(SplitError::Malformed("mismatched brackets"));
                        }
                        self.keep(b)?;
                    }
                    b',' => {
                        if let Some(top) = self.stack.last_mut() {
                            top.expect_key = top.object;
                        }
                        self.keep(b)?;
                    }
                    b'"' => {
                        let is_key = self.stack.last().is_some_and(|t| t.object && t.expect_key);
                        if !is_key && self.at_attachment_data() {
                            self.attachments += 1;
                            self.keep(b'"')?;
                            self.state = State::Data { escape: false };
                        } else {
                            if is_key {
                                self.key.clear();
                            }
                            self.keep(b)?;
                            self.state = State::Str {
                                key: is_key,
                                escape: false,
                            };
                        }
                    }
                    _ => self.keep(b)?,
                },
            }
        }
        Ok(out)
    }

    /// Ends the document: the JSON text without the tarball, and how many attachments it
    /// carried.
    pub(crate) fn finish(self) -> Result<(Vec<u8>, usize), SplitError> {
        if self.state != State::Normal || !self.stack.is_empty() {
            return Err(SplitError::Malformed("the document ends early"));
        }
        Ok((self.doc, self.attachments))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(doc: &str, chunk: usize) -> Result<(String, Vec<u8>, usize), SplitError> {
        let mut s = Splitter::new(1 << 20);
        let mut data = Vec::new();
        for piece in doc.as_bytes().chunks(chunk) {
            for b in s.feed(piece)? {
                data.extend_from_slice(&b);
            }
        }
        let (rest, n) = s.finish()?;
        Ok((String::from_utf8_lossy(&rest).into_owned(), data, n))
    }

    #[test]
    fn takes_the_tarball_out_of_the_document() -> Result<(), SplitError> {
        let payload: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&payload);
        let doc = format!(
            r#"{{"name":"a","versions":{{"1.0.0":{{"data":"not me","x":["\"data\""]}}}},"_attachments":{{"a-1.0.0.tgz":{{"content_type":"application/octet-stream","data":"{b64}","length":200000}}}}}}"#
        );
        for chunk in [1, 7, 4096, doc.len()] {
            let (rest, data, n) = split(&doc, chunk)?;
            assert_eq!(n, 1);
            assert_eq!(data, payload);
            let v: serde_json::Value =
                serde_json::from_str(&rest).map_err(|_| SplitError::Malformed("test"))?;
            assert_eq!(v["_attachments"]["a-1.0.0.tgz"]["data"], "");
            assert_eq!(v["versions"]["1.0.0"]["data"], "not me");
            assert_eq!(v["_attachments"]["a-1.0.0.tgz"]["length"], 200_000);
        }
        Ok(())
    }

    #[test]
    fn refuses_broken_documents() {
        assert!(split(r#"{"a":[1,2}"#, 3).is_err());
        assert!(split(r#"{"a":"#, 3).is_err());
        assert!(split(r#"{"_attachments":{"x":{"data":"!!!!"}}}"#, 3).is_err());
        let mut s = Splitter::new(8);
        assert_eq!(s.feed(br#"{"abcdefghij":1}"#), Err(SplitError::TooLarge(8)));
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(split(&deep, 100).is_err());
    }
}
