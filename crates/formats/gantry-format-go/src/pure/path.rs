//! Module paths: the rules the go command checks (`module.CheckPath`), the major-version
//! suffix (`/v2`, gopkg.in's `.v2`), and the case-encoding proxies use in URLs, where every
//! upper-case letter is written `!` and its lower-case form so that paths stay distinct on
//! case-insensitive file systems.

use crate::format::FormatError;
use gantry_formats::archive::quote;

/// Longest module path accepted. Go sets no bound; real paths stay far below it, and a path
/// is stored, indexed and echoed in every answer.
pub const MAX_PATH_LEN: usize = 512;

fn invalid(path: &str, why: &str) -> FormatError {
    FormatError::Invalid(format!("malformed module path '{}': {why}", quote(path)))
}

/// Names Windows reserves, refused as path elements (before their first dot).
const WINDOWS_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// What a path element is checked as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Module,
    File,
}

fn char_ok(c: char, kind: Kind) -> bool {
    if c.is_ascii_alphanumeric() {
        return true;
    }
    match kind {
        Kind::Module => matches!(c, '-' | '.' | '_' | '~'),
        // Shell specials, separators and characters Windows or macOS refuse stay out.
        Kind::File => "!#$%&()+,-.=@[]^_{}~ ".contains(c) || (!c.is_ascii() && c.is_alphabetic()),
    }
}

/// Checks one element of a module or file path as the go command does.
pub(crate) fn check_element(elem: &str, kind: Kind) -> Result<(), String> {
    if elem.is_empty() {
        return Err("empty path element".into());
    }
    if elem.bytes().all(|b| b == b'.') {
        return Err(format!("invalid path element '{}'", quote(elem)));
    }
    if kind == Kind::Module && elem.starts_with('.') {
        return Err("leading dot in path element".into());
    }
    if elem.ends_with('.') {
        return Err("trailing dot in path element".into());
    }
    if let Some(c) = elem.chars().find(|&c| !char_ok(c, kind)) {
        return Err(format!("invalid char {c:?}"));
    }
    let short = elem.split('.').next().unwrap_or(elem);
    if WINDOWS_NAMES.iter().any(|n| n.eq_ignore_ascii_case(short)) {
        return Err(format!("'{}' is a disallowed path element", quote(elem)));
    }
    if kind == Kind::File {
        // Windows short names (`PROGRA~1`) could alias another file.
        if let Some((_, tail)) = short.rsplit_once('~') {
            if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("trailing tilde and digits in '{}'", quote(elem)));
            }
        }
    }
    Ok(())
}

/// Checks a module path: elements of ASCII letters, digits and `-._~`, a first element with a
/// dot in it (a host name, lower case), and a well-formed major-version suffix.
pub fn check_path(path: &str) -> Result<(), FormatError> {
    if path.len() > MAX_PATH_LEN {
        return Err(invalid(path, &format!("longer than {MAX_PATH_LEN} bytes")));
    }
    if path.is_empty() {
        return Err(invalid(path, "empty"));
    }
    if path.starts_with('/') || path.ends_with('/') {
        return Err(invalid(path, "leading or trailing slash"));
    }
    for elem in path.split('/') {
        check_element(elem, Kind::Module).map_err(|why| invalid(path, &why))?;
    }
    let first = path.split('/').next().unwrap_or(path);
    if !first.contains('.') {
        return Err(invalid(path, "missing dot in first path element"));
    }
    if first.starts_with('-') {
        return Err(invalid(path, "leading dash in first path element"));
    }
    if let Some(c) = first
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.')))
    {
        return Err(invalid(
            path,
            &format!("invalid char {c:?} in first path element"),
        ));
    }
    split_major(path).ok_or_else(|| invalid(path, "invalid major version suffix"))?;
    Ok(())
}

/// The path without its major-version suffix, and the major version the suffix demands
/// (`None` without one): `example.com/m/v2` → (`example.com/m`, 2), `gopkg.in/yaml.v3` →
/// (`gopkg.in/yaml`, 3). `None` overall when the suffix is malformed (`/v1`, `/v02`).
pub fn split_major(path: &str) -> Option<(&str, Option<u64>)> {
    if let Some(rest) = path.strip_prefix("gopkg.in/") {
        let (_, suffix) = rest.rsplit_once(".v")?;
        let major = parse_major(suffix)?;
        let unstable = suffix.strip_prefix(&major.to_string())? == "-unstable";
        if !(suffix == major.to_string() || unstable) {
            return None;
        }
        let cut = path.len() - suffix.len() - 2;
        return Some((&path[..cut], Some(major)));
    }
    match path.rsplit_once('/') {
        Some((base, last))
            if last.len() > 1
                && last.starts_with('v')
                && last[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            let major = parse_major(&last[1..])?;
            (major >= 2).then_some((base, Some(major)))
        }
        _ => Some((path, None)),
    }
}

fn parse_major(digits: &str) -> Option<u64> {
    let digits = digits.strip_suffix("-unstable").unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    digits.parse().ok()
}

/// The case-encoded form of a module path or version, as it appears in proxy URLs.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Decodes a case-encoded path or version; `None` for anything `escape` cannot produce
/// (an upper-case letter, a `!` not followed by a lower-case letter).
pub fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut bang = false;
    for c in text.chars() {
        if bang {
            if !c.is_ascii_lowercase() {
                return None;
            }
            out.push(c.to_ascii_uppercase());
            bang = false;
        } else if c == '!' {
            bang = true;
        } else if c.is_ascii_uppercase() {
            return None;
        } else {
            out.push(c);
        }
    }
    (!bang).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses_paths_as_go_does() {
        for ok in [
            "example.com/m",
            "github.com/Azure/azure-sdk",
            "example.com/m/v2",
            "gopkg.in/yaml.v3",
            "golang.org/x/net",
            "example.com/a~b_c.d",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "example",
            "Example.com/m",
            "/example.com/m",
            "example.com/m/",
            "example.com//m",
            "example.com/../m",
            "example.com/.m",
            "example.com/m.",
            "example.com/m/v1",
            "example.com/m/v02",
            "example.com/con",
            "example.com/a b",
            "example.com/a@b",
            "gopkg.in/yaml",
            "-x.com/m",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert!(check_path(&format!("example.com/{}", "a".repeat(600))).is_err());
    }

    #[test]
    fn splits_major_versions() {
        assert_eq!(
            split_major("example.com/m/v2"),
            Some(("example.com/m", Some(2)))
        );
        assert_eq!(split_major("example.com/m"), Some(("example.com/m", None)));
        assert_eq!(
            split_major("gopkg.in/yaml.v3"),
            Some(("gopkg.in/yaml", Some(3)))
        );
        assert_eq!(split_major("example.com/m/v1"), None);
    }

    #[test]
    fn case_encoding_round_trips_and_refuses_the_ambiguous() {
        assert_eq!(escape("github.com/Azure/x"), "github.com/!azure/x");
        assert_eq!(escape("v1.0.0-RC1"), "v1.0.0-!r!c1");
        assert_eq!(
            unescape("github.com/!azure/x").as_deref(),
            Some("github.com/Azure/x")
        );
        assert_eq!(unescape("github.com/Azure/x"), None);
        assert_eq!(unescape("a!"), None);
        assert_eq!(unescape("a!1"), None);
        assert_eq!(unescape("a!!b"), None);
    }
}
