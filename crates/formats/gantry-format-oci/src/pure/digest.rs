//! Content digests (`algorithm:hex`), image names and tags, as the distribution specification
//! writes them.

use sha2::{Digest as _, Sha256, Sha512};

/// A validated digest: `sha256:` with 64 or `sha512:` with 128 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("unsupported digest algorithm in '{0}' (sha256 and sha512 are supported)")]
    Unsupported(String),
    #[error("invalid digest '{0}'")]
    Invalid(String),
}

impl Digest {
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let quoted = || gantry_core::names::quote_prefix(text, 160);
        let (algorithm, hex) = text
            .split_once(':')
            .ok_or_else(|| DigestError::Invalid(quoted()))?;
        let (algorithm, len) = match algorithm {
            "sha256" => (Algorithm::Sha256, 64),
            "sha512" => (Algorithm::Sha512, 128),
            other
                if !other.is_empty()
                    && other.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b)
                    }) =>
            {
                return Err(DigestError::Unsupported(quoted()))
            }
            _ => return Err(DigestError::Invalid(quoted())),
        };
        if hex.len() != len
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::Invalid(quoted()));
        }
        Ok(Self {
            algorithm,
            hex: hex.to_owned(),
        })
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        Self {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// The digest of `bytes` with this digest's algorithm.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        let computed = match self.algorithm {
            Algorithm::Sha256 => hex::encode(Sha256::digest(bytes)),
            Algorithm::Sha512 => hex::encode(Sha512::digest(bytes)),
        };
        computed == self.hex
    }

    /// Whether stored content with these hex digests has this digest.
    pub fn matches_hex(&self, sha256: &str, sha512: &str) -> bool {
        match self.algorithm {
            Algorithm::Sha256 => self.hex == sha256,
            Algorithm::Sha512 => self.hex == sha512,
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let algorithm = match self.algorithm {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        };
        write!(f, "{algorithm}:{}", self.hex)
    }
}

/// Longest image name (below `OWNER/REPO/`).
pub const MAX_NAME: usize = 200;

/// Whether `name` is a valid image name: `/`-separated components of lowercase letters and
/// digits joined by `.`, `_`, `__` or runs of `-`.
pub fn valid_image_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME && name.split('/').all(valid_component)
}

fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        // A separator: `.`, `_`, `__` or `-+`, always between alphanumerics.
        let run = bytes[i..].iter().take_while(|&&c| c == b).count();
        let ok = match b {
            b'.' => run == 1,
            b'_' => run <= 2,
            b'-' => true,
            _ => false,
        };
        if !ok {
            return false;
        }
        i += run;
    }
    true
}

/// Whether `tag` is a valid tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        let hex64 = "a".repeat(64);
        assert!(Digest::parse(&format!("sha256:{hex64}")).is_ok());
        assert!(Digest::parse(&format!("sha512:{}", "0".repeat(128))).is_ok());
        assert!(matches!(
            Digest::parse(&format!("sha256:{}", "A".repeat(64))),
            Err(DigestError::Invalid(_))
        ));
        assert!(matches!(
            Digest::parse("md5:abc"),
            Err(DigestError::Unsupported(_))
        ));
        assert!(Digest::parse("sha256").is_err());
        assert!(Digest::parse("sha256:abc").is_err());
        let d = Digest::sha256_of(b"hello");
        assert!(d.matches(b"hello"));
        assert!(!d.matches(b"hello!"));
        assert_eq!(Digest::parse(&d.to_string()).ok(), Some(d));
    }

    #[test]
    fn names_and_tags() {
        for ok in ["app", "team/app", "a.b", "a__b", "a---b", "x9/y_z"] {
            assert!(valid_image_name(ok), "{ok}");
        }
        for bad in ["", "App", "a/", "/a", "a..b", "a___b", "-a", "a//b", "a b"] {
            assert!(!valid_image_name(bad), "{bad}");
        }
        assert!(valid_tag("latest") && valid_tag("_v1.0-rc") && valid_tag(&"a".repeat(128)));
        assert!(!valid_tag(".x") && !valid_tag("-x") && !valid_tag(&"a".repeat(129)));
        assert!(!valid_tag("sha256:abc"));
    }
}
