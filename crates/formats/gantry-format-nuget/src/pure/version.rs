//! NuGet versions as the NuGet client normalises them: one to four numeric parts (missing
//! ones are `0`, leading zeros dropped, a zero fourth part left out), SemVer 2 pre-release
//! labels after `-`, build metadata after `+` kept for display but not part of identity.
//! Versions compare and match case-insensitively, so identity uses the lower-cased form,
//! which is also the form of flat-container paths.

use std::cmp::Ordering;

use crate::format::FormatError;
use gantry_formats::archive::quote;

/// Longest version string accepted.
const MAX_LEN: usize = 256;

/// A parsed, normalised NuGet version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// `1.0.0-Beta`: the normalised form without build metadata, case kept.
    pub normalized: String,
    /// `1.0.0-Beta+abc`: with build metadata, for display.
    pub full: String,
    pub prerelease: bool,
    /// Whether a SemVer 2 client is needed (dotted pre-release labels or build metadata).
    pub semver2: bool,
}

fn label_ok(label: &str) -> bool {
    !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl Version {
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        let bad = || FormatError::Invalid(format!("'{}' is not a NuGet version", quote(text)));
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_LEN {
            return Err(bad());
        }
        let (rest, build) = match text.split_once('+') {
            Some((v, b)) => (v, Some(b)),
            None => (text, None),
        };
        if build.is_some_and(|b| !b.split('.').all(label_ok)) {
            return Err(bad());
        }
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        if pre.is_some_and(|p| !p.split('.').all(label_ok)) {
            return Err(bad());
        }
        let mut parts = [0u32; 4];
        let numbers: Vec<&str> = core.split('.').collect();
        if numbers.len() > 4 {
            return Err(bad());
        }
        for (slot, n) in parts.iter_mut().zip(&numbers) {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            // NuGet keeps each part in an `int`.
            *slot = n
                .parse::<u32>()
                .ok()
                .filter(|v| *v <= i32::MAX as u32)
                .ok_or_else(bad)?;
        }
        let mut normalized = format!("{}.{}.{}", parts[0], parts[1], parts[2]);
        if parts[3] != 0 {
            normalized.push_str(&format!(".{}", parts[3]));
        }
        if let Some(p) = pre {
            normalized.push('-');
            normalized.push_str(p);
        }
        let full = match build {
            Some(b) => format!("{normalized}+{b}"),
            None => normalized.clone(),
        };
        Ok(Self {
            normalized,
            full,
            prerelease: pre.is_some(),
            semver2: build.is_some() || pre.is_some_and(|p| p.contains('.')),
        })
    }

    /// The identity and flat-container form: normalised, lower case.
    pub fn key(&self) -> String {
        self.normalized.to_lowercase()
    }
}

/// NuGet's ordering of two version strings (unparsable ones sort first).
pub fn compare(a: &str, b: &str) -> Ordering {
    gantry_vuln::compare(gantry_vuln::Ecosystem::NuGet, a, b).unwrap_or_else(|| {
        let parsed = |v: &str| Version::parse(v).is_ok();
        parsed(a).cmp(&parsed(b)).then_with(|| a.cmp(b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> String {
        Version::parse(text)
            .map(|v| v.normalized)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn normalises_as_nuget_does() {
        assert_eq!(norm("1.0"), "1.0.0");
        assert_eq!(norm("1"), "1.0.0");
        assert_eq!(norm("01.002.0003"), "1.2.3");
        assert_eq!(norm("1.2.3.0"), "1.2.3");
        assert_eq!(norm("1.2.3.4"), "1.2.3.4");
        assert_eq!(norm("1.0-Beta.1+build.7"), "1.0.0-Beta.1");
        let v = Version::parse("1.0.0-Beta.1+build.7").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.full, "1.0.0-Beta.1+build.7");
        assert_eq!(v.key(), "1.0.0-beta.1");
        assert!(v.prerelease && v.semver2);
        let plain = Version::parse("2.0.0-rc").unwrap_or_else(|e| panic!("{e}"));
        assert!(plain.prerelease && !plain.semver2);
        for bad in [
            "",
            "a",
            "1.2.3.4.5",
            "1..2",
            "1.0-",
            "1.0-a..b",
            "1.0+",
            "-1",
            "1.0 beta",
            "99999999999",
            "1.0-beta_1",
            "1.0-\u{202e}",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn orders_like_nuget() {
        assert_eq!(compare("1.0.0-beta", "1.0.0"), Ordering::Less);
        assert_eq!(
            compare("1.0.0-alpha.10", "1.0.0-alpha.9"),
            Ordering::Greater
        );
        assert_eq!(compare("1.0", "1.0.0.0"), Ordering::Equal);
        assert_eq!(compare("1.0.0.1", "1.0.1"), Ordering::Less);
        assert_eq!(compare("1.0.0-RC", "1.0.0-rc"), Ordering::Equal);
    }
}
