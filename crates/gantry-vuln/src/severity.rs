//! Severity of an advisory: a qualitative rating computed from the record.

use std::fmt;
use std::str::FromStr;

/// Qualitative severity. `Unknown` (no usable rating in the record) is treated as
/// `Critical` by [`Severity::rank`], so that thresholds err on the side of caution; the
/// derived ordering puts it just above `Critical`, consistent with `rank`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    None,
    Low,
    Medium,
    High,
    Critical,
    Unknown,
}

impl Severity {
    /// Lower-case name: `"none"`, `"low"`, `"medium"`, `"high"`, `"critical"`,
    /// `"unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
            Severity::Unknown => "unknown",
        }
    }

    /// 0 for none up to 4 for critical; unknown ranks as critical (4).
    pub fn rank(self) -> u8 {
        match self {
            Severity::None => 0,
            Severity::Low => 1,
            Severity::Medium => 2,
            Severity::High => 3,
            Severity::Critical | Severity::Unknown => 4,
        }
    }

    /// Reads a rating word, case-insensitively: the names from [`Severity::as_str`],
    /// and the words advisory databases use (`MODERATE` is medium, `IMPORTANT` high).
    pub fn from_rating(rating: &str) -> Option<Self> {
        match rating.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Severity::None),
            "low" => Some(Severity::Low),
            "moderate" | "medium" => Some(Severity::Medium),
            "high" | "important" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            "unknown" => Some(Severity::Unknown),
            _ => None,
        }
    }

    /// The CVSS qualitative rating of a numeric score from 0.0 to 10.0.
    pub fn from_score(score: f64) -> Option<Self> {
        if !(0.0..=10.0).contains(&score) {
            return None;
        }
        Some(if score == 0.0 {
            Severity::None
        } else if score < 4.0 {
            Severity::Low
        } else if score < 7.0 {
            Severity::Medium
        } else if score < 9.0 {
            Severity::High
        } else {
            Severity::Critical
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an advisory's rating comes from, in order of trust: a CVSS vector is computed from
/// the vulnerability's properties, a database rating is an editor's word, a bare score is a
/// number with no vector behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeverityBasis {
    CvssV4,
    CvssV31,
    CvssV30,
    DatabaseRating,
    Score,
}

impl SeverityBasis {
    /// How a user reads it: `"CVSS v3.1"`, `"database rating"`, …
    pub fn label(self) -> &'static str {
        match self {
            SeverityBasis::CvssV4 => "CVSS v4.0",
            SeverityBasis::CvssV31 => "CVSS v3.1",
            SeverityBasis::CvssV30 => "CVSS v3.0",
            SeverityBasis::DatabaseRating => "database rating",
            SeverityBasis::Score => "score",
        }
    }

    /// Whether this is a CVSS vector (the preferred source when borrowing from aliases).
    pub fn is_vector(self) -> bool {
        matches!(
            self,
            SeverityBasis::CvssV4 | SeverityBasis::CvssV31 | SeverityBasis::CvssV30
        )
    }

    pub(crate) fn of_vector(vector: &str) -> Option<Self> {
        let v = vector.trim_start();
        if v.starts_with("CVSS:4") {
            Some(SeverityBasis::CvssV4)
        } else if v.starts_with("CVSS:3.1") {
            Some(SeverityBasis::CvssV31)
        } else if v.starts_with("CVSS:3") {
            Some(SeverityBasis::CvssV30)
        } else {
            None
        }
    }
}

/// The severity of a CVSS v3.0, v3.1 or v4.0 vector; `None` for anything else.
pub(crate) fn from_cvss_vector(vector: &str) -> Option<Severity> {
    let parsed = cvss::Cvss::from_str(vector.trim()).ok()?;
    Some(match parsed.severity() {
        cvss::Severity::None => Severity::None,
        cvss::Severity::Low => Severity::Low,
        cvss::Severity::Medium => Severity::Medium,
        cvss::Severity::High => Severity::High,
        cvss::Severity::Critical => Severity::Critical,
    })
}

/// A `severity[].score` that is a bare rating rather than a vector: a word (`"HIGH"`)
/// or a number (`"7.5"`).
pub(crate) fn from_bare_score(score: &str) -> Option<Severity> {
    let score = score.trim();
    if score.contains('/') || score.starts_with("CVSS:") {
        return None;
    }
    match Severity::from_rating(score) {
        Some(Severity::Unknown) => None,
        Some(s) => Some(s),
        None => score.parse::<f64>().ok().and_then(Severity::from_score),
    }
}

#[cfg(test)]
mod tests {
    use super::{from_bare_score, from_cvss_vector, Severity};

    #[test]
    fn ranks_and_order() {
        let all = [
            Severity::None,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
            Severity::Unknown,
        ];
        for w in all.windows(2) {
            assert!(w[0] < w[1]);
            assert!(w[0].rank() <= w[1].rank());
        }
        assert_eq!(Severity::Unknown.rank(), Severity::Critical.rank());
        for s in all {
            assert_eq!(Severity::from_rating(s.as_str()), Some(s));
        }
        assert_eq!(Severity::from_rating("MODERATE"), Some(Severity::Medium));
    }

    #[test]
    fn vectors() {
        let cases = [
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                Some(Severity::Critical),
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:H/A:L",
                Some(Severity::High),
            ),
            (
                "CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
                Some(Severity::Low),
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N",
                Some(Severity::None),
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                Some(Severity::Critical),
            ),
            (
                "CVSS:4.0/AV:L/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
                Some(Severity::Low),
            ),
            ("AV:N/AC:L/Au:N/C:P/I:P/A:P", None),
            ("CVSS:3.1/garbage", None),
            ("HIGH", None),
        ];
        for (v, want) in cases {
            assert_eq!(from_cvss_vector(v), want, "{v}");
        }
    }

    #[test]
    fn bare_scores() {
        assert_eq!(from_bare_score("HIGH"), Some(Severity::High));
        assert_eq!(from_bare_score("moderate"), Some(Severity::Medium));
        assert_eq!(from_bare_score("9.8"), Some(Severity::Critical));
        assert_eq!(from_bare_score("4.0"), Some(Severity::Medium));
        assert_eq!(from_bare_score("0"), Some(Severity::None));
        assert_eq!(from_bare_score("11"), None);
        assert_eq!(from_bare_score("unknown"), None);
        assert_eq!(from_bare_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"), None);
    }
}
