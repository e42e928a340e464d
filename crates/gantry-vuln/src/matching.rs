//! Deciding whether a package version is affected by an advisory.

use std::cmp::Ordering;

use crate::advisory::{Advisory, Affected, Event, Range, RangeKind};
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
    ecosystem: Ecosystem,
    raw: &'a str,
    native: Option<Parsed>,
    semver: Option<Parsed>,
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

/// Evaluates one `ECOSYSTEM` or `SEMVER` range as the OSV schema prescribes: sort the
/// events by version (stable, so equal versions keep record order); walking them,
/// `introduced <= v` makes the version vulnerable, `fixed <= v` or `last_affected < v`
/// makes it not; if there are `limit` events, `v` must be below at least one of them.
fn eval_range(range: &Range, v: &Parsed, scheme: Scheme) -> Result<bool, String> {
    let mut events = Vec::with_capacity(range.events.len());
    let mut limits = Vec::new();
    for event in &range.events {
        let text = event.version().trim();
        let bound = match event {
            Event::Introduced(_) if text == "0" => Bound::Lowest,
            Event::Limit(_) if text.contains('*') => Bound::Infinite,
            _ => Bound::Version(scheme.parse(text).ok_or_else(|| {
                format!(
                    "range bound {text:?} is not a valid {} version",
                    scheme.name()
                )
            })?),
        };
        match event {
            Event::Limit(_) => limits.push(bound),
            _ => events.push((bound, event)),
        }
    }
    if !limits.is_empty() && !limits.iter().any(|l| cmp_version(v, l) == Ordering::Less) {
        return Ok(false);
    }
    events.sort_by(|a, b| cmp_bound(&a.0, &b.0));
    let mut vulnerable = false;
    for (bound, event) in &events {
        let ord = cmp_version(v, bound);
        match event {
            Event::Introduced(_) if ord != Ordering::Less => vulnerable = true,
            Event::Fixed(_) if ord != Ordering::Less => vulnerable = false,
            Event::LastAffected(_) if ord == Ordering::Greater => vulnerable = false,
            _ => {}
        }
    }
    Ok(vulnerable)
}

fn eval_entry(entry: &Affected, c: &Candidate<'_>) -> Verdict {
    let raw = c.raw.trim();
    if entry.versions.iter().any(|l| l.trim() == raw) {
        return Verdict::Affected;
    }
    let ecosystem = c.ecosystem;
    let mut indeterminate = None;
    for range in &entry.ranges {
        let (v, scheme) = match range.kind {
            RangeKind::Git => continue,
            RangeKind::Ecosystem => (c.native.as_ref(), Scheme::Native(ecosystem)),
            RangeKind::Semver => (c.semver.as_ref(), Scheme::Semver),
        };
        let Some(v) = v else {
            indeterminate.get_or_insert_with(|| {
                format!("version {raw:?} is not a valid {} version", scheme.name())
            });
            continue;
        };
        match eval_range(range, v, scheme) {
            Ok(true) => return Verdict::Affected,
            Ok(false) => {}
            Err(reason) => {
                indeterminate.get_or_insert(reason);
            }
        }
    }
    if let Some(v) = &c.native {
        let listed_equal = entry
            .versions
            .iter()
            .filter_map(|l| version::parse(ecosystem, l))
            .any(|l| v.compare(&l) == Some(Ordering::Equal));
        if listed_equal {
            return Verdict::Affected;
        }
    }
    match indeterminate {
        Some(reason) => Verdict::Indeterminate(reason),
        None => Verdict::NotAffected,
    }
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
    if advisory.is_withdrawn() {
        return MatchResult::NotAffected;
    }
    let wanted = ecosystem.normalize_name(name);
    let entries: Vec<&Affected> = advisory
        .affected
        .iter()
        .filter(|a| {
            same_ecosystem(&a.ecosystem, ecosystem, release)
                && ecosystem.normalize_name(&a.name) == wanted
        })
        .collect();
    if entries.is_empty() {
        return MatchResult::NotAffected;
    }
    let candidate = Candidate {
        ecosystem,
        raw: version,
        native: version::parse(ecosystem, version),
        semver: version::parse_semver_range(version),
    };
    let mut affected = false;
    let mut indeterminate = None;
    for entry in &entries {
        match eval_entry(entry, &candidate) {
            Verdict::Affected => affected = true,
            Verdict::NotAffected => {}
            Verdict::Indeterminate(reason) => {
                indeterminate.get_or_insert(reason);
            }
        }
    }
    if !affected {
        return match indeterminate {
            Some(reason) => MatchResult::Indeterminate(reason),
            None => MatchResult::NotAffected,
        };
    }

    let mut affected_ranges = Vec::new();
    let mut fixed_versions: Vec<String> = Vec::new();
    for range in entries
        .iter()
        .flat_map(|e| &e.ranges)
        .filter(|r| r.kind != RangeKind::Git)
    {
        if let Some(text) = describe(range) {
            if !affected_ranges.contains(&text) {
                affected_ranges.push(text);
            }
        }
        for event in &range.events {
            if let Event::Fixed(v) = event {
                if !fixed_versions.contains(v) {
                    fixed_versions.push(v.clone());
                }
            }
        }
    }
    if affected_ranges.is_empty() {
        affected_ranges.push(format!("={}", version.trim()));
    }
    MatchResult::Affected(Finding {
        advisory_id: advisory.id.clone(),
        aliases: advisory.aliases.clone(),
        summary: advisory.summary.clone(),
        severity: advisory.severity,
        severity_source: advisory
            .severity_basis
            .map(|b| format!("{} ({})", advisory.id, b.label())),
        affected_ranges,
        fixed_versions,
        references: advisory.references.clone(),
    })
}

mod prepared;
pub use prepared::Matcher;

#[cfg(test)]
mod tests;
