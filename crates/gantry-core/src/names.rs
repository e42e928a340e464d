//! Validated owner (namespace) and repository names.

use std::fmt;

/// Owner names that would collide with top-level routes.
pub const RESERVED_OWNERS: &[&str] = &["api", "v2", "ui", "static", "metrics", "healthz", "readyz"];

const MAX_NAME_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{kind} name must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} name '{name}' is longer than {MAX_NAME_LEN} characters")]
    TooLong { kind: &'static str, name: String },
    #[error(
        "{kind} name '{name}' may contain only lowercase letters, digits, '-', '_' and '.', and must start with a letter or digit"
    )]
    InvalidCharacters { kind: &'static str, name: String },
    #[error("owner name '{0}' is reserved")]
    Reserved(String),
}

fn validate(kind: &'static str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { kind });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            kind,
            name: name.to_owned(),
        });
    }
    let first_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    if !first_ok || !rest_ok {
        return Err(NameError::InvalidCharacters {
            kind,
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Characters refused in any name, version or filename a client hands in, inside or outside an
/// archive: control characters, the invisible marks that reorder or hide text (a right-to-left
/// override makes `exe.txt` read as `txt.exe`), and U+FFFD, which is what invalid UTF-8 became
/// on its way in (the original bytes are lost, so storing it would keep a name the client never
/// sent).
pub fn is_odd_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{FFFD}'
        )
}

/// A text for an error message: at most `max` characters of `text`, escaped so that control
/// and bidirectional characters show as escapes, marked when cut. Error bodies never echo an
/// unbounded client value.
pub fn quote_prefix(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if is_odd_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// A namespace name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnerName(String);

impl OwnerName {
    pub fn parse(name: &str) -> Result<Self, NameError> {
        validate("owner", name)?;
        if RESERVED_OWNERS.contains(&name) {
            return Err(NameError::Reserved(name.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A repository name inside a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoName(String);

impl RepoName {
    pub fn parse(name: &str) -> Result<Self, NameError> {
        validate("repository", name)?;
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OwnerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_characters_are_spotted_and_quoted_safely() {
        for odd in ['\u{202E}', '\u{FFFD}', '\n', '\0', '\u{2066}', '\u{200F}'] {
            assert!(is_odd_char(odd), "{odd:?}");
        }
        for fine in ['a', 'é', '中', '-', '\u{200D}'] {
            assert!(!is_odd_char(fine), "{fine:?}");
        }
        assert_eq!(quote_prefix("ab\u{202E}c", 10), "ab\\u{202e}c");
        assert_eq!(quote_prefix(&"x".repeat(1000), 5), "xxxxx…");
    }

    #[test]
    fn accepts_good_names() {
        for good in ["acme", "dev", "a.b_c-d", "0day", "x"] {
            assert!(OwnerName::parse(good).is_ok(), "{good}");
            assert!(RepoName::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        let long = "a".repeat(65);
        for bad in [
            "",
            "Acme",
            "-dev",
            ".hidden",
            "a/b",
            "a b",
            "..",
            "ü",
            long.as_str(),
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserved_owners_are_refused_but_fine_as_repo_names() {
        for r in RESERVED_OWNERS {
            assert_eq!(
                OwnerName::parse(r),
                Err(NameError::Reserved((*r).to_owned()))
            );
            assert!(RepoName::parse(r).is_ok());
        }
    }
}
