//! Debian package versions (`[epoch:]upstream[-revision]`), ordered as dpkg orders them:
//! epochs numerically, then upstream and revision each by alternating runs of non-digits
//! (compared character by character, `~` below everything including the end, letters
//! below all other characters) and digits (compared numerically).

use std::cmp::Ordering;

use super::digits::Num;

/// Longest version string accepted: dpkg's own limits are far below this.
const MAX_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DpkgVersion {
    epoch: Num,
    upstream: String,
    revision: String,
}

impl DpkgVersion {
    /// `None` for an empty or oversized string, a non-numeric epoch, an upstream part that
    /// does not start with a digit, or characters dpkg does not allow.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() || s.len() > MAX_LEN {
            return None;
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => (Num::parse(e)?, rest),
            None => (Num::zero(), s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        let allowed = |c: char, extra: &str| c.is_ascii_alphanumeric() || extra.contains(c);
        if !upstream.starts_with(|c: char| c.is_ascii_digit())
            || !upstream.chars().all(|c| allowed(c, ".+~-:"))
            || !revision.chars().all(|c| allowed(c, ".+~"))
            || (rest.contains('-') && revision.is_empty())
        {
            return None;
        }
        Some(Self {
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        })
    }
}

/// The weight of a character in a non-digit run; `None` is the end of the run.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's comparison of one part (upstream or revision).
fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        let a_text = a.iter().take_while(|c| !c.is_ascii_digit()).count();
        let b_text = b.iter().take_while(|c| !c.is_ascii_digit()).count();
        for i in 0..a_text.max(b_text) {
            let x = weight(a[..a_text].get(i).copied());
            let y = weight(b[..b_text].get(i).copied());
            if x != y {
                return x.cmp(&y);
            }
        }
        a = &a[a_text..];
        b = &b[b_text..];
        let a_num = a.iter().take_while(|c| c.is_ascii_digit()).count();
        let b_num = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let number = |digits: &[u8]| {
            Num::parse(std::str::from_utf8(digits).unwrap_or("0")).unwrap_or_else(Num::zero)
        };
        let ord = number(&a[..a_num]).cmp(&number(&b[..b_num]));
        if ord != Ordering::Equal {
            return ord;
        }
        a = &a[a_num..];
        b = &b[b_num..];
    }
    Ordering::Equal
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(&self.upstream, &other.upstream))
            .then_with(|| compare_part(&self.revision, &other.revision))
    }
}

#[cfg(test)]
mod tests {
    use super::DpkgVersion;
    use crate::version::testkit::{assert_orders, assert_refuses};
    use std::cmp::Ordering::{self, Equal, Greater, Less};

    #[test]
    fn order() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", Equal),
            ("1.0", "0:1.0", Equal),
            ("1.0-1", "1.0-2", Less),
            ("1.0-10", "1.0-9", Greater),
            ("1:0.1", "2.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0~", "1.0", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0+", Less),
            ("1.0a", "1.0.", Less),
            ("1.0+deb12u1", "1.0", Greater),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", Less),
            ("3.0.11-1~deb12u2", "3.0.11-1", Less),
            ("1.2.3-1-2", "1.2.3-1-10", Less),
            ("1.002", "1.2", Equal),
            ("1.0-0", "1.0", Equal),
            ("7.88.1-10+deb12u5", "7.88.1-10+deb12u4", Greater),
        ];
        assert_orders(DpkgVersion::parse, cases);
    }

    #[test]
    fn refuses() {
        let long = "1".repeat(300);
        assert_refuses(
            DpkgVersion::parse,
            &["", "a1.0", "x:1.0", "1.0-", "1 0", "1.0_1", "1.0-a-", &long],
        );
    }
}
