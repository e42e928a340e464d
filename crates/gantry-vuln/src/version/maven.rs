//! Maven's `ComparableVersion` ordering.
//!
//! The version is lower-cased and cut into items at `.`, at `-` and at every change
//! between digits and letters. A `-` or a digit/letter change opens a nested list, so
//! `1.0-beta-2` is `[1, 0, [beta, [2]]]`. Numbers compare numerically; qualifiers in the
//! order `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`,
//! unknown qualifiers after all of these, lexically; single letters directly followed by
//! a digit are abbreviations (`a1` = `alpha-1`, `b1`, `m1`). Trailing "null" items (`0`,
//! the release qualifier, empty lists) are dropped from each list, so `1.0.0` = `1` and
//! `1.0.RELEASE` = `1`. When one list runs out, the other's next item is compared with
//! "nothing": a number is greater unless zero, a qualifier is greater only if it sorts
//! after the release (`sp`, unknown ones), hence `1-SNAPSHOT < 1 < 1-sp`.

use std::cmp::Ordering;

use super::digits::Num;

/// Known qualifiers in increasing order; the empty string is the release itself.
const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
/// Index of the release ("") in [`QUALIFIERS`].
const RELEASE: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Int(Num),
    Str(String),
    List(Vec<Item>),
}

/// A parsed Maven version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MavenVersion {
    items: Vec<Item>,
}

/// Sort key of a qualifier: known ones by position, unknown ones after them, by text.
fn qualifier_key(q: &str) -> (usize, &str) {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => (i, ""),
        None => (QUALIFIERS.len(), q),
    }
}

fn string_item(value: &str, followed_by_digit: bool) -> Item {
    let value = match (followed_by_digit, value) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        (_, "ga" | "final" | "release") => "",
        (_, "cr") => "rc",
        (_, v) => v,
    };
    Item::Str(value.to_owned())
}

fn parse_item(is_digit: bool, buf: &str) -> Option<Item> {
    if is_digit {
        Num::parse(buf).map(Item::Int)
    } else {
        Some(string_item(buf, false))
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => n.is_zero(),
            Item::Str(s) => qualifier_key(s) == (RELEASE, ""),
            Item::List(l) => l.is_empty(),
        }
    }
}

/// Drops trailing null items, looking through (already normalised) nested lists.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// Compares `a` with `b`, where `None` stands for a missing item.
fn cmp_item(a: Option<&Item>, b: Option<&Item>) -> Ordering {
    use Item::{Int, List, Str};
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => cmp_item(b, a).reverse(),
        (Some(Int(n)), None) => {
            if n.is_zero() {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        (Some(Str(s)), None) => qualifier_key(s).cmp(&(RELEASE, "")),
        (Some(List(l)), None) => match l.first() {
            None => Ordering::Equal,
            Some(first) => cmp_item(Some(first), None),
        },
        (Some(Int(x)), Some(Int(y))) => x.cmp(y),
        (Some(Int(_)), Some(Str(_) | List(_))) => Ordering::Greater,
        (Some(Str(_)), Some(Int(_))) => Ordering::Less,
        (Some(Str(x)), Some(Str(y))) => qualifier_key(x).cmp(&qualifier_key(y)),
        (Some(Str(_)), Some(List(_))) => Ordering::Less,
        (Some(List(_)), Some(Int(_))) => Ordering::Less,
        (Some(List(_)), Some(Str(_))) => Ordering::Greater,
        (Some(List(x)), Some(List(y))) => cmp_lists(x, y),
    }
}

fn cmp_lists(x: &[Item], y: &[Item]) -> Ordering {
    let n = x.len().max(y.len());
    for i in 0..n {
        let ord = cmp_item(x.get(i), y.get(i));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

impl MavenVersion {
    /// Parses like `ComparableVersion.parseVersion`. Every non-empty string is a Maven
    /// version; `None` only for an empty or blank one.
    pub(crate) fn parse(version: &str) -> Option<Self> {
        let version = version.trim().to_lowercase();
        if version.is_empty() {
            return None;
        }
        // The chain of open lists: each new list is the last item of the one before it,
        // and items are always added to the innermost list.
        let mut levels: Vec<Vec<Item>> = vec![Vec::new()];
        let chars: Vec<(usize, char)> = version.char_indices().collect();
        let mut is_digit = false;
        let mut start = 0usize;
        for &(i, c) in &chars {
            let current = levels.len() - 1;
            if c == '.' || c == '-' {
                if i == start {
                    levels[current].push(Item::Int(Num::zero()));
                } else {
                    levels[current].push(parse_item(is_digit, &version[start..i])?);
                }
                start = i + c.len_utf8();
                if c == '-' {
                    levels.push(Vec::new());
                }
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    levels[current].push(string_item(&version[start..i], true));
                    start = i;
                    levels.push(Vec::new());
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    levels[current].push(parse_item(true, &version[start..i])?);
                    start = i;
                    levels.push(Vec::new());
                }
                is_digit = false;
            }
        }
        if version.len() > start {
            let current = levels.len() - 1;
            levels[current].push(parse_item(is_digit, &version[start..])?);
        }
        let mut inner = levels.pop()?;
        normalize(&mut inner);
        while let Some(mut parent) = levels.pop() {
            parent.push(Item::List(inner));
            normalize(&mut parent);
            inner = parent;
        }
        Some(Self { items: inner })
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_lists(&self.items, &other.items)
    }
}

#[cfg(test)]
mod tests {
    use super::MavenVersion;
    use crate::version::testkit::assert_compares;
    use std::cmp::Ordering::{self, Equal, Greater, Less};

    fn cmp(a: &str, b: &str) -> Option<Ordering> {
        MavenVersion::parse(a)
            .zip(MavenVersion::parse(b))
            .map(|(x, y)| x.cmp(&y))
    }

    /// Each list is strictly increasing (from Maven's own `ComparableVersionTest`).
    fn check_increasing(list: &[&str]) {
        for (i, a) in list.iter().enumerate() {
            for (j, b) in list.iter().enumerate() {
                let want = i.cmp(&j);
                assert_eq!(cmp(a, b), Some(want), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn qualifier_order() {
        check_increasing(&[
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ]);
    }

    #[test]
    fn number_order() {
        check_increasing(&[
            "2.0", "2-1", "2.0.a", "2.0.0.a", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b",
            "2.1-c", "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11",
            "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m",
        ]);
    }

    #[test]
    fn equalities_and_data_cases() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1", "1.0", Equal),
            ("1", "1.0.0", Equal),
            ("1.0", "1.0.0", Equal),
            ("1.0-SNAPSHOT", "1-snapshot", Equal),
            ("1.0-SNAPSHOT", "1.0", Less),
            ("1.0.RELEASE", "1.0", Equal),
            ("5.2.20.RELEASE", "5.2.20", Equal),
            ("5.2.19.RELEASE", "5.2.20.RELEASE", Less),
            ("4.1.100.Final", "4.1.100", Equal),
            ("4.1.99.Final", "4.1.100.Final", Less),
            ("1ga", "1", Equal),
            ("1final", "1", Equal),
            ("1-ga", "1", Equal),
            ("1cr", "1rc", Equal),
            ("1a1", "1-alpha-1", Equal),
            ("1a1", "1.0-a1", Equal),
            ("1b2", "1-beta-2", Equal),
            ("1m3", "1-milestone-3", Equal),
            ("1X", "1x", Equal),
            ("1.0-alpha-1", "1.0-beta-1", Less),
            ("1.0-rc1", "1.0", Less),
            ("1.0", "1.0-sp1", Less),
            ("1.0", "1.0-foo", Less),
            ("2.13.2.1", "2.13.2", Greater),
            ("2.13.2.1", "2.13.3", Less),
            ("2.15.0-rc1", "2.15.0", Less),
            ("2.17.0", "2.17.1", Less),
            ("2.0-beta9", "2.0-rc1", Less),
            ("2.0-beta9", "2.0", Less),
            ("1.2.3", "1.10", Less),
            ("99999999999999999999", "100000000000000000000", Less),
        ];
        assert_compares(cmp, cases);
        assert_eq!(MavenVersion::parse(""), None);
    }
}
