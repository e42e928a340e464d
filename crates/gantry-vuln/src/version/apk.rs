//! Alpine package versions (`1.2.3a_rc1_p2-r4`), ordered as apk orders them: the dotted
//! numbers (more components win when the shared ones are equal), then the optional letter
//! (none below any), then the suffixes (`_alpha` < `_beta` < `_pre` < `_rc` < none <
//! `_cvs` < `_svn` < `_git` < `_hg` < `_p`, each with an optional number), then the
//! package revision `-rN` (none below `-r0`).

use std::cmp::Ordering;

use super::digits::Num;

const MAX_LEN: usize = 256;
const MAX_PARTS: usize = 32;

/// Suffixes by rank; the ones before `NONE` mark pre-releases.
const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
/// Where "no suffix" ranks among [`SUFFIXES`].
const NONE: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApkVersion {
    numbers: Vec<Num>,
    letter: Option<u8>,
    /// Rank (a [`SUFFIXES`] index, shifted past [`NONE`] for post-release ones) and number.
    suffixes: Vec<(usize, Num)>,
    revision: Option<Num>,
}

impl ApkVersion {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() || s.len() > MAX_LEN {
            return None;
        }
        let (main, revision) = match s.split_once("-r") {
            Some((m, r)) => (m, Some(Num::parse(r)?)),
            None => (s, None),
        };
        let mut pieces = main.split('_');
        let head = pieces.next()?;
        let (dotted, letter) = match head.as_bytes().last() {
            Some(c) if c.is_ascii_lowercase() => (&head[..head.len() - 1], Some(*c)),
            _ => (head, None),
        };
        let numbers = dotted
            .split('.')
            .map(Num::parse)
            .collect::<Option<Vec<_>>>()?;
        let mut suffixes = Vec::new();
        for piece in pieces {
            let digits = piece.trim_start_matches(|c: char| c.is_ascii_lowercase());
            let word = &piece[..piece.len() - digits.len()];
            let index = SUFFIXES.iter().position(|s| *s == word)?;
            let rank = if index < NONE { index } else { index + 1 };
            let number = if digits.is_empty() {
                Num::zero()
            } else {
                Num::parse(digits)?
            };
            suffixes.push((rank, number));
        }
        if numbers.len() + suffixes.len() > MAX_PARTS {
            return None;
        }
        Some(Self {
            numbers,
            letter,
            suffixes,
            revision,
        })
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        // Lexicographic order of the numbers already makes the longer list win on a tie.
        let none = (NONE, Num::zero());
        let suffixes = || {
            let len = self.suffixes.len().max(other.suffixes.len());
            (0..len)
                .map(|i| {
                    let a = self.suffixes.get(i).unwrap_or(&none);
                    let b = other.suffixes.get(i).unwrap_or(&none);
                    a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1))
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        };
        self.numbers
            .cmp(&other.numbers)
            .then_with(|| self.letter.cmp(&other.letter))
            .then_with(suffixes)
            .then_with(|| self.revision.cmp(&other.revision))
    }
}

#[cfg(test)]
mod tests {
    use super::ApkVersion;
    use crate::version::testkit::{assert_orders, assert_refuses};
    use std::cmp::Ordering::{self, Equal, Greater, Less};

    #[test]
    fn order() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.2.3", "1.2.3", Equal),
            ("1.2.3-r0", "1.2.3-r1", Less),
            ("1.2.3-r10", "1.2.3-r9", Greater),
            ("1.2.3", "1.2.3-r0", Less),
            ("1.2", "1.2.1", Less),
            ("1.10", "1.9", Greater),
            ("1.2.3_rc1", "1.2.3", Less),
            ("1.2.3_alpha", "1.2.3_beta", Less),
            ("1.2.3_beta2", "1.2.3_pre1", Less),
            ("1.2.3_pre1", "1.2.3_rc1", Less),
            ("1.2.3_rc1", "1.2.3_rc2", Less),
            ("1.2.3", "1.2.3_p1", Less),
            ("1.2.3_cvs", "1.2.3_svn", Less),
            ("1.2.3_git20240101", "1.2.3_hg1", Less),
            ("1.2.3_hg1", "1.2.3_p0", Less),
            ("1.2.3_rc1-r5", "1.2.3-r0", Less),
            ("1.2.3a", "1.2.3", Greater),
            ("1.2.3a", "1.2.3b", Less),
            ("1.2.3a", "1.2.4", Less),
            ("3.1.4-r5", "3.1.4-r6", Less),
            ("1.2.3_p1_rc1", "1.2.3_p1", Less),
        ];
        assert_orders(ApkVersion::parse, cases);
    }

    #[test]
    fn refuses() {
        let long = "1.".repeat(200);
        assert_refuses(
            ApkVersion::parse,
            &["", "a", "1.2_foo", "1.2-rx", "1..2", "1.2A", "_rc1", &long],
        );
    }
}
