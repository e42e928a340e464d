//! Matching many versions of one package against its advisories. Everything that depends
//! only on the records — the entries naming the package, their range bounds parsed and
//! sorted, their listed versions parsed, the finding's range text and fixed versions — is
//! computed once, so each version costs its own parse and the comparisons. The outcome is
//! [`match_advisory_in`](super::match_advisory_in)'s for every advisory (the unit tests and
//! bench/scan.sh check it).

use std::cmp::Ordering;
use std::collections::HashSet;

use super::{
    cmp_bound, cmp_version, describe, same_ecosystem, Bound, Candidate, Finding, MatchResult,
    Scheme, Verdict,
};
use crate::advisory::{Advisory, Event, Range, RangeKind};
use crate::version::{self, Parsed};
use crate::Ecosystem;

/// The advisories of one package name in one ecosystem (and release), prepared for matching.
#[derive(Debug)]
pub struct Matcher {
    ecosystem: Ecosystem,
    advisories: Vec<Advisory>,
    /// Only the advisories with entries naming the package; the others never match.
    prepared: Vec<Prepared>,
}

#[derive(Debug)]
pub(super) struct Prepared {
    /// Index into `advisories`.
    index: usize,
    entries: Vec<Entry>,
    affected_ranges: Vec<String>,
    fixed_versions: Vec<String>,
}

#[derive(Debug)]
struct Entry {
    /// Listed versions as written, trimmed.
    listed: HashSet<String>,
    /// Listed versions that parse by the ecosystem's rules.
    listed_parsed: Vec<Parsed>,
    /// `ECOSYSTEM` and `SEMVER` ranges (`GIT` ranges are never evaluated).
    ranges: Vec<(Scheme, Result<Sorted, String>)>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Introduced,
    Fixed,
    LastAffected,
}

/// A range's bounds, parsed and sorted as the OSV evaluation walks them.
#[derive(Debug)]
struct Sorted {
    limits: Vec<Bound>,
    events: Vec<(Bound, Kind)>,
}

impl Sorted {
    fn new(range: &Range, scheme: Scheme) -> Result<Self, String> {
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
                Event::Introduced(_) => events.push((bound, Kind::Introduced)),
                Event::Fixed(_) => events.push((bound, Kind::Fixed)),
                Event::LastAffected(_) => events.push((bound, Kind::LastAffected)),
            }
        }
        events.sort_by(|a, b| cmp_bound(&a.0, &b.0));
        Ok(Self { limits, events })
    }

    fn contains(&self, v: &Parsed) -> bool {
        if !self.limits.is_empty()
            && !self
                .limits
                .iter()
                .any(|l| cmp_version(v, l) == Ordering::Less)
        {
            return false;
        }
        let mut vulnerable = false;
        for (bound, kind) in &self.events {
            let ord = cmp_version(v, bound);
            match kind {
                Kind::Introduced if ord != Ordering::Less => vulnerable = true,
                Kind::Fixed if ord != Ordering::Less => vulnerable = false,
                Kind::LastAffected if ord == Ordering::Greater => vulnerable = false,
                _ => {}
            }
        }
        vulnerable
    }
}

impl Entry {
    fn new(entry: &crate::advisory::Affected, ecosystem: Ecosystem) -> Self {
        let ranges = entry
            .ranges
            .iter()
            .filter_map(|range| {
                let scheme = match range.kind {
                    RangeKind::Git => return None,
                    RangeKind::Ecosystem => Scheme::Native(ecosystem),
                    RangeKind::Semver => Scheme::Semver,
                };
                Some((scheme, Sorted::new(range, scheme)))
            })
            .collect();
        Self {
            listed: entry.versions.iter().map(|l| l.trim().to_owned()).collect(),
            listed_parsed: entry
                .versions
                .iter()
                .filter_map(|l| version::parse(ecosystem, l))
                .collect(),
            ranges,
        }
    }

    fn verdict(&self, c: &Candidate<'_>) -> Verdict {
        let raw = c.raw.trim();
        if self.listed.contains(raw) {
            return Verdict::Affected;
        }
        let mut indeterminate = None;
        for (scheme, sorted) in &self.ranges {
            let v = match scheme {
                Scheme::Native(_) => c.native.as_ref(),
                Scheme::Semver => c.semver.as_ref(),
            };
            let Some(v) = v else {
                indeterminate.get_or_insert_with(|| {
                    format!("version {raw:?} is not a valid {} version", scheme.name())
                });
                continue;
            };
            match sorted {
                Ok(sorted) if sorted.contains(v) => return Verdict::Affected,
                Ok(_) => {}
                Err(reason) => {
                    indeterminate.get_or_insert_with(|| reason.clone());
                }
            }
        }
        if let Some(v) = &c.native {
            if self
                .listed_parsed
                .iter()
                .any(|l| v.compare(l) == Some(Ordering::Equal))
            {
                return Verdict::Affected;
            }
        }
        match indeterminate {
            Some(reason) => Verdict::Indeterminate(reason),
            None => Verdict::NotAffected,
        }
    }
}

impl Prepared {
    pub(super) fn new(
        index: usize,
        advisory: &Advisory,
        ecosystem: Ecosystem,
        release: Option<&str>,
        wanted: &str,
    ) -> Option<Self> {
        if advisory.is_withdrawn() {
            return None;
        }
        let entries: Vec<&crate::advisory::Affected> = advisory
            .affected
            .iter()
            .filter(|a| {
                same_ecosystem(&a.ecosystem, ecosystem, release)
                    && ecosystem.normalize_name(&a.name) == wanted
            })
            .collect();
        if entries.is_empty() {
            return None;
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
        Some(Self {
            index,
            entries: entries.iter().map(|e| Entry::new(e, ecosystem)).collect(),
            affected_ranges,
            fixed_versions,
        })
    }

    pub(super) fn outcome(&self, advisory: &Advisory, c: &Candidate<'_>) -> MatchResult {
        let mut affected = false;
        let mut indeterminate = None;
        for entry in &self.entries {
            match entry.verdict(c) {
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
        let mut affected_ranges = self.affected_ranges.clone();
        if affected_ranges.is_empty() {
            affected_ranges.push(format!("={}", c.raw.trim()));
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
            fixed_versions: self.fixed_versions.clone(),
            references: advisory.references.clone(),
        })
    }
}

impl Matcher {
    /// Prepares `advisories` for the package `name` of `ecosystem` (and `release`, as in
    /// [`match_advisory_in`](super::match_advisory_in)).
    pub fn new(
        advisories: Vec<Advisory>,
        ecosystem: Ecosystem,
        release: Option<&str>,
        name: &str,
    ) -> Self {
        let wanted = ecosystem.normalize_name(name);
        let prepared = advisories
            .iter()
            .enumerate()
            .filter_map(|(i, a)| Prepared::new(i, a, ecosystem, release, &wanted))
            .collect();
        Self {
            ecosystem,
            advisories,
            prepared,
        }
    }

    /// The advisories it was made of.
    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    /// The outcome of every advisory that is not [`MatchResult::NotAffected`] for `version`
    /// (of a package whose name normalises like the one given to [`Matcher::new`]), in the
    /// advisories' order.
    pub fn match_version(&self, version: &str) -> Vec<(&Advisory, MatchResult)> {
        if self.prepared.is_empty() {
            return Vec::new();
        }
        let candidate = Candidate::new(self.ecosystem, version);
        let mut out = Vec::new();
        for prepared in &self.prepared {
            let Some(advisory) = self.advisories.get(prepared.index) else {
                continue;
            };
            match prepared.outcome(advisory, &candidate) {
                MatchResult::NotAffected => {}
                outcome => out.push((advisory, outcome)),
            }
        }
        out
    }
}
