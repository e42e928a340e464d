//! The identifier of a registered format. Formats are registered by the server, not listed
//! here: a `FormatId` only guarantees the spelling every format id shares, so a malformed
//! value read from a request or a row never reaches a lookup, a path or a query.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A format's id: 1 to 32 characters, lowercase ASCII letters and digits and `-`, starting
/// with a letter (`raw`, `python`, `npm`, `oci`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct FormatId(String);

/// A text that is not a well-formed format id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a format id (lowercase letters, digits and '-', at most 32)")]
pub struct BadFormatId(pub String);

impl FormatId {
    pub const MAX_LEN: usize = 32;

    pub fn parse(text: &str) -> Result<Self, BadFormatId> {
        let well_formed = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(BadFormatId(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FormatId {
    type Error = BadFormatId;

    fn try_from(text: String) -> Result<Self, BadFormatId> {
        Self::parse(&text)
    }
}

impl<'de> Deserialize<'de> for FormatId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for FormatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for FormatId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for FormatId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for FormatId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for FormatId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for FormatId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_format_ids_and_refuses_anything_else() {
        for good in ["raw", "python", "npm", "oci", "go-mod", "deb2"] {
            assert_eq!(
                FormatId::parse(good).map(|f| f.to_string()),
                Ok(good.to_owned())
            );
        }
        let long = "a".repeat(33);
        for bad in [
            "",
            "NPM",
            "1npm",
            "-x",
            "a/b",
            "../raw",
            "ra w",
            long.as_str(),
        ] {
            assert!(FormatId::parse(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<FormatId>("\"Raw\"").is_err());
        assert_eq!(
            serde_json::to_string(&FormatId::parse("raw").ok()).ok(),
            Some("\"raw\"".into())
        );
    }
}
