//! The package query language of `GET /api/v1/packages/{owner}/{repo}?query=` and
//! `gantry ls pkgs -q`: whitespace-separated terms, all of which must match.
//!
//! * `name:N`, `version:V`, `format:F`, `tag:T`, `state:S` — exact field matches;
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
    #[error("unknown query field '{0}' (known: name, version, format, tag, state)")]
    UnknownField(String),
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
                _ => return Err(QueryError::UnknownField(field.to_owned())),
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
    fn empty_query_matches_everything() {
        assert_eq!(PackageQuery::parse("  "), Ok(PackageQuery::default()));
    }
}
