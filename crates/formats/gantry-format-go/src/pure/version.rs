//! Module versions: canonical semantic versions with a `v` (`v1.2.3`, `v1.2.3-rc.1`), the
//! only build suffix being `+incompatible`; pseudo-versions (`v0.0.0-20240102150405-
//! abcdef123456`) name a commit and carry its time; and the agreement between a version's
//! major number and the module path's suffix.

use std::cmp::Ordering;

use crate::format::FormatError;
use gantry_formats::archive::quote;

const INCOMPATIBLE: &str = "+incompatible";

/// A checked module version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    text: String,
    semver: semver::Version,
}

impl Version {
    /// Parses a canonical module version; `v1.2`, `1.2.3` and build metadata other than
    /// `+incompatible` are refused, as the go command refuses them from a proxy.
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        crate::format::check_version_len(text)?;
        let bad = |why: &str| {
            FormatError::Invalid(format!("invalid module version '{}': {why}", quote(text)))
        };
        let body = text
            .strip_prefix('v')
            .ok_or_else(|| bad("must start with v"))?;
        let core = body.strip_suffix(INCOMPATIBLE).unwrap_or(body);
        if core.contains('+') {
            return Err(bad("build metadata other than +incompatible"));
        }
        let semver = semver::Version::parse(core).map_err(|e| bad(&e.to_string()))?;
        let version = Self {
            text: text.to_owned(),
            semver,
        };
        if version.incompatible() && version.major() < 2 {
            return Err(bad("+incompatible needs a major version of 2 or more"));
        }
        Ok(version)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn major(&self) -> u64 {
        self.semver.major
    }

    pub fn incompatible(&self) -> bool {
        self.text.ends_with(INCOMPATIBLE)
    }

    pub fn is_prerelease(&self) -> bool {
        !self.semver.pre.is_empty()
    }

    /// The commit time of a pseudo-version (`YYYY-MM-DDTHH:MM:SSZ`); `None` for other versions.
    pub fn pseudo_time(&self) -> Option<String> {
        let pre = self.semver.pre.as_str();
        let (head, rev) = pre.rsplit_once('-')?;
        if rev.is_empty() || !rev.bytes().all(|b| b.is_ascii_alphanumeric()) || head.len() < 14 {
            return None;
        }
        let (base, stamp) = head.split_at(head.len() - 14);
        if !stamp.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let no_base = base.is_empty() && self.semver.minor == 0 && self.semver.patch == 0;
        if !(no_base || base == "0." || base.ends_with(".0.")) {
            return None;
        }
        let time = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S").ok()?;
        Some(time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    }

    pub fn is_pseudo(&self) -> bool {
        self.pseudo_time().is_some()
    }

    /// Checks that the version fits the module path: `/vN` paths take `vN.x.y` only, paths
    /// without a suffix take v0, v1 or `+incompatible` versions.
    pub fn check_path_major(&self, path: &str) -> Result<(), FormatError> {
        let (_, suffix) = crate::pure::path::split_major(path).ok_or_else(|| {
            FormatError::Invalid(format!("malformed module path '{}'", quote(path)))
        })?;
        let fits = match suffix {
            Some(major) if path.starts_with("gopkg.in/") => {
                !self.incompatible() && (self.major() == major || (major == 0 && self.major() == 0))
            }
            Some(major) => !self.incompatible() && self.major() == major,
            None => self.major() < 2 || self.incompatible(),
        };
        if fits {
            return Ok(());
        }
        let hint = match suffix {
            None => format!(
                "a module path without a /vN suffix takes v0 or v1 versions (or v{}+incompatible without a go.mod)",
                self.major()
            ),
            Some(major) => format!("module path '{}' takes v{major} versions only", quote(path)),
        };
        Err(FormatError::Invalid(format!(
            "version {} does not fit module {}: {hint}",
            quote(&self.text),
            quote(path)
        )))
    }

    /// Semantic-version precedence; `+incompatible` does not count, as in the go command.
    pub fn precedence(&self, other: &Self) -> Ordering {
        self.semver.cmp_precedence(&other.semver)
    }
}

/// The version `@latest` names: the highest release, else the highest pre-release, else the
/// highest pseudo-version, as the go command chooses among a proxy's versions.
pub fn latest<'a>(versions: impl IntoIterator<Item = &'a Version>) -> Option<&'a Version> {
    let rank = |v: &Version| match (v.is_pseudo(), v.is_prerelease()) {
        (true, _) => 0,
        (false, true) => 1,
        (false, false) => 2,
    };
    versions
        .into_iter()
        .max_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.precedence(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_canonical_versions_only() {
        for ok in ["v1.2.3", "v0.0.1-rc.1", "v2.0.0+incompatible", "v1.0.0-RC1"] {
            assert!(Version::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "1.2.3",
            "v1.2",
            "v1",
            "v1.2.3+meta",
            "v1.0.0+incompatible",
            "v01.2.3",
            "v1.2.3-01",
            "latest",
            "",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_pseudo_versions() {
        assert_eq!(
            v("v0.0.0-20240102150405-abcdef123456")
                .pseudo_time()
                .as_deref(),
            Some("2024-01-02T15:04:05Z")
        );
        assert!(v("v1.2.4-0.20240102150405-abcdef123456").is_pseudo());
        assert!(v("v1.2.3-pre.0.20240102150405-abcdef123456").is_pseudo());
        assert!(v("v2.0.1-0.20240102150405-abcdef123456+incompatible").is_pseudo());
        assert!(!v("v1.2.3-rc.1").is_pseudo());
        assert!(!v("v1.2.3-20240102150405-abcdef123456").is_pseudo());
        assert!(!v("v0.0.0-20241302150405-abcdef123456").is_pseudo());
    }

    #[test]
    fn major_versions_fit_the_path() {
        assert!(v("v1.0.0").check_path_major("example.com/m").is_ok());
        assert!(v("v2.0.0").check_path_major("example.com/m").is_err());
        assert!(v("v2.0.0+incompatible")
            .check_path_major("example.com/m")
            .is_ok());
        assert!(v("v2.1.0").check_path_major("example.com/m/v2").is_ok());
        assert!(v("v3.0.0").check_path_major("example.com/m/v2").is_err());
        assert!(v("v2.0.0+incompatible")
            .check_path_major("example.com/m/v2")
            .is_err());
        assert!(v("v3.0.1").check_path_major("gopkg.in/yaml.v3").is_ok());
    }

    #[test]
    fn latest_prefers_releases_then_prereleases_then_pseudo() {
        let all = [
            v("v0.0.0-20250102150405-abcdef123456"),
            v("v1.1.0-rc.1"),
            v("v1.0.0"),
            v("v0.9.0"),
        ];
        assert_eq!(latest(&all).map(Version::as_str), Some("v1.0.0"));
        assert_eq!(latest(&all[..2]).map(Version::as_str), Some("v1.1.0-rc.1"));
        assert_eq!(
            latest(&all[..1]).map(Version::as_str),
            Some("v0.0.0-20250102150405-abcdef123456")
        );
        assert_eq!(latest(&[]), None);
    }
}
