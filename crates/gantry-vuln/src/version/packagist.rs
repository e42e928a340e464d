//! Composer (Packagist) version ordering.
//!
//! Follows Composer's `VersionParser::normalize` for release versions: an optional `v`,
//! one to four numeric parts (missing ones `0`), then an optional stability suffix
//! (`[._-]?` then `stable`, `beta`/`b`, `RC`, `alpha`/`a`, `patch`/`pl`/`p`, optionally
//! followed by numbers) and an optional `dev` marker, case-insensitive. Ordering is that
//! of PHP's `version_compare` on the normalised form: numeric parts, then stability
//! `dev < alpha < beta < RC < stable < patch`, then the stability's numbers, and a
//! `-dev` suffix just below the same version without it. Branch names (`dev-main`,
//! `1.x-dev`) are not versions and do not parse.

use super::digits::Num;

/// A parsed Composer version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ComposerVersion {
    parts: [Num; 4],
    /// 0 dev, 1 alpha, 2 beta, 3 RC, 4 stable, 5 patch.
    stability: u8,
    numbers: Vec<Num>,
    /// 0 with a `dev` marker, 1 without: `1.0.0-beta1-dev < 1.0.0-beta1`.
    not_dev: u8,
}

/// Stability words, longer ones before their prefixes.
const STABILITIES: [(&str, u8); 9] = [
    ("stable", 4),
    ("patch", 5),
    ("alpha", 1),
    ("beta", 2),
    ("rc", 3),
    ("pl", 5),
    ("a", 1),
    ("b", 2),
    ("p", 5),
];

/// Reads a run of ASCII digits at the start of `s`.
fn digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

impl ComposerVersion {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix('v').unwrap_or(&s);
        let mut parts = [Num::zero(), Num::zero(), Num::zero(), Num::zero()];
        let (first, mut rest) = digits(s);
        parts[0] = Num::parse(first)?;
        for slot in parts.iter_mut().skip(1) {
            let Some(after_dot) = rest.strip_prefix('.') else {
                break;
            };
            let (d, r) = digits(after_dot);
            if d.is_empty() {
                break;
            }
            *slot = Num::parse(d)?;
            rest = r;
        }
        if rest.is_empty() {
            return Some(Self {
                parts,
                stability: 4,
                numbers: Vec::new(),
                not_dev: 1,
            });
        }
        let mut tail = rest.strip_prefix(['.', '_', '-']).unwrap_or(rest);
        let mut stability = None;
        for (word, rank) in STABILITIES {
            if let Some(t) = tail.strip_prefix(word) {
                stability = Some(rank);
                tail = t;
                break;
            }
        }
        let mut numbers = Vec::new();
        if stability.is_some() {
            loop {
                let t = tail.strip_prefix(['.', '-']).unwrap_or(tail);
                let (d, r) = digits(t);
                if d.is_empty() {
                    break;
                }
                numbers.push(Num::parse(d)?);
                tail = r;
            }
        }
        let dev = if tail.is_empty() {
            false
        } else {
            let t = tail.strip_prefix(['.', '-']).unwrap_or(tail);
            if t != "dev" {
                return None;
            }
            true
        };
        let (stability, numbers) = match stability {
            None if dev => (0, Vec::new()),
            None => return None,
            // "stable" carries no numbers in Composer's normal form.
            Some(4) => (4, Vec::new()),
            Some(rank) => (rank, numbers),
        };
        Some(Self {
            parts,
            stability,
            numbers,
            not_dev: u8::from(!dev),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ComposerVersion;
    use crate::version::testkit::{assert_orders, assert_refuses};
    use std::cmp::Ordering::{self, Equal, Greater, Less};

    #[test]
    fn composer_order() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0.0.0", Equal),
            ("v1.2.3", "1.2.3", Equal),
            ("V1.2.3", "1.2.3", Equal),
            ("1.2.3.4", "1.2.3", Greater),
            ("1.0.0-dev", "1.0.0-alpha", Less),
            ("1.0.0-alpha", "1.0.0-alpha1", Less),
            ("1.0.0-alpha1", "1.0.0-a1", Equal),
            ("1.0.0alpha2", "1.0.0-alpha.2", Equal),
            ("1.0.0-alpha2", "1.0.0-beta1", Less),
            ("1.0.0-b1", "1.0.0-beta1", Equal),
            ("1.0.0-beta2", "1.0.0-beta10", Less),
            ("1.0.0-beta2", "1.0.0-RC1", Less),
            ("1.0.0-RC1", "1.0.0-rc1", Equal),
            ("1.0.0-RC1", "1.0.0", Less),
            ("1.0.0", "1.0.0-stable", Equal),
            ("1.0.0", "1.0.0-patch1", Less),
            ("1.0.0-pl1", "1.0.0-p1", Equal),
            ("1.0.0-p1", "1.0.0.1", Less),
            ("1.0.0-beta1-dev", "1.0.0-beta1", Less),
            ("1.0.0-beta1-dev", "1.0.0-alpha9", Greater),
            ("1.0.0-dev", "0.9.9", Greater),
            ("2.4.5", "2.4.10", Less),
            ("10.0.0", "9.9.9.9", Greater),
            ("1.0.0_beta2", "1.0.0.beta2", Equal),
        ];
        assert_orders(ComposerVersion::parse, cases);
        assert_refuses(
            ComposerVersion::parse,
            &[
                "",
                "dev-main",
                "1.x-dev",
                "1.0.0.0.0",
                "1.0.0-foo",
                "1.0.0-alphax",
                "master",
                "1.0.",
            ],
        );
    }
}
