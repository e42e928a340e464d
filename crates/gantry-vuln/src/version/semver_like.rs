//! SemVer 2.0 based orderings: npm, crates.io, Go module versions and OSV `SEMVER` ranges.
//!
//! All of them order by SemVer 2.0 precedence (section 11): build metadata is ignored, a
//! pre-release sorts before its release, and pre-release identifiers compare numerically
//! when all-digit and in ASCII order otherwise.

use semver::{BuildMetadata, Version};

/// Parses with the `semver` crate and drops build metadata, so that the derived ordering
/// of [`Version`] equals SemVer precedence.
fn strict(s: &str) -> Option<Version> {
    let mut v = Version::parse(s).ok()?;
    v.build = BuildMetadata::EMPTY;
    Some(v)
}

/// Pads a core of one or two numeric parts to three ("1.2" → "1.2.0"), when the string
/// has neither a pre-release nor build metadata.
fn padded(s: &str) -> Option<String> {
    if s.contains(['-', '+']) {
        return None;
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() >= 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut out = s.to_owned();
    for _ in parts.len()..3 {
        out.push_str(".0");
    }
    Some(out)
}

/// crates.io: exactly what Cargo accepts (`semver` crate, strict).
pub(crate) fn parse_cargo(s: &str) -> Option<Version> {
    strict(s.trim())
}

/// npm: SemVer 2.0, leniently accepting a leading `=` and/or `v` (as `npm` does for
/// versions in manifests), surrounding blanks, and a short core without pre-release
/// (`1.0` = `1.0.0`, as advisory databases sometimes write range bounds).
pub(crate) fn parse_npm(s: &str) -> Option<Version> {
    let s = s.trim();
    let s = s.strip_prefix('=').unwrap_or(s).trim_start();
    let s = s
        .strip_prefix('v')
        .or_else(|| s.strip_prefix('V'))
        .unwrap_or(s);
    strict(s).or_else(|| strict(&padded(s)?))
}

/// Go module versions: `v` prefix optional (OSV writes none, modules always have one);
/// pseudo-versions are ordinary pre-releases; `+incompatible` is build metadata and so
/// ignored; the shorthands `v1` and `v1.2` mean `v1.0.0` and `v1.2.0`.
pub(crate) fn parse_go(s: &str) -> Option<Version> {
    let s = s.trim();
    let s = s.strip_prefix('v').unwrap_or(s);
    strict(s).or_else(|| strict(&padded(s)?))
}

/// OSV `SEMVER` ranges: SemVer 2.0 with the same leniency as Go (optional `v`, short
/// cores padded with zeros).
pub(crate) fn parse_semver_range(s: &str) -> Option<Version> {
    parse_go(s)
}

#[cfg(test)]
mod tests {
    use super::{parse_cargo, parse_go, parse_npm};
    use crate::version::testkit::{assert_orders, assert_refuses};
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn npm_order() {
        assert_orders(
            parse_npm,
            &[
                ("1.0.0", "1.0.0", Equal),
                ("v1.0.0", "1.0.0", Equal),
                ("=1.0.0", "1.0.0", Equal),
                ("=v1.2.3", "1.2.3", Equal),
                (" 1.2.3 ", "1.2.3", Equal),
                ("1.0.0-alpha", "1.0.0", Less),
                ("1.0.0-alpha", "1.0.0-alpha.1", Less),
                ("1.0.0-alpha.1", "1.0.0-alpha.beta", Less),
                ("1.0.0-alpha.beta", "1.0.0-beta", Less),
                ("1.0.0-beta", "1.0.0-beta.2", Less),
                ("1.0.0-beta.2", "1.0.0-beta.11", Less),
                ("1.0.0-beta.11", "1.0.0-rc.1", Less),
                ("1.0.0-rc.1", "1.0.0", Less),
                ("5.0.0-alpha.1", "5.0.0-beta.3", Less),
                ("4.17.15", "4.17.19", Less),
                ("4.17.9", "4.17.15", Less),
                ("1.0.0+build.1", "1.0.0+build.2", Equal),
                ("1.0.0+build", "1.0.0", Equal),
                ("2.0.0", "10.0.0", Less),
                ("1.0", "1.0.0", Equal),
                ("1", "1.0.0", Equal),
                ("v2.6", "2.6.0", Equal),
            ],
        );
        assert_refuses(
            parse_npm,
            &[
                "", "latest", "1.0.0.0", "01.0.0", "1.0.0-01", "1.0-beta", "1.x",
            ],
        );
    }

    #[test]
    fn cargo_order() {
        assert_orders(
            parse_cargo,
            &[
                ("0.0.0-0", "0.0.0", Less),
                ("0.0.0-0", "0.0.0-alpha", Less),
                ("0.0.0-0", "0.0.1-0", Less),
                ("0.14.9", "0.14.10", Less),
                ("1.6.0", "1.6.1", Less),
                ("1.0.0-rc.1", "1.0.0", Less),
                ("0.3.0-alpha.1", "0.2.99", Greater),
                ("1.0.100", "1.0.100+meta", Equal),
            ],
        );
        assert_refuses(parse_cargo, &["v1.0.0", "1.0", "=1.0.0", "1.0.0.0"]);
    }

    #[test]
    fn go_order() {
        assert_orders(
            parse_go,
            &[
                ("v1.2.3", "1.2.3", Equal),
                ("v0.0.0-20210101000000-abcdef123456", "0.0.1", Less),
                ("v0.0.0-20210101000000-abcdef123456", "0.0.0", Less),
                (
                    "v0.0.0-20210101000000-abcdef123456",
                    "0.0.0-20220101000000-000000000000",
                    Less,
                ),
                // A pseudo-version after a tag sorts after the tag, before the next patch.
                ("v5.0.3", "5.0.4-0.20231016150651-428517fef5b9", Less),
                ("v5.0.4-0.20231016150651-428517fef5b9", "5.0.4", Less),
                (
                    "v1.2.4-pre.0.20231016150651-428517fef5b9",
                    "1.2.4-pre",
                    Greater,
                ),
                ("v2.0.0+incompatible", "2.0.0", Equal),
                ("v2.1.0+incompatible", "2.0.9", Greater),
                ("1.21.0-0", "1.21.0-rc.1", Less),
                ("1.21.0-rc.1", "1.21.0", Less),
                ("1.20.9", "1.21.0-0", Less),
                ("v1", "1.0.0", Equal),
                ("v1.2", "1.2.0", Equal),
            ],
        );
        assert_refuses(parse_go, &["", "vx", "1.2.3.4", "v1.2-pre", "latest"]);
    }
}
