//! Per-ecosystem version parsing and ordering.
//!
//! Each ecosystem has its own module; [`parse`] turns a string into a [`Parsed`] version
//! of that ecosystem's kind, and [`Parsed::compare`] orders two versions of the same kind.

mod apk;
mod digits;
mod dpkg;
mod maven;
mod nuget;
mod packagist;
mod rpm;
mod rubygems;
mod semver_like;
#[cfg(test)]
mod testkit;

/// Each version type's partial order is its total order, which it implements by hand.
macro_rules! partial_order_is_total {
    ($($t:ty),*) => {$(
        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
    )*};
}

partial_order_is_total!(
    apk::ApkVersion,
    digits::Num,
    dpkg::DpkgVersion,
    maven::MavenVersion,
    nuget::NuGetVersion,
    rpm::RpmVersion,
    rubygems::GemVersion
);

use std::cmp::Ordering;
use std::str::FromStr;

use crate::Ecosystem;

/// A version parsed by one ecosystem's rules.
#[derive(Debug, Clone)]
pub(crate) enum Parsed {
    Pep440(pep440_rs::Version),
    /// npm, crates.io, Go and OSV `SEMVER` ranges; build metadata already removed.
    Semver(semver::Version),
    Maven(maven::MavenVersion),
    Gem(rubygems::GemVersion),
    NuGet(nuget::NuGetVersion),
    Composer(packagist::ComposerVersion),
    Dpkg(dpkg::DpkgVersion),
    Apk(apk::ApkVersion),
    Rpm(rpm::RpmVersion),
}

impl Parsed {
    /// Orders two versions of the same kind; `None` for different kinds.
    pub(crate) fn compare(&self, other: &Self) -> Option<Ordering> {
        Some(match (self, other) {
            (Self::Pep440(a), Self::Pep440(b)) => a.cmp(b),
            (Self::Semver(a), Self::Semver(b)) => a.cmp(b),
            (Self::Maven(a), Self::Maven(b)) => a.cmp(b),
            (Self::Gem(a), Self::Gem(b)) => a.cmp(b),
            (Self::NuGet(a), Self::NuGet(b)) => a.cmp(b),
            (Self::Composer(a), Self::Composer(b)) => a.cmp(b),
            (Self::Dpkg(a), Self::Dpkg(b)) => a.cmp(b),
            (Self::Apk(a), Self::Apk(b)) => a.cmp(b),
            (Self::Rpm(a), Self::Rpm(b)) => a.cmp(b),
            _ => return None,
        })
    }
}

/// PyPI: PEP 440 (epochs, pre/post/dev releases, local versions), via `pep440_rs`.
fn parse_pypi(s: &str) -> Option<pep440_rs::Version> {
    pep440_rs::Version::from_str(s.trim()).ok()
}

/// Parses `s` by the rules of `ecosystem`.
pub(crate) fn parse(ecosystem: Ecosystem, s: &str) -> Option<Parsed> {
    match ecosystem {
        Ecosystem::PyPI => parse_pypi(s).map(Parsed::Pep440),
        Ecosystem::Npm => semver_like::parse_npm(s).map(Parsed::Semver),
        Ecosystem::CratesIo => semver_like::parse_cargo(s).map(Parsed::Semver),
        Ecosystem::Go => semver_like::parse_go(s).map(Parsed::Semver),
        Ecosystem::Maven => maven::MavenVersion::parse(s).map(Parsed::Maven),
        Ecosystem::RubyGems => rubygems::GemVersion::parse(s).map(Parsed::Gem),
        Ecosystem::NuGet => nuget::NuGetVersion::parse(s).map(Parsed::NuGet),
        Ecosystem::Packagist => packagist::ComposerVersion::parse(s).map(Parsed::Composer),
        Ecosystem::Debian => dpkg::DpkgVersion::parse(s).map(Parsed::Dpkg),
        Ecosystem::Alpine => apk::ApkVersion::parse(s).map(Parsed::Apk),
        Ecosystem::RedHat => rpm::RpmVersion::parse(s).map(Parsed::Rpm),
    }
}

/// Parses a version of an OSV `SEMVER` range (SemVer 2.0; `v` prefix tolerated).
pub(crate) fn parse_semver_range(s: &str) -> Option<Parsed> {
    semver_like::parse_semver_range(s).map(Parsed::Semver)
}

/// Orders `a` and `b` by the rules of `ecosystem`; `None` when either does not parse.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Option<Ordering> {
    parse(ecosystem, a)?.compare(&parse(ecosystem, b)?)
}

#[cfg(test)]
mod tests {
    use super::compare;
    use crate::version::testkit::assert_compares;
    use crate::Ecosystem;
    use std::cmp::Ordering::{self, Equal, Greater, Less};

    #[test]
    fn pypi_order() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0.0", Equal),
            ("1.0", "1", Equal),
            ("2.10", "2.9", Greater),
            ("1!1.0", "2.0", Greater),
            ("1!1.0", "1!2.0", Less),
            ("1.0.dev1", "1.0a1", Less),
            ("1.0a1", "1.0a2.dev1", Less),
            ("1.0a2.dev1", "1.0a2", Less),
            ("1.0a2", "1.0b1", Less),
            ("1.0b1", "1.0rc1", Less),
            ("1.0c1", "1.0rc1", Equal),
            ("1.0rc1", "1.0", Less),
            ("1.0", "1.0.post1.dev1", Less),
            ("1.0.post1.dev1", "1.0.post1", Less),
            ("1.0.post1", "1.0.1", Less),
            ("1.0", "1.0+local.1", Less),
            ("1.0+local.1", "1.0+local.2", Less),
            ("1.0+abc", "1.0+5", Less),
            ("1.0+local", "1.0.post1", Less),
            ("1.0a1", "1.0alpha1", Equal),
            ("1.0-a1", "1.0a1", Equal),
            ("0.8.0-alpha2", "0.8.0a2", Equal),
            ("1.0-1", "1.0.post1", Equal),
            ("v1.0", "1.0", Equal),
            ("2.10", "2.10.0", Equal),
            ("5.3", "5.4", Less),
            ("5.4b1", "5.3.1", Greater),
            ("2.19.1", "2.20", Less),
            ("1.24.1", "1.24.2", Less),
        ];
        assert_compares(|a, b| compare(Ecosystem::PyPI, a, b), cases);
        for bad in ["", "a3", "1.0-foo", "latest", "1.0.*"] {
            assert_eq!(compare(Ecosystem::PyPI, bad, "1.0"), None, "{bad:?}");
        }
    }

    #[test]
    fn compare_refuses_unparseable() {
        assert_eq!(compare(Ecosystem::CratesIo, "1.0", "1.0.0"), None);
        assert_eq!(compare(Ecosystem::Npm, "1.0.0", "next"), None);
        assert_eq!(compare(Ecosystem::Maven, "", "1"), None);
        assert_eq!(compare(Ecosystem::Go, "v1.2.3", "v1.2.3"), Some(Equal));
    }
}
