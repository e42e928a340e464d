//! Permanent identifiers.

use rand::Rng;
use std::fmt;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A package's permanent identifier: 12 random base62 characters (about 71 bits), never
/// reused; kept by a move, new on a copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlugPerm(String);

impl SlugPerm {
    pub const LEN: usize = 12;

    pub fn generate() -> Self {
        Self(random_base62(Self::LEN))
    }

    /// Accepts only well-formed slugs, so a malformed path segment never reaches a query.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == Self::LEN && text.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SlugPerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `len` characters drawn uniformly from the base62 alphabet by the OS-seeded CSPRNG.
pub fn random_base62(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(BASE62[rng.gen_range(0..BASE62.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_twelve_base62_chars_and_differ() {
        let a = SlugPerm::generate();
        let b = SlugPerm::generate();
        assert_eq!(a.as_str().len(), 12);
        assert_ne!(a, b);
        assert!(SlugPerm::parse(a.as_str()).is_some());
    }

    #[test]
    fn parse_rejects_malformed() {
        for bad in ["", "short", "abcdefghijk!", "abcdefghijklm", "../../etc/pa"] {
            assert!(SlugPerm::parse(bad).is_none(), "{bad}");
        }
    }
}
