//! Gem names, versions and platforms: what Gantry accepts, checked before anything is stored.
//! Names and platforms become file names (`NAME-VERSION[-PLATFORM].gem`) and index lines,
//! so they are kept to the characters RubyGems itself allows.

use std::cmp::Ordering;

use crate::format::FormatError;

/// Longest gem name.
pub const MAX_NAME: usize = 100;
/// Longest version.
pub const MAX_VERSION: usize = 128;
/// Longest platform.
pub const MAX_PLATFORM: usize = 64;
/// The platform of a gem of pure Ruby.
pub const RUBY: &str = "ruby";

fn invalid(message: String) -> FormatError {
    FormatError::Invalid(message)
}

/// A gem name: ASCII letters, digits, `.`, `-` and `_`, with at least one letter, not
/// starting with `.` or `-`.
pub fn check_name(name: &str) -> Result<(), FormatError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && name.bytes().any(|b| b.is_ascii_alphabetic())
        && !name.starts_with(['.', '-']);
    if ok {
        return Ok(());
    }
    Err(invalid(format!(
        "'{}' is not a valid gem name (ASCII letters, digits, '.', '-' and '_', with a letter, not starting with '.' or '-', at most {MAX_NAME} characters)",
        crate::archive::quote(name)
    )))
}

/// `Gem::Version`'s pattern: `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`.
pub fn is_version(version: &str) -> bool {
    if version.is_empty() || version.len() > MAX_VERSION {
        return false;
    }
    let (main, pre) = match version.split_once('-') {
        Some((main, pre)) => (main, Some(pre)),
        None => (version, None),
    };
    let mut parts = main.split('.');
    let first = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let rest = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    let pre = pre.is_none_or(|p| {
        p.split('.')
            .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    first && rest && pre
}

pub fn check_version(version: &str) -> Result<(), FormatError> {
    if is_version(version) {
        return Ok(());
    }
    Err(invalid(format!(
        "'{}' is not a valid gem version (digits, then '.'-separated letters and digits, e.g. 1.2.3 or 2.0.0.rc1)",
        crate::archive::quote(version)
    )))
}

/// A version with a letter is a pre-release (`Gem::Version#prerelease?`).
pub fn is_prerelease(version: &str) -> bool {
    version.bytes().any(|b| b.is_ascii_alphabetic())
}

/// `Gem::Version` ordering (the vulnerability matcher's, so both agree); versions that do
/// not parse sort first.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    gantry_vuln::compare(gantry_vuln::Ecosystem::RubyGems, a, b).unwrap_or_else(|| a.cmp(b))
}

/// A platform: `ruby` or a name such as `x86_64-linux`, `java`, `universal-darwin-22`.
pub fn check_platform(platform: &str) -> Result<(), FormatError> {
    let ok = !platform.is_empty()
        && platform.len() <= MAX_PLATFORM
        && platform
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !platform.starts_with(['.', '-']);
    if ok {
        return Ok(());
    }
    Err(invalid(format!(
        "'{}' is not a valid gem platform",
        crate::archive::quote(platform)
    )))
}

/// `NAME-VERSION` or `NAME-VERSION-PLATFORM` (RubyGems' `full_name`): the stem of the
/// `.gem` and `.gemspec.rz` file names.
pub fn full_name(name: &str, version: &str, platform: &str) -> String {
    if platform.is_empty() || platform == RUBY {
        format!("{name}-{version}")
    } else {
        format!("{name}-{version}-{platform}")
    }
}

/// The stored qualifier of a platform: empty for `ruby`, so a gem of pure Ruby has the plain
/// identity `(name, version)`.
pub fn qualifier(platform: &str) -> &str {
    if platform == RUBY {
        ""
    } else {
        platform
    }
}

/// The platform a stored qualifier stands for.
pub fn platform_of(qualifier: &str) -> &str {
    if qualifier.is_empty() {
        RUBY
    } else {
        qualifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_versions_and_platforms() {
        for good in ["rack", "hello_world", "net-http", "a1", "Rails.x"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "123",
            ".hidden",
            "-x",
            "a/b",
            "a b",
            "..",
            "é",
            &"a".repeat(101),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for good in ["1", "1.0", "2.0.0.rc1", "1.0a1", "1.0.0-1", "1.0.0-beta.2"] {
            assert!(is_version(good), "{good}");
        }
        for bad in [
            "", "a", "1..0", "1.0.", ".1", "1.0 beta", "v1.0", "1.0-", "1/0",
        ] {
            assert!(!is_version(bad), "{bad}");
        }
        assert!(is_prerelease("2.0.0.rc1") && !is_prerelease("2.0.0"));
        assert_eq!(compare_versions("1.10", "1.9"), Ordering::Greater);
        assert_eq!(compare_versions("1.0.a", "1.0"), Ordering::Less);
        assert!(check_platform("x86_64-linux").is_ok());
        assert!(check_platform("../x").is_err());
        assert_eq!(full_name("a", "1.0", "ruby"), "a-1.0");
        assert_eq!(full_name("a", "1.0", "java"), "a-1.0-java");
        assert_eq!((qualifier("ruby"), platform_of("")), ("", "ruby"));
    }
}
