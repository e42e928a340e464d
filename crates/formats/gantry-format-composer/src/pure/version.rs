//! Versions, normalised the way Composer's version parser does it, so that the
//! `version_normalized` Gantry serves is the one Composer would compute: `v1.2` is `1.2.0.0`,
//! `1.0.0-rc1` is `1.0.0.0-RC1`, `2.1.x-dev` is `2.1.9999999.9999999-dev`, branches are
//! `dev-NAME`, dates keep their parts. Anything Composer would refuse is refused.

use crate::archive::quote;
use crate::format::{check_version_len, FormatError};

/// Stability words in the order Composer tries them, each with its normal form.
const STABILITIES: [(&str, &str); 9] = [
    ("stable", "stable"),
    ("beta", "beta"),
    ("b", "beta"),
    ("rc", "RC"),
    ("alpha", "alpha"),
    ("a", "alpha"),
    ("patch", "patch"),
    ("pl", "patch"),
    ("p", "patch"),
];

/// What follows the numbers of a version: a stability with its numbers, and `-dev`.
#[derive(Debug, PartialEq, Eq)]
struct Modifier {
    /// The word as written and its numbers (`RC`, `.1`).
    stability: Option<(String, &'static str, String)>,
    dev: bool,
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `([.-]?\d+)*`, taken greedily: the numbers and the rest.
fn numbers(text: &str) -> (&str, &str) {
    let bytes = text.as_bytes();
    let mut end = 0;
    loop {
        let start = end + usize::from(matches!(bytes.get(end), Some(b'.' | b'-')));
        let digits = bytes[start.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            break;
        }
        end = start + digits;
    }
    (&text[..end], &text[end..])
}

/// `([.-]?dev)?$`: whether the rest is empty (`Some(false)`) or a dev suffix (`Some(true)`).
fn dev_suffix(text: &str) -> Option<bool> {
    if text.is_empty() {
        return Some(false);
    }
    let rest = text.strip_prefix(['.', '-']).unwrap_or(text);
    strip_prefix_ci(rest, "dev")
        .filter(|r| r.is_empty())
        .map(|_| true)
}

/// Composer's modifier: `[._-]?(?:(STABILITY)((?:[.-]?\d+)*+)?)?([.-]?dev)?$`.
fn modifier(text: &str) -> Option<Modifier> {
    let seps: &[usize] = if text.starts_with(['.', '_', '-']) {
        &[1, 0]
    } else {
        &[0]
    };
    for &sep in seps {
        let rest = &text[sep..];
        for (word, normal) in STABILITIES {
            let Some(after) = strip_prefix_ci(rest, word) else {
                continue;
            };
            let (nums, after) = numbers(after);
            if let Some(dev) = dev_suffix(after) {
                let written = rest[..word.len()].to_owned();
                return Some(Modifier {
                    stability: Some((written, normal, nums.to_owned())),
                    dev,
                });
            }
        }
        if let Some(dev) = dev_suffix(rest) {
            return Some(Modifier {
                stability: None,
                dev,
            });
        }
    }
    None
}

fn with_modifier(mut version: String, m: Modifier) -> String {
    if let Some((written, normal, nums)) = m.stability {
        if written == "stable" {
            return version;
        }
        version.push('-');
        version.push_str(normal);
        version.push_str(nums.trim_start_matches(['.', '-']));
    }
    if m.dev {
        version.push_str("-dev");
    }
    version
}

fn leading_digits(text: &str, max: usize) -> Option<(&str, &str)> {
    let n = text.bytes().take_while(u8::is_ascii_digit).count();
    (n > 0 && n <= max).then(|| text.split_at(n))
}

/// `v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?` and a modifier.
fn classical(text: &str) -> Option<String> {
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let (major, mut rest) = leading_digits(text, 5)?;
    let mut version = major.to_owned();
    let mut parts = 1;
    while parts < 4 {
        let Some((part, after)) = rest
            .strip_prefix('.')
            .and_then(|r| leading_digits(r, usize::MAX))
        else {
            break;
        };
        version.push('.');
        version.push_str(part);
        rest = after;
        parts += 1;
    }
    for _ in parts..4 {
        version.push_str(".0");
    }
    Some(with_modifier(version, modifier(rest)?))
}

/// Ends of `\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?` at the start of `text`, longest first.
fn date_ends(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let digits_at =
        |i: usize, n: usize| i + n <= b.len() && b[i..i + n].iter().all(u8::is_ascii_digit);
    let sep_at = |i: usize| b.get(i).is_some_and(|c| matches!(c, b'.' | b':' | b'-'));
    if !digits_at(0, 4) {
        return Vec::new();
    }
    let mut ends = Vec::new();
    // Each state: (position, pairs taken).
    let mut states = vec![(4usize, 0usize)];
    while let Some((pos, pairs)) = states.pop() {
        if pairs >= 1 {
            ends.push(pos);
            for n in 1..=3 {
                for start in [pos + usize::from(sep_at(pos)), pos] {
                    if digits_at(start, n) {
                        ends.push(start + n);
                    }
                }
            }
        }
        if pairs < 6 {
            for start in [pos + usize::from(sep_at(pos)), pos] {
                if digits_at(start, 2) {
                    states.push((start + 2, pairs + 1));
                }
            }
        }
    }
    ends.sort_unstable_by(|a, b| b.cmp(a));
    ends.dedup();
    ends
}

/// Date versions (`20240102`, `2024.01.02-1`): the date's parts joined by dots.
fn date(text: &str) -> Option<String> {
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    for end in date_ends(text) {
        if let Some(m) = modifier(&text[end..]) {
            let version: String = text[..end]
                .chars()
                .map(|c| if c.is_ascii_digit() { c } else { '.' })
                .collect();
            return Some(with_modifier(version, m));
        }
    }
    None
}

/// A numeric branch (`1.x`, `2.1.*`): its `9999999` form with `-dev`.
fn numeric_branch(name: &str) -> Option<String> {
    let name = name.strip_prefix(['v', 'V']).unwrap_or(name);
    let mut parts = name.split('.');
    let major = parts
        .next()
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    let mut out = major.to_owned();
    let mut count = 1;
    for part in parts {
        count += 1;
        let wild = matches!(part, "x" | "X" | "*");
        if count > 4 || !(wild || (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))) {
            return None;
        }
        out.push('.');
        out.push_str(if wild { "9999999" } else { part });
    }
    for _ in count..4 {
        out.push_str(".9999999");
    }
    Some(format!("{out}-dev"))
}

/// Composer's normal form of `version`, or why it is not a version.
pub fn normalize(version: &str) -> Result<String, FormatError> {
    check_version_len(version)?;
    let invalid = || {
        FormatError::Invalid(format!(
            "'{}' is not a Composer version (e.g. 1.2.3, v2.0.0-beta1, 1.x-dev, dev-main)",
            quote(version)
        ))
    };
    if version.is_empty()
        || version
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '@' | '|' | '#'))
    {
        return Err(invalid());
    }
    let version = if matches!(version, "master" | "trunk" | "default") {
        format!("dev-{version}")
    } else {
        version.to_owned()
    };
    if let Some(branch) = strip_prefix_ci(&version, "dev-") {
        if branch.is_empty() {
            return Err(invalid());
        }
        return Ok(format!("dev-{branch}"));
    }
    let core = match version.split_once('+') {
        Some((core, build)) if !core.is_empty() && !build.is_empty() => core,
        Some(_) => return Err(invalid()),
        None => &version,
    };
    if let Some(normal) = classical(core).or_else(|| date(core)) {
        return Ok(normal);
    }
    let lower = core.to_ascii_lowercase();
    if let Some(stem) = lower.strip_suffix("dev") {
        let stem = stem.strip_suffix(['.', '-']).unwrap_or(stem);
        if let Some(normal) = numeric_branch(&core[..stem.len()]) {
            return Ok(normal);
        }
    }
    Err(invalid())
}

/// Whether a normalised version is a development version (served in the `~dev` file).
pub fn is_dev(normalized: &str) -> bool {
    normalized.starts_with("dev-") || normalized.ends_with("-dev")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_as_composer_does() {
        for (given, normal) in [
            ("1.0.0", "1.0.0.0"),
            ("1.2.3.4", "1.2.3.4"),
            ("v1.0", "1.0.0.0"),
            ("0", "0.0.0.0"),
            ("1.0.0-rc1", "1.0.0.0-RC1"),
            ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
            ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0-beta.5+foo", "1.0.0.0-beta5"),
            ("1.0-b2", "1.0.0.0-beta2"),
            ("1.0.0-pl3", "1.0.0.0-patch3"),
            ("1.0.0-p1", "1.0.0.0-patch1"),
            ("1.0-a", "1.0.0.0-alpha"),
            ("1.0.0-alpha.1.2", "1.0.0.0-alpha1.2"),
            ("1.0.0-stable", "1.0.0.0"),
            ("2.1-dev", "2.1.0.0-dev"),
            ("20100102", "20100102"),
            ("123456", "123456"),
            ("20100102-203040", "20100102.203040"),
            ("2010.01.02", "2010.01.02.0"),
            ("2010.01.02", "2010.01.02.0"),
            ("2010-01-02.5", "2010.01.02.5"),
            ("dev-master", "dev-master"),
            ("master", "dev-master"),
            ("dev-feature/foo", "dev-feature/foo"),
            ("DEV-main", "dev-main"),
            ("1.x-dev", "1.9999999.9999999.9999999-dev"),
            ("1.0.x-dev", "1.0.9999999.9999999-dev"),
            ("v2.1.*-dev", "2.1.9999999.9999999-dev"),
            ("1.x.x-dev", "1.9999999.9999999.9999999-dev"),
        ] {
            assert_eq!(normalize(given).ok().as_deref(), Some(normal), "{given}");
        }
        for bad in [
            "",
            "foo",
            "1.0.0-meh",
            "1.0.0.0.0",
            "feature-dev",
            "dev-",
            "1.0 as 2.0",
            "1.0@dev",
            "1.0+",
            "1.0.0\n",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
        assert!(normalize(&"1".repeat(300)).is_err());
    }

    #[test]
    fn dev_versions_are_told_apart() {
        assert!(is_dev("dev-main"));
        assert!(is_dev("1.0.9999999.9999999-dev"));
        assert!(is_dev("1.0.0.0-RC1-dev"));
        assert!(!is_dev("1.0.0.0-RC1"));
    }
}
