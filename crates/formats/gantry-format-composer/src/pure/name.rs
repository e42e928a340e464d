//! Package names: `vendor/package`, lower case, each part words of letters and digits joined
//! by one separator (`_`, `.`, `-`; the package part also `--`), as Composer validates them.

use crate::archive::quote;
use crate::format::FormatError;

/// Longest name accepted; real names stay far below.
pub const MAX_NAME: usize = 200;

/// Whether `part` is words of `[a-z0-9]` joined by single separators from `seps` (and, when
/// `double_dash`, by `--` too).
fn words(part: &str, seps: &[u8], double_dash: bool) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().copied().is_some_and(alnum) || !bytes.last().copied().is_some_and(alnum) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let run = bytes[i..].iter().take_while(|b| !alnum(**b)).count();
        let ok = match run {
            1 => seps.contains(&bytes[i]),
            2 => double_dash && &bytes[i..i + 2] == b"--",
            _ => false,
        };
        if !ok {
            return false;
        }
        i += run;
    }
    true
}

/// Checks a package name, with an error saying what Composer expects.
pub fn check_name(name: &str) -> Result<(), FormatError> {
    let bad = |why: &str| {
        FormatError::Invalid(format!(
            "'{}' is not a valid Composer package name: {why}",
            quote(name)
        ))
    };
    if name.len() > MAX_NAME {
        return Err(bad(&format!("longer than {MAX_NAME} characters")));
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad("package names are lower case"));
    }
    let Some((vendor, package)) = name.split_once('/') else {
        return Err(bad(
            "it needs a vendor, a slash and a package name (vendor/package)",
        ));
    };
    if !words(vendor, b"_.-", false) || !words(package, b"_.-", true) {
        return Err(bad(
            "vendor and package are words of a-z and 0-9 separated by -, . or _",
        ));
    }
    Ok(())
}

/// The name split into vendor and package, if it is valid.
pub fn split(name: &str) -> Option<(&str, &str)> {
    check_name(name).ok()?;
    name.split_once('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_composers_rules() {
        for good in [
            "acme/hello",
            "a/b",
            "acme-corp/hello.world",
            "acme_corp/hello--world",
            "v1/x_y.z-9",
        ] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "Acme/hello",
            "acme",
            "acme/",
            "/hello",
            "acme/hello/x",
            "acme--corp/hello",
            "acme/-hello",
            "acme/hello-",
            "acme/hello---x",
            "acme/hel lo",
            "acme/../x",
            "acme/h\u{e9}llo",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&format!("acme/{}", "x".repeat(MAX_NAME))).is_err());
        assert_eq!(split("acme/hello"), Some(("acme", "hello")));
    }
}
