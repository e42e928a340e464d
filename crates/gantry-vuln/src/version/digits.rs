//! Arbitrary-length unsigned integers kept as decimal digit strings, so that version
//! components of any size compare numerically without overflow.

use std::cmp::Ordering;

/// A non-negative integer written in decimal, without leading zeros ("0" for zero).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Num(String);

impl Num {
    /// Parses a run of ASCII digits; `None` if `s` is empty or holds anything else.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let trimmed = s.trim_start_matches('0');
        Some(Self(if trimmed.is_empty() {
            "0".to_owned()
        } else {
            trimmed.to_owned()
        }))
    }

    pub(crate) fn zero() -> Self {
        Self("0".to_owned())
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.0 == "0"
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

#[cfg(test)]
mod tests {
    use super::Num;
    use std::cmp::Ordering;

    #[test]
    fn numeric_order() {
        let n = |s: &str| Num::parse(s);
        assert_eq!(n("007"), n("7"));
        assert_eq!(n("000"), Some(Num::zero()));
        assert!(n("9") < n("10"));
        assert!(n("99999999999999999999999") > n("9999999999999999999999"));
        assert_eq!(
            n("123").zip(n("0123")).map(|(a, b)| a.cmp(&b)),
            Some(Ordering::Equal)
        );
        assert_eq!(n(""), None);
        assert_eq!(n("1a"), None);
    }
}
