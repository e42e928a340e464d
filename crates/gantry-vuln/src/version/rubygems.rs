//! RubyGems' `Gem::Version` ordering.
//!
//! A version is digits, then `.`-separated alphanumeric parts, optionally followed by a
//! `-` suffix (read as `.pre.`). Segments are the maximal runs of digits or of letters
//! (`1.0a1` is `1, 0, "a", 1`). Any letter makes the version a pre-release. Comparison
//! uses the canonical segments: trailing zeros are dropped from the leading numeric part
//! and from the part after the first letter segment; missing segments count as `0`; a
//! number beats a string, numbers compare numerically and strings lexically. So
//! `1.0.a < 1.0 = 1 < 1.0.0.1`.

use std::cmp::Ordering;

use super::digits::Num;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Num(Num),
    Str(String),
}

/// A parsed RubyGems version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GemVersion {
    canonical: Vec<Segment>,
}

fn is_part_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// `Gem::Version::ANCHORED_VERSION_PATTERN`:
/// `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`.
fn is_valid(s: &str) -> bool {
    let (main, pre) = match s.split_once('-') {
        Some((m, p)) => (m, Some(p)),
        None => (s, None),
    };
    let mut parts = main.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !first_ok || !parts.all(|p| !p.is_empty() && p.chars().all(is_part_char)) {
        return false;
    }
    match pre {
        None => true,
        Some(p) => p
            .split('.')
            .all(|x| !x.is_empty() && x.chars().all(|c| is_part_char(c) || c == '-')),
    }
}

/// Drops trailing numeric zeros.
fn trim_zeros(mut segs: Vec<Segment>) -> Vec<Segment> {
    while matches!(segs.last(), Some(Segment::Num(n)) if n.is_zero()) {
        segs.pop();
    }
    segs
}

impl GemVersion {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if !is_valid(s) {
            return None;
        }
        let s = s.replace('-', ".pre.");
        let mut segments = Vec::new();
        let mut run = String::new();
        let mut run_digits = false;
        for c in s.chars().chain(std::iter::once('.')) {
            let continues =
                !run.is_empty() && c.is_ascii_alphanumeric() && c.is_ascii_digit() == run_digits;
            if continues {
                run.push(c);
                continue;
            }
            if !run.is_empty() {
                segments.push(if run_digits {
                    Segment::Num(Num::parse(&run)?)
                } else {
                    Segment::Str(std::mem::take(&mut run))
                });
                run.clear();
            }
            if c.is_ascii_alphanumeric() {
                run.push(c);
                run_digits = c.is_ascii_digit();
            }
        }
        let split = segments
            .iter()
            .position(|s| matches!(s, Segment::Str(_)))
            .unwrap_or(segments.len());
        let tail = segments.split_off(split);
        let mut canonical = trim_zeros(segments);
        canonical.extend(trim_zeros(tail));
        Some(Self { canonical })
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Num(Num::zero());
        let n = self.canonical.len().max(other.canonical.len());
        for i in 0..n {
            let l = self.canonical.get(i).unwrap_or(&zero);
            let r = other.canonical.get(i).unwrap_or(&zero);
            let ord = match (l, r) {
                (Segment::Num(a), Segment::Num(b)) => a.cmp(b),
                (Segment::Str(a), Segment::Str(b)) => a.cmp(b),
                (Segment::Str(_), Segment::Num(_)) => Ordering::Less,
                (Segment::Num(_), Segment::Str(_)) => Ordering::Greater,
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::GemVersion;
    use crate::version::testkit::{assert_orders, assert_refuses};
    use std::cmp::Ordering::{self, Equal, Greater, Less};

    #[test]
    fn gem_order() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1", Equal),
            ("1.0.0", "1", Equal),
            ("1.0.a", "1.0", Less),
            ("1.0.a", "1", Less),
            ("1.0.0.1", "1", Greater),
            ("1.9.3", "1.10.0", Less),
            ("2.0.0.rc1", "2.0.0", Less),
            ("6.0.0.beta1", "6.0.0.rc1", Less),
            ("1.0.b1", "1.0.a2", Greater),
            ("1.0.a10", "1.0.a9", Greater),
            ("1.0a1", "1.0.a.1", Equal),
            ("1.0.0-1", "1.0.0", Less),
            ("1.0.0-1", "1.0.0.pre.1", Equal),
            ("5.2.4.3", "5.2.4", Greater),
            ("5.2.4.3", "5.2.5", Less),
            ("1.13.10", "1.13.9", Greater),
            ("2.3.0.1", "2.3.0", Greater),
            ("1.2.0.a", "1.2.a", Equal),
            ("1.2.a.0", "1.2.a", Equal),
            (" 1.0 ", "1.0", Equal),
            ("12345678901234567890.1", "12345678901234567890", Greater),
        ];
        assert_orders(GemVersion::parse, cases);
        assert_refuses(
            GemVersion::parse,
            &["", "a", "1..0", "1.0.", ".1", "1.0 beta", "v1.0", "1.0-"],
        );
    }
}
