//! RPM package versions (`[epoch:]version[-release]`), ordered as rpm orders them: epochs
//! numerically, then version and release each by `rpmvercmp` — runs of digits (numerically)
//! and of letters (by byte) compared in turn, other characters only separating them, a
//! numeric run above a letter run, `~` below everything including the end, `^` above the
//! end but below anything else.

use std::cmp::Ordering;

use super::digits::Num;

/// Longest version string accepted.
const MAX_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RpmVersion {
    epoch: Num,
    version: String,
    release: String,
}

impl RpmVersion {
    /// `None` for an empty or oversized string, a non-numeric epoch or an empty version.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() || s.len() > MAX_LEN || s.chars().any(char::is_whitespace) {
            return None;
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => (Num::parse(e)?, rest),
            None => (Num::zero(), s),
        };
        let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
        if version.is_empty() || version.contains(':') {
            return None;
        }
        Some(Self {
            epoch,
            version: version.to_owned(),
            release: release.to_owned(),
        })
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| rpmvercmp(&self.release, &other.release))
    }
}

fn is_separator(b: u8) -> bool {
    !b.is_ascii_alphanumeric() && b != b'~' && b != b'^'
}

/// rpm's comparison of two version (or release) strings.
pub(crate) fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a.as_bytes(), b.as_bytes());
    loop {
        while one.first().is_some_and(|c| is_separator(*c)) {
            one = &one[1..];
        }
        while two.first().is_some_and(|c| is_separator(*c)) {
            two = &two[1..];
        }
        match (one.first(), two.first()) {
            (Some(b'~'), Some(b'~')) => {
                one = &one[1..];
                two = &two[1..];
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            (Some(b'^'), Some(b'^')) => {
                one = &one[1..];
                two = &two[1..];
                continue;
            }
            (Some(b'^'), None) => return Ordering::Greater,
            (None, Some(b'^')) => return Ordering::Less,
            (Some(b'^'), _) => return Ordering::Less,
            (_, Some(b'^')) => return Ordering::Greater,
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(_), Some(_)) => {}
        }
        let numeric = one[0].is_ascii_digit();
        let take = |s: &[u8]| {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (n1, n2) = (take(one), take(two));
        if n2 == 0 {
            // A numeric run is newer than a letter run.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (seg1, seg2) = (&one[..n1], &two[..n2]);
        let order = if numeric {
            let trim = |s: &[u8]| {
                let zeros = s.iter().take_while(|c| **c == b'0').count();
                s[zeros..].to_vec()
            };
            let (t1, t2) = (trim(seg1), trim(seg2));
            t1.len().cmp(&t2.len()).then_with(|| t1.cmp(&t2))
        } else {
            seg1.cmp(seg2)
        };
        if order != Ordering::Equal {
            return order;
        }
        one = &one[n1..];
        two = &two[n2..];
    }
}

#[cfg(test)]
mod tests {
    use super::{rpmvercmp, RpmVersion};
    use crate::version::testkit::{assert_compares, assert_refuses};
    use std::cmp::Ordering::{self, Equal, Greater, Less};

    #[test]
    fn rpmvercmp_cases() {
        // Cases from rpm's documented behaviour.
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("5.5p1", "5.5.p1", Equal),
            ("1.0010", "1.9", Greater),
            ("1.05", "1.5", Equal),
            ("1.0", "1", Greater),
            ("2.50", "2.5", Greater),
            ("fc4", "fc.4", Equal),
            ("FC5", "fc4", Less),
            ("2a", "2.0", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("el9_1", "el9", Greater),
        ];
        assert_compares(|a, b| Some(rpmvercmp(a, b)), cases);
    }

    #[test]
    fn epochs_versions_releases() {
        let order = |a: &str, b: &str| Some(RpmVersion::parse(a)?.cmp(&RpmVersion::parse(b)?));
        assert_eq!(order("1:1.0-1", "2.0-1"), Some(Greater));
        assert_eq!(order("0:1.0-1", "1.0-1"), Some(Equal));
        assert_eq!(order("1.0-1.el9", "1.0-1.el9_2"), Some(Less));
        assert_eq!(order("1.0-10", "1.0-9"), Some(Greater));
        assert_eq!(order("2:0.1-1", "1:9.9-9"), Some(Greater));
        assert_refuses(RpmVersion::parse, &["", "x:1.0", ":1", "1.0 -1", "1:"]);
    }
}
