//! Deciding whether a package version is affected by an advisory.

use std::cmp::Ordering;

use crate::advisory::{Advisory, Event, Range};
use crate::version::{self, Parsed};
use crate::{Ecosystem, Severity};

/// What an advisory says about a package version that it affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub advisory_id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: Severity,
    /// Where the severity comes from, such as `"GHSA-xxxx-xxxx-xxxx (CVSS v3.1)"`; `None`
    /// when it is unknown.
    pub severity_source: Option<String>,
    /// One readable line per `ECOSYSTEM`/`SEMVER` range of the package, such as
    /// `">=1.0, <1.2.3"` (intervals of one range joined by `" || "`); `"=V"` when the
    /// version matched only through the `versions` list.
    pub affected_ranges: Vec<String>,
    /// Every `fixed` version of those ranges, in record order, without repeats.
    pub fixed_versions: Vec<String>,
    pub references: Vec<String>,
}

/// The outcome of [`match_advisory`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchResult {
    Affected(Finding),
    NotAffected,
    /// The advisory names the package but the answer cannot be computed (the reason
    /// says why: an unparseable package version or range bound).
    Indeterminate(String),
}

/// Per-entry outcome.
enum Verdict {
    Affected,
    NotAffected,
    Indeterminate(String),
}

/// The package version, parsed once for each way ranges may need it.
struct Candidate<'a> {
    raw: &'a str,
    native: Option<Parsed>,
    semver: Option<Parsed>,
}

impl<'a> Candidate<'a> {
    fn new(ecosystem: Ecosystem, raw: &'a str) -> Self {
        Self {
            raw,
            native: version::parse(ecosystem, raw),
            semver: version::parse_semver_range(raw),
        }
    }
}

/// How the bounds of a range are read.
#[derive(Debug, Clone, Copy)]
enum Scheme {
    /// `ECOSYSTEM` ranges: the package ecosystem's own rules.
    Native(Ecosystem),
    /// `SEMVER` ranges: SemVer 2.0 whatever the ecosystem.
    Semver,
}

impl Scheme {
    fn parse(self, s: &str) -> Option<Parsed> {
        match self {
            Scheme::Native(e) => version::parse(e, s),
            Scheme::Semver => version::parse_semver_range(s),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scheme::Native(e) => e.as_str(),
            Scheme::Semver => "SemVer",
        }
    }
}

/// A range bound: `introduced: "0"` is below everything, a `limit` containing `*` is
/// above everything.
#[derive(Debug)]
enum Bound {
    Lowest,
    Version(Parsed),
    Infinite,
}

fn cmp_bound(a: &Bound, b: &Bound) -> Ordering {
    match (a, b) {
        (Bound::Lowest, Bound::Lowest) | (Bound::Infinite, Bound::Infinite) => Ordering::Equal,
        (Bound::Lowest, _) | (_, Bound::Infinite) => Ordering::Less,
        (_, Bound::Lowest) | (Bound::Infinite, _) => Ordering::Greater,
        (Bound::Version(x), Bound::Version(y)) => x.compare(y).unwrap_or(Ordering::Equal),
    }
}

/// `v` compared with `bound`.
fn cmp_version(v: &Parsed, bound: &Bound) -> Ordering {
    match bound {
        Bound::Lowest => Ordering::Greater,
        Bound::Infinite => Ordering::Less,
        Bound::Version(b) => v.compare(b).unwrap_or(Ordering::Equal),
    }
}

/// Whether the OSV ecosystem string of an entry (maybe with a `:suffix`) is `ecosystem`,
/// and, when a release is asked for, of that release.
fn same_ecosystem(entry: &str, ecosystem: Ecosystem, release: Option<&str>) -> bool {
    let (base, suffix) = entry.split_once(':').unwrap_or((entry, ""));
    base.trim() == ecosystem.as_str() && release.is_none_or(|r| suffix.trim() == r)
}

/// A readable form of one range, e.g. `">=1.0, <1.2.3 || >=2.0, <=2.1"`.
fn describe(range: &Range) -> Option<String> {
    let mut intervals = Vec::new();
    let mut open: Option<Option<&str>> = None;
    let mut limits = Vec::new();
    let close = |lower: Option<&str>, upper: String| match lower {
        Some(l) => format!(">={l}, {upper}"),
        None => upper,
    };
    for event in &range.events {
        let text = event.version().trim();
        match event {
            Event::Introduced(_) => {
                if open.is_none() {
                    open = Some((!matches!(text, "0" | "0.0.0-0")).then_some(text));
                }
            }
            Event::Fixed(_) => {
                if let Some(lower) = open.take() {
                    intervals.push(close(lower, format!("<{text}")));
                }
            }
            Event::LastAffected(_) => {
                if let Some(lower) = open.take() {
                    intervals.push(close(lower, format!("<={text}")));
                }
            }
            Event::Limit(_) => {
                if !text.contains('*') {
                    limits.push(format!("<{text}"));
                }
            }
        }
    }
    if let Some(lower) = open {
        intervals.push(match (lower, limits.is_empty()) {
            (lower, false) => close(lower, limits.join(" or ")),
            (Some(l), true) => format!(">={l}"),
            (None, true) => ">=0".to_owned(),
        });
    }
    (!intervals.is_empty()).then(|| intervals.join(" || "))
}

/// Matches the package `name` at `version` of `ecosystem` against `advisory`.
///
/// Withdrawn advisories never match. An `affected` entry applies when its ecosystem
/// (any `:suffix` ignored) is `ecosystem` and its name equals `name` under
/// [`Ecosystem::normalize_name`]. The version is affected by an entry when it is listed
/// in `versions` (as written, or equal by the ecosystem's ordering) or lies in one of its
/// `ECOSYSTEM`/`SEMVER` ranges; `GIT` ranges are skipped. Affected wins over
/// indeterminate (an unparseable package version or range bound), which wins over not
/// affected.
pub fn match_advisory(
    advisory: &Advisory,
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
) -> MatchResult {
    match_advisory_in(advisory, ecosystem, None, name, version)
}

/// [`match_advisory`] for a package of one release of a distribution (`release` is `"12"`
/// for `Debian:12`): only the advisory's entries for that release apply.
pub fn match_advisory_in(
    advisory: &Advisory,
    ecosystem: Ecosystem,
    release: Option<&str>,
    name: &str,
    version: &str,
) -> MatchResult {
    let wanted = ecosystem.normalize_name(name);
    match prepared::Prepared::new(0, advisory, ecosystem, release, &wanted) {
        Some(prepared) => prepared.outcome(advisory, &Candidate::new(ecosystem, version)),
        None => MatchResult::NotAffected,
    }
}

mod prepared;
pub use prepared::Matcher;

#[cfg(test)]
mod tests;
