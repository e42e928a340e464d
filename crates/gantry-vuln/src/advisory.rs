//! OSV records: the parsed model and [`parse_advisory`].

use serde::Deserialize;
use serde_json::Value;

use crate::severity::{from_bare_score, from_cvss_vector, Severity, SeverityBasis};
use crate::VulnError;

/// The largest record [`parse_advisory`] accepts, in bytes (4 MiB).
pub const MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;

/// One OSV advisory, reduced to what matching and reporting need.
#[derive(Debug, Clone, PartialEq)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub details: Option<String>,
    pub modified: String,
    pub published: Option<String>,
    pub withdrawn: Option<String>,
    /// Reference URLs, in record order.
    pub references: Vec<String>,
    pub affected: Vec<Affected>,
    /// Computed when parsing; see [`parse_advisory`].
    pub severity: Severity,
    /// The CVSS vector or rating the severity was computed from.
    pub raw_severity: Option<String>,
    /// What kind of rating `raw_severity` is; `None` when the severity is unknown.
    pub severity_basis: Option<SeverityBasis>,
}

/// One `affected[]` entry: a package and the versions of it that are affected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    /// The OSV ecosystem string as written (may carry a `:suffix`); empty when the
    /// entry names no package.
    pub ecosystem: String,
    pub name: String,
    /// Versions listed as affected, as written.
    pub versions: Vec<String>,
    pub ranges: Vec<Range>,
}

/// One `affected[].ranges[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub kind: RangeKind,
    /// Events in record order.
    pub events: Vec<Event>,
}

/// The `type` of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeKind {
    /// Versions ordered by the package's ecosystem.
    Ecosystem,
    /// SemVer 2.0 versions.
    Semver,
    /// Commit hashes; cannot be evaluated without the repository.
    Git,
}

impl RangeKind {
    /// The OSV name: `"ECOSYSTEM"`, `"SEMVER"` or `"GIT"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RangeKind::Ecosystem => "ECOSYSTEM",
            RangeKind::Semver => "SEMVER",
            RangeKind::Git => "GIT",
        }
    }
}

/// One event of a range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Event {
    /// The vulnerability starts at this version (`"0"`: before every version).
    Introduced(String),
    /// First version no longer affected.
    Fixed(String),
    /// Last version known to be affected.
    LastAffected(String),
    /// Versions at or above this are outside the range (`"*"`: no limit).
    Limit(String),
}

impl Event {
    /// The version the event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

impl Advisory {
    /// Whether the advisory has been withdrawn (it then never matches).
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }
}

// The wire format. Optional everywhere the schema allows it (and `null` accepted where a
// list is expected), unknown fields ignored.

#[derive(Deserialize)]
struct RawAdvisory {
    id: String,
    modified: String,
    published: Option<String>,
    withdrawn: Option<String>,
    aliases: Option<Vec<String>>,
    summary: Option<String>,
    details: Option<String>,
    severity: Option<Vec<RawSeverity>>,
    affected: Option<Vec<RawAffected>>,
    references: Option<Vec<RawReference>>,
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: Option<String>,
    score: Option<String>,
}

#[derive(Deserialize)]
struct RawAffected {
    package: Option<RawPackage>,
    severity: Option<Vec<RawSeverity>>,
    ranges: Option<Vec<RawRange>>,
    versions: Option<Vec<String>>,
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    events: Option<Vec<RawEvent>>,
}

#[derive(Deserialize)]
struct RawEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

#[derive(Deserialize)]
struct RawReference {
    url: Option<String>,
}

/// Parses one OSV JSON record.
///
/// Refuses records over [`MAX_RECORD_BYTES`], invalid JSON, a record without `id` or
/// `modified`, and a range whose `type` is not `ECOSYSTEM`, `SEMVER` or `GIT`. An event
/// object that (against the schema) holds several kinds yields one event per kind.
///
/// The severity is the highest of the CVSS v3.0/v3.1/v4.0 vectors in `severity[]` (of
/// the record and of its `affected[]` entries); failing that, the highest
/// `database_specific.severity` rating (`LOW`, `MODERATE`, `HIGH`, `CRITICAL`) of the
/// record or its entries; failing that, the highest bare (non-vector) `severity[].score`;
/// otherwise [`Severity::Unknown`].
pub fn parse_advisory(bytes: &[u8]) -> Result<Advisory, VulnError> {
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(VulnError::TooLarge {
            size: bytes.len(),
            limit: MAX_RECORD_BYTES,
        });
    }
    let raw: RawAdvisory = serde_json::from_slice(bytes)?;
    if raw.id.trim().is_empty() {
        return Err(VulnError::Invalid("empty id".to_owned()));
    }
    let (severity, raw_severity, severity_basis) = compute_severity(&raw);
    let mut affected = Vec::new();
    for a in raw.affected.unwrap_or_default() {
        let (ecosystem, name) = match a.package {
            Some(p) => (p.ecosystem.unwrap_or_default(), p.name.unwrap_or_default()),
            None => (String::new(), String::new()),
        };
        let mut ranges = Vec::new();
        for r in a.ranges.unwrap_or_default() {
            let kind = match r.kind.as_str() {
                "ECOSYSTEM" => RangeKind::Ecosystem,
                "SEMVER" => RangeKind::Semver,
                "GIT" => RangeKind::Git,
                other => {
                    return Err(VulnError::Invalid(format!(
                        "{}: unknown range type {other:?}",
                        raw.id
                    )))
                }
            };
            let mut events = Vec::new();
            for e in r.events.unwrap_or_default() {
                events.extend(e.introduced.map(Event::Introduced));
                events.extend(e.fixed.map(Event::Fixed));
                events.extend(e.last_affected.map(Event::LastAffected));
                events.extend(e.limit.map(Event::Limit));
            }
            ranges.push(Range { kind, events });
        }
        affected.push(Affected {
            ecosystem,
            name,
            versions: a.versions.unwrap_or_default(),
            ranges,
        });
    }
    Ok(Advisory {
        id: raw.id,
        aliases: raw.aliases.unwrap_or_default(),
        summary: raw.summary,
        details: raw.details,
        modified: raw.modified,
        published: raw.published,
        withdrawn: raw.withdrawn,
        references: raw
            .references
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.url)
            .collect(),
        affected,
        severity,
        raw_severity,
        severity_basis,
    })
}

/// Keeps the candidate with the highest rank (the first one among equals).
fn keep_highest(best: &mut Option<(Severity, String)>, severity: Severity, source: &str) {
    let better = match best {
        Some((b, _)) => severity.rank() > b.rank(),
        None => true,
    };
    if better {
        *best = Some((severity, source.to_owned()));
    }
}

fn compute_severity(raw: &RawAdvisory) -> (Severity, Option<String>, Option<SeverityBasis>) {
    let entries: Vec<&RawSeverity> = raw
        .severity
        .iter()
        .flatten()
        .chain(
            raw.affected
                .iter()
                .flatten()
                .flat_map(|a| a.severity.iter().flatten()),
        )
        .collect();

    let mut best = None;
    for s in &entries {
        let Some(score) = s.score.as_deref() else {
            continue;
        };
        let typed = matches!(s.kind.as_deref(), Some("CVSS_V3" | "CVSS_V4"));
        let looks =
            score.trim_start().starts_with("CVSS:3") || score.trim_start().starts_with("CVSS:4");
        if typed || looks {
            if let Some(sev) = from_cvss_vector(score) {
                keep_highest(&mut best, sev, score.trim());
            }
        }
    }
    if let Some((s, v)) = best {
        let basis = SeverityBasis::of_vector(&v);
        return (s, Some(v), basis);
    }

    let ratings = raw.database_specific.iter().chain(
        raw.affected
            .iter()
            .flatten()
            .filter_map(|a| a.database_specific.as_ref()),
    );
    for ds in ratings {
        if let Some(text) = ds.get("severity").and_then(Value::as_str) {
            if let Some(sev) = Severity::from_rating(text).filter(|s| *s != Severity::Unknown) {
                keep_highest(&mut best, sev, text.trim());
            }
        }
    }
    if let Some((s, v)) = best {
        return (s, Some(v), Some(SeverityBasis::DatabaseRating));
    }

    for s in &entries {
        if let Some(score) = s.score.as_deref() {
            if let Some(sev) = from_bare_score(score) {
                keep_highest(&mut best, sev, score.trim());
            }
        }
    }
    match best {
        Some((s, v)) => (s, Some(v), Some(SeverityBasis::Score)),
        None => (Severity::Unknown, None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_advisory, Event, RangeKind, MAX_RECORD_BYTES};
    use crate::{Severity, VulnError};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn parses_fields() -> TestResult {
        let a = parse_advisory(
            br#"{
              "schema_version": "1.6.0",
              "id": "TEST-1", "modified": "2024-01-01T00:00:00Z",
              "published": "2023-01-01T00:00:00Z",
              "aliases": ["CVE-2024-0001"], "summary": "s", "details": "d",
              "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
              "affected": [{
                "package": {"ecosystem": "PyPI", "name": "Foo_Bar", "purl": "pkg:pypi/foo-bar"},
                "ranges": [
                  {"type": "GIT", "repo": "https://example.invalid/r.git", "events": [{"introduced": "0"}, {"fixed": "abc"}]},
                  {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.2"}, {"last_affected": "2.0"}, {"limit": "*"}]}
                ],
                "versions": ["1.0", "1.1"],
                "ecosystem_specific": {"x": 1}
              }],
              "references": [{"type": "WEB", "url": "https://example.invalid/a"}, {"type": "WEB"}],
              "database_specific": {"severity": "LOW"}
            }"#,
        )?;
        assert_eq!(a.id, "TEST-1");
        assert_eq!(a.aliases, ["CVE-2024-0001"]);
        assert_eq!(a.references, ["https://example.invalid/a"]);
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(
            a.raw_severity.as_deref(),
            Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
        );
        assert_eq!(a.affected.len(), 1);
        let aff = &a.affected[0];
        assert_eq!(
            (aff.ecosystem.as_str(), aff.name.as_str()),
            ("PyPI", "Foo_Bar")
        );
        assert_eq!(aff.ranges[0].kind, RangeKind::Git);
        assert_eq!(aff.ranges[1].kind, RangeKind::Ecosystem);
        assert_eq!(
            aff.ranges[1].events,
            [
                Event::Introduced("1.0".into()),
                Event::Fixed("1.2".into()),
                Event::LastAffected("2.0".into()),
                Event::Limit("*".into())
            ]
        );
        Ok(())
    }

    #[test]
    fn severity_sources() -> TestResult {
        // database_specific on the record, MODERATE = medium.
        let a = parse_advisory(
            br#"{"id":"A","modified":"x","severity":[],"database_specific":{"severity":"MODERATE"}}"#,
        )?;
        assert_eq!(
            (a.severity, a.raw_severity.as_deref()),
            (Severity::Medium, Some("MODERATE"))
        );
        // On an affected entry.
        let a = parse_advisory(
            br#"{"id":"A","modified":"x","affected":[{"package":{"ecosystem":"npm","name":"x"},"database_specific":{"severity":"HIGH"}}]}"#,
        )?;
        assert_eq!(a.severity, Severity::High);
        // Highest vector wins; v4 is understood; vectors beat database ratings.
        let a = parse_advisory(
            br#"{"id":"A","modified":"x","severity":[
                {"type":"CVSS_V3","score":"CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"},
                {"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
              "database_specific":{"severity":"LOW"}}"#,
        )?;
        assert_eq!(a.severity, Severity::Critical);
        // Per-package vectors.
        let a = parse_advisory(
            br#"{"id":"A","modified":"x","affected":[{"package":{"ecosystem":"npm","name":"x"},
              "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:H/A:L"}]}]}"#,
        )?;
        assert_eq!(a.severity, Severity::High);
        // A bare rating as the score (as some databases write it).
        let a = parse_advisory(
            br#"{"id":"A","modified":"x","severity":[{"type":"Ubuntu","score":"medium"}]}"#,
        )?;
        assert_eq!(
            (a.severity, a.raw_severity.as_deref()),
            (Severity::Medium, Some("medium"))
        );
        // A CVSS v2 vector alone is not scored.
        let a = parse_advisory(
            br#"{"id":"A","modified":"x","severity":[{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:P/I:P/A:P"}]}"#,
        )?;
        assert_eq!((a.severity, a.raw_severity), (Severity::Unknown, None));
        Ok(())
    }

    #[test]
    fn refusals() {
        let big = vec![b' '; MAX_RECORD_BYTES + 1];
        assert!(matches!(
            parse_advisory(&big),
            Err(VulnError::TooLarge { .. })
        ));
        assert!(matches!(parse_advisory(b"{"), Err(VulnError::Json(_))));
        assert!(matches!(
            parse_advisory(br#"{"modified":"x"}"#),
            Err(VulnError::Json(_))
        ));
        assert!(matches!(
            parse_advisory(br#"{"id":"","modified":"x"}"#),
            Err(VulnError::Invalid(_))
        ));
        assert!(matches!(
            parse_advisory(br#"{"id":"A","modified":"x","affected":[{"ranges":[{"type":"RPM","events":[]}]}]}"#),
            Err(VulnError::Invalid(_))
        ));
    }

    #[test]
    fn lenient_shapes() -> TestResult {
        let a = parse_advisory(
            br#"{"id":"A","modified":"x","aliases":null,"references":null,"affected":[
                {"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0","fixed":"1.0.2"},{"unknown":"3"}]}]}]}"#,
        )?;
        assert!(a.aliases.is_empty());
        assert_eq!(a.affected[0].ecosystem, "");
        assert_eq!(
            a.affected[0].ranges[0].events,
            [
                Event::Introduced("1.0.0".into()),
                Event::Fixed("1.0.2".into())
            ]
        );
        Ok(())
    }
}
