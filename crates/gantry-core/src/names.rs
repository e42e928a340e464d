//! Validated owner (namespace) and repository names.

use std::fmt;

/// Owner names that would collide with top-level routes.
pub const RESERVED_OWNERS: &[&str] = &["api", "v2", "ui", "static", "metrics", "healthz"];

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
