//! Table-driven checks shared by the version orderings' unit tests.

use std::cmp::Ordering;

/// Asserts that `cmp` orders every pair as stated, and the swapped pair the other way round
/// (an ordering that is not antisymmetric would make range matching depend on argument order).
pub(crate) fn assert_compares(
    cmp: impl Fn(&str, &str) -> Option<Ordering>,
    cases: &[(&str, &str, Ordering)],
) {
    for (a, b, want) in cases {
        assert_eq!(cmp(a, b), Some(*want), "{a} vs {b}");
        assert_eq!(cmp(b, a), Some(want.reverse()), "{b} vs {a}");
    }
}

/// [`assert_compares`] for a type whose parser gives an `Ord` value.
pub(crate) fn assert_orders<V: Ord>(
    parse: impl Fn(&str) -> Option<V>,
    cases: &[(&str, &str, Ordering)],
) {
    assert_compares(|a, b| Some(parse(a)?.cmp(&parse(b)?)), cases);
}

/// Asserts that `parse` refuses every one of `bad`.
pub(crate) fn assert_refuses<V>(parse: impl Fn(&str) -> Option<V>, bad: &[&str]) {
    for s in bad {
        assert!(parse(s).is_none(), "{s:?}");
    }
}
