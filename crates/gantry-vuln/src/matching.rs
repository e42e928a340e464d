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

/// Whether the OSV ecosystem string of an entry (maybe with a `:suffix`) is `ecosystem`.
fn same_ecosystem(entry: &str, ecosystem: Ecosystem) -> bool {
    entry.split(':').next().unwrap_or(entry).trim() == ecosystem.as_str()
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
    if advisory.is_withdrawn() {
        return MatchResult::NotAffected;
    }
    let wanted = ecosystem.normalize_name(name);
    let entries: Vec<&Affected> = advisory
        .affected
        .iter()
        .filter(|a| {
            same_ecosystem(&a.ecosystem, ecosystem) && ecosystem.normalize_name(&a.name) == wanted
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
        affected_ranges,
        fixed_versions,
        references: advisory.references.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::{match_advisory, MatchResult};
    use crate::{parse_advisory, Advisory, Ecosystem, Severity};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A record with one entry for `ecosystem`/`name` holding `ranges` (JSON) and
    /// `versions` (JSON), plus extra top-level fields.
    fn record(
        ecosystem: &str,
        name: &str,
        ranges: &str,
        versions: &str,
        extra: &str,
    ) -> Result<Advisory, crate::VulnError> {
        let json = format!(
            r#"{{"id":"TEST-1","modified":"2024-01-01T00:00:00Z","aliases":["CVE-0"],"summary":"sum",
               "references":[{{"type":"WEB","url":"https://example.invalid/x"}}],{extra}
               "affected":[{{"package":{{"ecosystem":"{ecosystem}","name":"{name}"}},
               "ranges":{ranges},"versions":{versions}}}]}}"#
        );
        parse_advisory(json.as_bytes())
    }

    fn outcome(a: &Advisory, eco: Ecosystem, name: &str, version: &str) -> &'static str {
        match match_advisory(a, eco, name, version) {
            MatchResult::Affected(_) => "affected",
            MatchResult::NotAffected => "not",
            MatchResult::Indeterminate(_) => "indeterminate",
        }
    }

    fn check(a: &Advisory, eco: Ecosystem, name: &str, cases: &[(&str, &str)]) {
        for (version, want) in cases {
            assert_eq!(
                outcome(a, eco, name, version),
                *want,
                "{} {name} {version}",
                eco.as_str()
            );
        }
    }

    #[test]
    fn introduced_fixed() -> TestResult {
        let a = record(
            "npm",
            "pkg",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"1.0.0"},{"fixed":"1.2.3"}]}]"#,
            "[]",
            "",
        )?;
        check(
            &a,
            Ecosystem::Npm,
            "pkg",
            &[
                ("0.9.9", "not"),
                ("1.0.0-rc.1", "not"),
                ("1.0.0", "affected"),
                ("v1.2.2", "affected"),
                ("1.2.3-beta.1", "affected"),
                ("1.2.3", "not"),
                ("2.0.0", "not"),
                ("not-a-version", "indeterminate"),
            ],
        );
        assert_eq!(outcome(&a, Ecosystem::Npm, "other", "1.0.0"), "not");
        assert_eq!(outcome(&a, Ecosystem::PyPI, "pkg", "1.0.0"), "not");
        let MatchResult::Affected(f) = match_advisory(&a, Ecosystem::Npm, "pkg", "1.1.0") else {
            return Err("expected a finding".into());
        };
        assert_eq!(f.advisory_id, "TEST-1");
        assert_eq!(f.aliases, ["CVE-0"]);
        assert_eq!(f.summary.as_deref(), Some("sum"));
        assert_eq!(f.affected_ranges, [">=1.0.0, <1.2.3"]);
        assert_eq!(f.fixed_versions, ["1.2.3"]);
        assert_eq!(f.references, ["https://example.invalid/x"]);
        assert_eq!(f.severity, Severity::Unknown);
        Ok(())
    }

    #[test]
    fn introduced_zero_is_below_everything() -> TestResult {
        let a = record(
            "PyPI",
            "Foo_Bar",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]"#,
            "[]",
            "",
        )?;
        check(
            &a,
            Ecosystem::PyPI,
            "foo-bar",
            &[
                ("0.dev1", "affected"),
                ("0", "affected"),
                ("1.9.post1", "affected"),
                ("2.0rc1", "affected"),
                ("2.0", "not"),
                ("2.0.0", "not"),
                ("2.0+local", "not"),
            ],
        );
        check(&a, Ecosystem::PyPI, "FOO.bar", &[("1.0", "affected")]);
        let c = record(
            "crates.io",
            "smallvec",
            r#"[{"type":"SEMVER","events":[{"introduced":"0.0.0-0"},{"fixed":"0.6.14"},{"introduced":"1.0.0"},{"fixed":"1.6.1"}]}]"#,
            "[]",
            "",
        )?;
        check(
            &c,
            Ecosystem::CratesIo,
            "smallvec",
            &[
                ("0.0.0-alpha", "affected"),
                ("0.6.13", "affected"),
                ("0.6.14", "not"),
                ("0.9.0", "not"),
                ("1.0.0", "affected"),
                ("1.6.0", "affected"),
                ("1.6.1", "not"),
            ],
        );
        let MatchResult::Affected(f) = match_advisory(&c, Ecosystem::CratesIo, "smallvec", "1.6.0")
        else {
            return Err("expected a finding".into());
        };
        assert_eq!(f.affected_ranges, ["<0.6.14 || >=1.0.0, <1.6.1"]);
        assert_eq!(f.fixed_versions, ["0.6.14", "1.6.1"]);
        // Case matters for crates.io names.
        assert_eq!(outcome(&c, Ecosystem::CratesIo, "SmallVec", "1.6.0"), "not");
        Ok(())
    }

    #[test]
    fn last_affected() -> TestResult {
        let a = record(
            "Maven",
            "com.h2database:h2",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"2.1.214"}]}]"#,
            "[]",
            "",
        )?;
        check(
            &a,
            Ecosystem::Maven,
            "com.h2database:h2",
            &[
                ("1.4.200", "affected"),
                ("2.1.214", "affected"),
                ("2.1.214.0", "affected"),
                ("2.1.215", "not"),
                ("2.2.220", "not"),
            ],
        );
        let MatchResult::Affected(f) =
            match_advisory(&a, Ecosystem::Maven, "com.h2database:h2", "2.0")
        else {
            return Err("expected a finding".into());
        };
        assert_eq!(f.affected_ranges, ["<=2.1.214"]);
        assert!(f.fixed_versions.is_empty());
        Ok(())
    }

    #[test]
    fn limit() -> TestResult {
        let a = record(
            "Go",
            "example.com/m",
            r#"[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"limit":"2.0.0"}]}]"#,
            "[]",
            "",
        )?;
        check(
            &a,
            Ecosystem::Go,
            "example.com/m",
            &[
                ("v0.9.0", "not"),
                ("v1.0.0", "affected"),
                ("v1.9.9", "affected"),
                ("v2.0.0-pre", "affected"),
                ("v2.0.0", "not"),
                ("v3.0.0", "not"),
            ],
        );
        let MatchResult::Affected(f) = match_advisory(&a, Ecosystem::Go, "example.com/m", "v1.5.0")
        else {
            return Err("expected a finding".into());
        };
        assert_eq!(f.affected_ranges, [">=1.0.0, <2.0.0"]);
        // A fixed event still closes the range below the limit; "*" is no limit.
        let b = record(
            "Go",
            "example.com/m",
            r#"[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"fixed":"1.5.0"},{"limit":"2.0.0"}]},
               {"type":"SEMVER","events":[{"introduced":"3.0.0"},{"limit":"*"}]}]"#,
            "[]",
            "",
        )?;
        check(
            &b,
            Ecosystem::Go,
            "example.com/m",
            &[
                ("1.4.0", "affected"),
                ("1.5.0", "not"),
                ("2.5.0", "not"),
                ("3.0.0", "affected"),
                ("v9.0.0+incompatible", "affected"),
            ],
        );
        Ok(())
    }

    #[test]
    fn unsorted_and_repeated_events() -> TestResult {
        let a = record(
            "RubyGems",
            "rack",
            r#"[{"type":"ECOSYSTEM","events":[{"fixed":"2.2.6.3"},{"introduced":"2.0.0"},{"fixed":"2.1.4.3"},{"introduced":"2.2.0"},{"introduced":"0"},{"fixed":"1.6.14"}]}]"#,
            "[]",
            "",
        )?;
        check(
            &a,
            Ecosystem::RubyGems,
            "rack",
            &[
                ("1.6.13", "affected"),
                ("1.6.14", "not"),
                ("2.0.0.beta1", "not"),
                ("2.0.0", "affected"),
                ("2.1.4.3", "not"),
                ("2.2.0", "affected"),
                ("2.2.6.2", "affected"),
                ("2.2.6.3", "not"),
                ("3.0.0", "not"),
            ],
        );
        Ok(())
    }

    #[test]
    fn git_ranges_are_skipped() -> TestResult {
        let git_only = record(
            "PyPI",
            "pkg",
            r#"[{"type":"GIT","repo":"https://example.invalid/r","events":[{"introduced":"0"},{"fixed":"0123456789abcdef0123456789abcdef01234567"}]}]"#,
            "[]",
            "",
        )?;
        check(
            &git_only,
            Ecosystem::PyPI,
            "pkg",
            &[("1.0", "not"), ("garbage!", "not")],
        );
        // The versions list still counts with only a GIT range.
        let git_and_versions = record(
            "PyPI",
            "pkg",
            r#"[{"type":"GIT","repo":"https://example.invalid/r","events":[{"introduced":"0"},{"fixed":"0123456789abcdef0123456789abcdef01234567"}]}]"#,
            r#"["1.0", "1.1"]"#,
            "",
        )?;
        check(
            &git_and_versions,
            Ecosystem::PyPI,
            "pkg",
            &[
                ("1.0", "affected"),
                ("1.0.0", "affected"),
                ("1.1", "affected"),
                ("1.2", "not"),
            ],
        );
        let MatchResult::Affected(f) =
            match_advisory(&git_and_versions, Ecosystem::PyPI, "pkg", "1.1")
        else {
            return Err("expected a finding".into());
        };
        assert_eq!(f.affected_ranges, ["=1.1"]);
        assert!(
            f.fixed_versions.is_empty(),
            "commit hashes are not fixed versions"
        );
        // A GIT range first does not hide the ECOSYSTEM range after it.
        let git_first = record(
            "PyPI",
            "pkg",
            r#"[{"type":"GIT","repo":"https://example.invalid/r","events":[{"introduced":"0"},{"fixed":"abc"}]},
               {"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.5"}]}]"#,
            r#"["1.0"]"#,
            "",
        )?;
        check(
            &git_first,
            Ecosystem::PyPI,
            "pkg",
            &[("1.0", "affected"), ("1.4", "affected"), ("1.5", "not")],
        );
        let MatchResult::Affected(f) = match_advisory(&git_first, Ecosystem::PyPI, "pkg", "1.4")
        else {
            return Err("expected a finding".into());
        };
        assert_eq!(
            (f.affected_ranges.as_slice(), f.fixed_versions.as_slice()),
            (
                ["<1.5".to_owned()].as_slice(),
                ["1.5".to_owned()].as_slice()
            )
        );
        Ok(())
    }

    #[test]
    fn withdrawn_never_matches() -> TestResult {
        let a = record(
            "NuGet",
            "Some.Package",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]"#,
            r#"["1.0.0"]"#,
            r#""withdrawn":"2024-02-01T00:00:00Z","#,
        )?;
        assert!(a.is_withdrawn());
        check(
            &a,
            Ecosystem::NuGet,
            "some.package",
            &[("1.0.0", "not"), ("2.0.0", "not"), ("bad", "not")],
        );
        Ok(())
    }

    #[test]
    fn versions_list_and_name_rules() -> TestResult {
        let a = record(
            "NuGet",
            "Some.Package",
            "[]",
            r#"["1.0", "7.0.0-Preview"]"#,
            "",
        )?;
        check(
            &a,
            Ecosystem::NuGet,
            "SOME.PACKAGE",
            &[
                ("1.0", "affected"),
                ("1.0.0.0", "affected"),
                ("7.0.0-preview", "affected"),
                ("1.0.1", "not"),
                ("what?", "not"),
            ],
        );
        let b = record(
            "Packagist",
            "Vendor/Pkg",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"2.0.0"},{"fixed":"2.4.1"}]}]"#,
            "[]",
            "",
        )?;
        check(
            &b,
            Ecosystem::Packagist,
            "vendor/pkg",
            &[
                ("v2.4.0", "affected"),
                ("2.4.1-RC1", "affected"),
                ("2.4.1", "not"),
                ("2.0.0-beta", "not"),
            ],
        );
        // An ecosystem suffix on the entry is ignored.
        let c = record(
            "Maven:https://repo.example",
            "g:a",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"5.2.20.RELEASE"}]}]"#,
            "[]",
            "",
        )?;
        check(
            &c,
            Ecosystem::Maven,
            "g:a",
            &[
                ("5.2.19.RELEASE", "affected"),
                ("5.2.20", "not"),
                ("5.2.20-SNAPSHOT", "affected"),
            ],
        );
        Ok(())
    }

    #[test]
    fn indeterminate_rules() -> TestResult {
        // A bound that does not parse makes the range indeterminate ...
        let a = record(
            "PyPI",
            "pkg",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"a3"}]}]"#,
            "[]",
            "",
        )?;
        match match_advisory(&a, Ecosystem::PyPI, "pkg", "1.0") {
            MatchResult::Indeterminate(reason) => assert!(reason.contains("a3"), "{reason}"),
            other => return Err(format!("expected indeterminate, got {other:?}").into()),
        }
        // ... unless other evidence says affected: the versions list,
        let b = record(
            "PyPI",
            "pkg",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"a3"}]}]"#,
            r#"["1.0"]"#,
            "",
        )?;
        check(
            &b,
            Ecosystem::PyPI,
            "pkg",
            &[
                ("1.0", "affected"),
                ("1.0.0", "affected"),
                ("2.0", "indeterminate"),
            ],
        );
        // ... or another range.
        let c = record(
            "PyPI",
            "pkg",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"a3"}]},
               {"type":"ECOSYSTEM","events":[{"introduced":"3.0"},{"fixed":"3.2"}]}]"#,
            "[]",
            "",
        )?;
        check(
            &c,
            Ecosystem::PyPI,
            "pkg",
            &[("3.1", "affected"), ("3.2", "indeterminate")],
        );
        // An unparseable package version: indeterminate when a range must be evaluated,
        // but a listed string still matches exactly.
        let d = record(
            "npm",
            "pkg",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0.0"}]}]"#,
            r#"["weird-1"]"#,
            "",
        )?;
        check(
            &d,
            Ecosystem::Npm,
            "pkg",
            &[
                ("weird-1", "affected"),
                ("weird-2", "indeterminate"),
                ("1.0.0", "affected"),
                ("2.0.0", "not"),
            ],
        );
        match match_advisory(&d, Ecosystem::Npm, "pkg", "weird-2") {
            MatchResult::Indeterminate(reason) => assert!(reason.contains("weird-2"), "{reason}"),
            other => return Err(format!("expected indeterminate, got {other:?}").into()),
        }
        Ok(())
    }

    #[test]
    fn severity_is_carried() -> TestResult {
        let a = record(
            "npm",
            "pkg",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]"#,
            "[]",
            r#""database_specific":{"severity":"MODERATE"},"#,
        )?;
        let MatchResult::Affected(f) = match_advisory(&a, Ecosystem::Npm, "pkg", "0.0.1") else {
            return Err("expected a finding".into());
        };
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.affected_ranges, [">=0"]);
        Ok(())
    }
}
