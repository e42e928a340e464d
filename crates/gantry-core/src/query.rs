//! The package query language of `GET /api/v1/packages/{owner}/{repo}?query=` and
//! `gantry ls pkgs -q`: whitespace-separated terms, all of which must match.
//!
//! * `name:N`, `version:V`, `format:F`, `tag:T`, `state:S` — exact field matches;
//! * every other field of the package JSON a user filters by, exactly: see [`Field`];
//! * a bare word — a substring of the package name;
//! * `AND` between terms is accepted and ignored (terms are always joined by "and").

use crate::model::PackageState;

const MAX_TERMS: usize = 16;
const MAX_QUERY_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("query is longer than {MAX_QUERY_LEN} characters")]
    TooLong,
    #[error("query has more than {MAX_TERMS} terms")]
    TooManyTerms,
    #[error("unknown query field '{0}' (known: name, version, format, tag, state, {fields})", fields = Field::NAMES.join(", "))]
    UnknownField(String),
    #[error("query field '{0}' takes true or false")]
    NotBoolean(String),
    #[error("query field '{0}' takes a whole number")]
    NotInteger(String),
    #[error("query field '{0}' needs a value")]
    EmptyValue(String),
    #[error("unknown package state '{0}' (known: available, quarantined, deleted)")]
    UnknownState(String),
    #[error("query must not contain control characters")]
    ControlCharacter,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageQuery {
    pub name: Option<String>,
    pub version: Option<String>,
    pub format: Option<String>,
    pub tags: Vec<String>,
    pub state: Option<PackageState>,
    pub name_contains: Vec<String>,
    /// Exact matches on the other package fields, in the order given.
    pub fields: Vec<(Field, String)>,
}

/// Package fields beyond the common five that a query can match exactly. Each is a field of
/// the package JSON (the query name is the JSON name; a shorter alias is accepted too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `source`: `upload` or `upstream`.
    Source,
    /// `upstream`: the name of the upstream a cached package came from.
    Upstream,
    /// `sync_status`: `awaiting_sync`, `syncing`, `completed`, `failed`.
    SyncStatus,
    /// `security_scan_status` (alias `scan_status`).
    ScanStatus,
    /// `max_severity`: `none`, `low`, `medium`, `high`, `critical`, `unknown`.
    MaxSeverity,
    /// `filename`: any of the package's files.
    Filename,
    /// `uploader`: the actor that uploaded it.
    Uploader,
    /// `slug_perm` (alias `slug`).
    SlugPerm,
    /// `checksum_sha256` (alias `sha256`): the primary file's digest.
    Sha256,
    /// `origin_repository`: where the package was first uploaded.
    OriginRepository,
    /// `is_yanked` (alias `yanked`): `true` or `false`.
    Yanked,
    /// `num_vulnerabilities`: a whole number.
    NumVulnerabilities,
    /// `size`: the package's size in bytes, a whole number.
    Size,
}

impl Field {
    /// The query names, JSON names first.
    pub const NAMES: [&'static str; 13] = [
        "source",
        "upstream",
        "sync_status",
        "security_scan_status",
        "max_severity",
        "filename",
        "uploader",
        "slug_perm",
        "checksum_sha256",
        "origin_repository",
        "is_yanked",
        "num_vulnerabilities",
        "size",
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "source" => Field::Source,
            "upstream" => Field::Upstream,
            "sync_status" => Field::SyncStatus,
            "security_scan_status" | "scan_status" => Field::ScanStatus,
            "max_severity" | "severity" => Field::MaxSeverity,
            "filename" => Field::Filename,
            "uploader" => Field::Uploader,
            "slug_perm" | "slug" => Field::SlugPerm,
            "checksum_sha256" | "sha256" => Field::Sha256,
            "origin_repository" => Field::OriginRepository,
            "is_yanked" | "yanked" => Field::Yanked,
            "num_vulnerabilities" => Field::NumVulnerabilities,
            "size" => Field::Size,
            _ => return None,
        })
    }
}

impl PackageQuery {
    /// Whether the `fields` terms hold, given each field's values for one package (several
    /// for `filename`; none when the package has no such value).
    pub fn fields_match(&self, values: impl Fn(Field) -> Vec<String>) -> bool {
        self.fields
            .iter()
            .all(|(field, want)| values(*field).iter().any(|v| v == want))
    }
}

impl PackageQuery {
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        if text.len() > MAX_QUERY_LEN {
            return Err(QueryError::TooLong);
        }
        if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            return Err(QueryError::ControlCharacter);
        }
        let mut query = PackageQuery::default();
        let terms: Vec<&str> = text
            .split_whitespace()
            .filter(|t| !t.eq_ignore_ascii_case("and"))
            .collect();
        if terms.len() > MAX_TERMS {
            return Err(QueryError::TooManyTerms);
        }
        for term in terms {
            let Some((field, value)) = term.split_once(':') else {
                query.name_contains.push(term.to_owned());
                continue;
            };
            if value.is_empty() {
                return Err(QueryError::EmptyValue(field.to_owned()));
            }
            let value = value.to_owned();
            match field.to_ascii_lowercase().as_str() {
                "name" => query.name = Some(value),
                "version" => query.version = Some(value),
                "format" => query.format = Some(value),
                "tag" => query.tags.push(value),
                "state" => {
                    query.state =
                        Some(PackageState::parse(&value).ok_or(QueryError::UnknownState(value))?);
                }
                other => {
                    let known =
                        Field::parse(other).ok_or(QueryError::UnknownField(field.to_owned()))?;
                    let value = match known {
                        Field::Yanked => match value.to_ascii_lowercase().as_str() {
                            "true" | "false" => value.to_ascii_lowercase(),
                            _ => return Err(QueryError::NotBoolean(field.to_owned())),
                        },
                        Field::NumVulnerabilities | Field::Size => match value.parse::<i64>() {
                            Ok(n) => n.to_string(),
                            Err(_) => return Err(QueryError::NotInteger(field.to_owned())),
                        },
                        _ => value,
                    };
                    query.fields.push((known, value));
                }
            }
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_words() {
        let q = PackageQuery::parse("name:app AND version:1.0 tag:tested tag:qa lib")
            .unwrap_or_default();
        assert_eq!(q.name.as_deref(), Some("app"));
        assert_eq!(q.version.as_deref(), Some("1.0"));
        assert_eq!(q.tags, vec!["tested", "qa"]);
        assert_eq!(q.name_contains, vec!["lib"]);
    }

    #[test]
    fn rejects_bad_queries() {
        assert_eq!(
            PackageQuery::parse("colour:red"),
            Err(QueryError::UnknownField("colour".into()))
        );
        assert_eq!(
            PackageQuery::parse("name:"),
            Err(QueryError::EmptyValue("name".into()))
        );
        assert!(PackageQuery::parse("state:gone").is_err());
        assert_eq!(
            PackageQuery::parse("name:a\u{0}b"),
            Err(QueryError::ControlCharacter)
        );
        assert_eq!(
            PackageQuery::parse(&"a ".repeat(17)),
            Err(QueryError::TooManyTerms)
        );
    }

    #[test]
    fn every_other_package_field_is_a_query_field() {
        let q = PackageQuery::parse("source:upstream filename:a-1.0.tar.gz yanked:TRUE sha256:ab")
            .unwrap_or_default();
        assert_eq!(
            q.fields,
            vec![
                (Field::Source, "upstream".to_owned()),
                (Field::Filename, "a-1.0.tar.gz".to_owned()),
                (Field::Yanked, "true".to_owned()),
                (Field::Sha256, "ab".to_owned()),
            ]
        );
        for name in Field::NAMES {
            assert!(Field::parse(name).is_some(), "{name}");
        }
        assert_eq!(
            PackageQuery::parse("yanked:maybe"),
            Err(QueryError::NotBoolean("yanked".into()))
        );
        assert_eq!(
            PackageQuery::parse("size:big"),
            Err(QueryError::NotInteger("size".into()))
        );
        assert!(q.fields_match(|f| match f {
            Field::Filename => vec!["x.whl".into(), "a-1.0.tar.gz".into()],
            Field::Source => vec!["upstream".into()],
            Field::Yanked => vec!["true".into()],
            _ => vec!["ab".into()],
        }));
        assert!(!q.fields_match(|_| Vec::new()));
    }

    #[test]
    fn empty_query_matches_everything() {
        assert_eq!(PackageQuery::parse("  "), Ok(PackageQuery::default()));
    }
}
