//! NuGet's `NuGetVersion` ordering: SemVer 2.0 with up to four numeric parts.
//!
//! One to four numeric parts (missing parts are `0`, leading zeros allowed, so `1.0` =
//! `1.0.0.0` = `1.00.0`), an optional pre-release after `-` whose dot-separated labels
//! compare like SemVer 2.0 but case-insensitively (all-digit labels numerically and below
//! alphanumeric ones; more labels win when all shared ones are equal), a release above
//! all of its pre-releases, and build metadata after `+` ignored.

use std::cmp::Ordering;

use super::digits::Num;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    Num(Num),
    /// Lower-cased.
    Text(String),
}

/// A parsed NuGet version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NuGetVersion {
    parts: [Num; 4],
    pre: Vec<Label>,
}

fn valid_label(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl NuGetVersion {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (s, build) = match s.split_once('+') {
            Some((v, b)) => (v, Some(b)),
            None => (s, None),
        };
        if let Some(b) = build {
            if !b.split('.').all(valid_label) {
                return None;
            }
        }
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let numbers: Vec<&str> = core.split('.').collect();
        if numbers.len() > 4 {
            return None;
        }
        let mut parts = [Num::zero(), Num::zero(), Num::zero(), Num::zero()];
        for (slot, text) in parts.iter_mut().zip(&numbers) {
            *slot = Num::parse(text)?;
        }
        let mut labels = Vec::new();
        if let Some(p) = pre {
            for label in p.split('.') {
                if !valid_label(label) {
                    return None;
                }
                labels.push(match Num::parse(label) {
                    Some(n) => Label::Num(n),
                    None => Label::Text(label.to_ascii_lowercase()),
                });
            }
        }
        Some(Self { parts, pre: labels })
    }
}

fn cmp_labels(a: &[Label], b: &[Label]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    for (x, y) in a.iter().zip(b) {
        let ord = match (x, y) {
            (Label::Num(m), Label::Num(n)) => m.cmp(n),
            (Label::Num(_), Label::Text(_)) => Ordering::Less,
            (Label::Text(_), Label::Num(_)) => Ordering::Greater,
            (Label::Text(s), Label::Text(t)) => s.cmp(t),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts
            .cmp(&other.parts)
            .then_with(|| cmp_labels(&self.pre, &other.pre))
    }
}

#[cfg(test)]
mod tests {
    use super::NuGetVersion;
    use crate::version::testkit::{assert_orders, assert_refuses};
    use std::cmp::Ordering::{self, Equal, Greater, Less};

    #[test]
    fn nuget_order() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0.0", Equal),
            ("1", "1.0.0.0", Equal),
            ("1.00.0", "1.0", Equal),
            ("2.0.9.3", "2.0.9", Greater),
            ("2.0.9.3", "2.0.10", Less),
            ("13.0.1", "13.0.1.0", Equal),
            ("7.0.0-preview", "7.0.0", Less),
            ("7.0.0-preview.2", "7.0.0-preview.10", Less),
            ("7.0.0-Preview.2", "7.0.0-preview.2", Equal),
            ("1.0.0-ALPHA", "1.0.0-beta", Less),
            ("1.0.0-alpha", "1.0.0-alpha.1", Less),
            ("1.0.0-1", "1.0.0-alpha", Less),
            ("1.0.0-beta01", "1.0.0-beta02", Less),
            ("1.0.0-rc.1", "1.0.0", Less),
            ("1.0.0+abc", "1.0.0+def", Equal),
            ("1.0.0-rc.1+abc", "1.0.0-rc.1", Equal),
            ("4.5.0", "4.5.0-preview1", Greater),
        ];
        assert_orders(NuGetVersion::parse, cases);
        assert_refuses(
            NuGetVersion::parse,
            &["", "1.0.0.0.0", "a.b", "1.0-", "1.0.0-a..b", "v1.0", "1..0"],
        );
    }
}
