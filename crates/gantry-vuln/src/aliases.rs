//! Findings that are aliases of one another, merged into one; a severity borrowed from an
//! alias when the advisory has no rating of its own.
//!
//! Databases publish the same vulnerability under several ids (a PYSEC record, its GitHub
//! advisory, the CVE); often only one of them carries a rating. Reporting each separately
//! would count one vulnerability several times, and reporting the unrated one alone would
//! rank it as critical (`unknown` fails closed).

use std::collections::BTreeSet;

use crate::{Advisory, Ecosystem, Finding, Severity};

/// Merges `findings` of one package version whose ids or aliases overlap (transitively)
/// into one finding each.
///
/// The merged finding's id is the ecosystem's own database id where the group has one
/// ([`Ecosystem::database_prefix`]), else a `GHSA-` id, else the smallest id; `aliases`
/// lists every other id of the group. Its severity is its own when it has one, else the
/// alias's: CVSS vectors first (the highest of them), then database ratings, then bare
/// scores, taken from the group's other findings and from `alias_records` (stored
/// advisories named as aliases that did not match themselves); `severity_source` names
/// the record and kind of rating it came from. Ranges, fixed versions and references are
/// the union of the group's.
pub fn merge_aliases(
    ecosystem: Ecosystem,
    findings: Vec<Finding>,
    alias_records: &[Advisory],
) -> Vec<Finding> {
    let groups = group(findings);
    let mut out: Vec<Finding> = groups
        .into_iter()
        .map(|g| merge_group(ecosystem, g, alias_records))
        .collect();
    out.sort_by(|a, b| a.advisory_id.cmp(&b.advisory_id));
    out
}

/// Every id a finding is known by.
fn ids_of(f: &Finding) -> impl Iterator<Item = &str> {
    std::iter::once(f.advisory_id.as_str()).chain(f.aliases.iter().map(String::as_str))
}

/// Partitions findings into groups sharing an id (a small quadratic merge: a package has
/// few findings).
fn group(findings: Vec<Finding>) -> Vec<Vec<Finding>> {
    let mut groups: Vec<(BTreeSet<String>, Vec<Finding>)> = Vec::new();
    for f in findings {
        let ids: BTreeSet<String> = ids_of(&f).map(str::to_owned).collect();
        let mut merged_ids = ids;
        let mut merged = vec![f];
        let mut i = 0;
        while i < groups.len() {
            if groups[i].0.iter().any(|id| merged_ids.contains(id)) {
                let (ids, members) = groups.swap_remove(i);
                merged_ids.extend(ids);
                merged.extend(members);
            } else {
                i += 1;
            }
        }
        groups.push((merged_ids, merged));
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// The order in which a group's ids are preferred as its name.
fn preference(ecosystem: Ecosystem, id: &str) -> (u8, String) {
    let own = ecosystem
        .database_prefix()
        .is_some_and(|p| id.starts_with(p));
    let rank = if own {
        0
    } else if id.starts_with("GHSA-") {
        1
    } else {
        2
    };
    (rank, id.to_owned())
}

fn merge_group(ecosystem: Ecosystem, mut group: Vec<Finding>, records: &[Advisory]) -> Finding {
    group.sort_by_key(|f| preference(ecosystem, &f.advisory_id));
    let all_ids: BTreeSet<String> = group.iter().flat_map(ids_of).map(str::to_owned).collect();
    let mut rest = group.split_off(1);
    let Some(mut primary) = group.pop() else {
        // `group` never holds an empty group; keep the type honest without panicking.
        return Finding {
            advisory_id: String::new(),
            aliases: Vec::new(),
            summary: None,
            severity: Severity::Unknown,
            severity_source: None,
            affected_ranges: Vec::new(),
            fixed_versions: Vec::new(),
            references: Vec::new(),
        };
    };
    if primary.severity == Severity::Unknown {
        if let Some((severity, source)) = borrowed_severity(&primary, &rest, records, &all_ids) {
            primary.severity = severity;
            primary.severity_source = Some(source);
        }
    }
    if primary.summary.is_none() {
        primary.summary = rest.iter().find_map(|f| f.summary.clone());
    }
    for other in rest.drain(..) {
        union_into(&mut primary.affected_ranges, other.affected_ranges);
        union_into(&mut primary.fixed_versions, other.fixed_versions);
        union_into(&mut primary.references, other.references);
    }
    primary.aliases = all_ids
        .into_iter()
        .filter(|id| *id != primary.advisory_id)
        .collect();
    primary
}

fn union_into(into: &mut Vec<String>, more: Vec<String>) {
    for m in more {
        if !into.contains(&m) {
            into.push(m);
        }
    }
}

/// The best rating among the group's other findings and the stored alias records.
fn borrowed_severity(
    primary: &Finding,
    rest: &[Finding],
    records: &[Advisory],
    ids: &BTreeSet<String>,
) -> Option<(Severity, String)> {
    // (tier, severity, source): tier 0 vectors, 1 database ratings, 2 bare scores.
    let mut best: Option<(u8, Severity, String)> = None;
    let mut consider = |id: &str, severity: Severity, basis: Option<crate::SeverityBasis>| {
        let Some(basis) = basis else { return };
        if severity == Severity::Unknown || id == primary.advisory_id {
            return;
        }
        let tier = match basis {
            b if b.is_vector() => 0,
            crate::SeverityBasis::DatabaseRating => 1,
            _ => 2,
        };
        let better = best
            .as_ref()
            .is_none_or(|(t, s, _)| tier < *t || (tier == *t && severity.rank() > s.rank()));
        if better {
            best = Some((tier, severity, format!("{id} ({})", basis.label())));
        }
    };
    for record in records.iter().filter(|r| ids.contains(&r.id)) {
        consider(&record.id, record.severity, record.severity_basis);
    }
    for f in rest {
        // A merged-in finding's basis is in its source label; its record, when stored,
        // was passed in `records` by the caller, so only fall back to the label here.
        if records.iter().any(|r| r.id == f.advisory_id) {
            continue;
        }
        let basis = f
            .severity_source
            .as_deref()
            .and_then(|s| s.rsplit_once(" (").map(|(_, b)| b.trim_end_matches(')')))
            .and_then(basis_from_label);
        consider(&f.advisory_id, f.severity, basis);
    }
    best.map(|(_, s, source)| (s, source))
}

fn basis_from_label(label: &str) -> Option<crate::SeverityBasis> {
    use crate::SeverityBasis as B;
    [
        B::CvssV4,
        B::CvssV31,
        B::CvssV30,
        B::DatabaseRating,
        B::Score,
    ]
    .into_iter()
    .find(|b| b.label() == label)
}

#[cfg(test)]
mod tests {
    use super::merge_aliases;
    use crate::{parse_advisory, Ecosystem, Finding, Severity};

    fn finding(id: &str, aliases: &[&str], severity: Severity, source: Option<&str>) -> Finding {
        Finding {
            advisory_id: id.to_owned(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            summary: None,
            severity,
            severity_source: source.map(str::to_owned),
            affected_ranges: vec![format!("<{id}")],
            fixed_versions: Vec::new(),
            references: Vec::new(),
        }
    }

    #[test]
    fn merges_aliases_under_the_ecosystem_id_and_borrows_the_rating() {
        let pysec = finding("PYSEC-1", &["CVE-1", "GHSA-a"], Severity::Unknown, None);
        let ghsa = finding(
            "GHSA-a",
            &["CVE-1"],
            Severity::High,
            Some("GHSA-a (CVSS v3.1)"),
        );
        let other = finding("PYSEC-2", &["CVE-2"], Severity::Unknown, None);
        let merged = merge_aliases(Ecosystem::PyPI, vec![ghsa, pysec, other], &[]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].advisory_id, "PYSEC-1");
        assert_eq!(merged[0].aliases, vec!["CVE-1", "GHSA-a"]);
        assert_eq!(merged[0].severity, Severity::High);
        assert_eq!(
            merged[0].severity_source.as_deref(),
            Some("GHSA-a (CVSS v3.1)")
        );
        assert_eq!(merged[0].affected_ranges, vec!["<PYSEC-1", "<GHSA-a"]);
        assert_eq!(merged[1].severity, Severity::Unknown);
    }

    #[test]
    fn a_stored_alias_record_rates_an_unrated_finding_vectors_first() -> Result<(), String> {
        let rated = |id: &str, extra: &str| {
            parse_advisory(
                format!(r#"{{"id": "{id}", "modified": "2024-01-01T00:00:00Z", {extra}}}"#)
                    .as_bytes(),
            )
            .map_err(|e| e.to_string())
        };
        let records = vec![
            rated("GHSA-b", r#""database_specific": {"severity": "CRITICAL"}"#)?,
            rated(
                "GHSA-c",
                r#""severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"}]"#,
            )?,
        ];
        let pysec = finding("PYSEC-9", &["GHSA-b", "GHSA-c"], Severity::Unknown, None);
        let merged = merge_aliases(Ecosystem::PyPI, vec![pysec], &records);
        assert_eq!(merged[0].severity, Severity::Low);
        assert_eq!(
            merged[0].severity_source.as_deref(),
            Some("GHSA-c (CVSS v3.1)")
        );
        // Its own rating wins over any alias's.
        let own = finding(
            "RUSTSEC-1",
            &["GHSA-b"],
            Severity::Medium,
            Some("RUSTSEC-1 (database rating)"),
        );
        let merged = merge_aliases(Ecosystem::CratesIo, vec![own], &records);
        assert_eq!(merged[0].severity, Severity::Medium);
        Ok(())
    }
}
