//! The shorthand conditions of promotion rules: comparisons of package fields joined by `and`,
//! such as `max_severity < high and num_vulnerabilities == 0 and tag == tested`.
//!
//! Fields: `max_severity` (`none < low < medium < high < critical`; `unknown` ranks as
//! critical), `num_vulnerabilities` (an integer), `tag` (`==` has the tag, `!=` lacks it),
//! and `name`, `version`, `format` (`==`, `!=`). Conditions on vulnerabilities are false for
//! a package without a completed scan: a gate fails closed.

use std::fmt;

/// Longest condition accepted.
const MAX_LEN: usize = 1024;
/// Most clauses in one condition.
const MAX_CLAUSES: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid condition: {0}")]
pub struct ConditionError(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Eq,
    Ne,
    Gt,
    Ge,
}

impl Op {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "<" => Op::Lt,
            "<=" => Op::Le,
            "==" | "=" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Lt => ordering == Less,
            Op::Le => ordering != Greater,
            Op::Eq => ordering == Equal,
            Op::Ne => ordering != Equal,
            Op::Gt => ordering == Greater,
            Op::Ge => ordering != Less,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Clause {
    Severity(Op, u8),
    Vulnerabilities(Op, i64),
    Tag(bool, String),
    Field(&'static str, bool, String),
}

/// A parsed shorthand condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    clauses: Vec<Clause>,
}

const SEVERITIES: [&str; 5] = ["none", "low", "medium", "high", "critical"];

fn severity_rank(name: &str) -> Option<u8> {
    if name == "unknown" {
        return Some(4);
    }
    SEVERITIES
        .iter()
        .position(|s| *s == name)
        .and_then(|p| u8::try_from(p).ok())
}

/// Splits `a<b`, `a < b` and `a <b` alike into field, operator and value.
fn split_clause(text: &str) -> Option<(&str, &str, &str)> {
    let start = text.find(['<', '>', '=', '!'])?;
    let rest = &text[start..];
    let len = rest
        .find(|c: char| !matches!(c, '<' | '>' | '=' | '!'))
        .unwrap_or(rest.len());
    Some((
        text[..start].trim(),
        &rest[..len],
        rest[len..].trim().trim_matches(|c| c == '"' || c == '\''),
    ))
}

impl Condition {
    pub fn parse(text: &str) -> Result<Self, ConditionError> {
        if text.len() > MAX_LEN {
            return Err(ConditionError(format!("longer than {MAX_LEN} characters")));
        }
        if text.chars().any(char::is_control) {
            return Err(ConditionError("control characters".into()));
        }
        let mut clauses = Vec::new();
        for part in text.split(" and ") {
            let part = part.trim();
            if part.is_empty() {
                return Err(ConditionError("an empty clause".into()));
            }
            if clauses.len() == MAX_CLAUSES {
                return Err(ConditionError(format!("more than {MAX_CLAUSES} clauses")));
            }
            let (field, op_text, value) = split_clause(part)
                .ok_or_else(|| ConditionError(format!("'{part}' is not FIELD OPERATOR VALUE")))?;
            let op = Op::parse(op_text)
                .ok_or_else(|| ConditionError(format!("unknown operator '{op_text}'")))?;
            if value.is_empty() {
                return Err(ConditionError(format!("'{part}' has no value")));
            }
            let equality = |field: &str| -> Result<bool, ConditionError> {
                match op {
                    Op::Eq => Ok(true),
                    Op::Ne => Ok(false),
                    _ => Err(ConditionError(format!("{field} takes only == and !="))),
                }
            };
            clauses.push(match field {
                "max_severity" | "severity" => {
                    let rank = severity_rank(value).ok_or_else(|| {
                        ConditionError(format!(
                            "'{value}' is not a severity (none, low, medium, high, critical, unknown)"
                        ))
                    })?;
                    Clause::Severity(op, rank)
                }
                "num_vulnerabilities" | "vulnerabilities" => {
                    let n = value.parse::<i64>().map_err(|_| {
                        ConditionError(format!("'{value}' is not a whole number"))
                    })?;
                    Clause::Vulnerabilities(op, n)
                }
                "tag" | "tags" => Clause::Tag(equality("tag")?, value.to_owned()),
                "name" => Clause::Field("name", equality("name")?, value.to_owned()),
                "version" => Clause::Field("version", equality("version")?, value.to_owned()),
                "format" => Clause::Field("format", equality("format")?, value.to_owned()),
                other => {
                    return Err(ConditionError(format!(
                        "unknown field '{other}' (max_severity, num_vulnerabilities, tag, name, version, format)"
                    )))
                }
            });
        }
        Ok(Self { clauses })
    }

    /// Whether the package (as the REST API renders it) satisfies every clause.
    pub fn matches(&self, package: &serde_json::Value) -> bool {
        let scanned = matches!(
            package["security_scan_status"].as_str(),
            Some("no_vulnerabilities" | "vulnerabilities_found")
        );
        self.clauses.iter().all(|clause| match clause {
            Clause::Severity(op, rank) => {
                let actual =
                    if package["security_scan_status"].as_str() == Some("no_vulnerabilities") {
                        Some(0)
                    } else {
                        package["max_severity"].as_str().and_then(severity_rank)
                    };
                scanned && actual.is_some_and(|a| op.holds(a.cmp(rank)))
            }
            Clause::Vulnerabilities(op, n) => {
                scanned
                    && package["num_vulnerabilities"]
                        .as_i64()
                        .is_some_and(|a| op.holds(a.cmp(n)))
            }
            Clause::Tag(has, tag) => {
                let present = package["tags"]
                    .as_array()
                    .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(tag)));
                present == *has
            }
            Clause::Field(field, equal, value) => {
                (package[*field].as_str() == Some(value.as_str())) == *equal
            }
        })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, clause) in self.clauses.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            match clause {
                Clause::Severity(op, rank) => write!(
                    f,
                    "max_severity {} {}",
                    op.text(),
                    SEVERITIES[usize::from(*rank).min(4)]
                )?,
                Clause::Vulnerabilities(op, n) => {
                    write!(f, "num_vulnerabilities {} {n}", op.text())?
                }
                Clause::Tag(has, tag) => write!(f, "tag {} {tag}", if *has { "==" } else { "!=" })?,
                Clause::Field(field, equal, value) => {
                    write!(f, "{field} {} {value}", if *equal { "==" } else { "!=" })?
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn pkg(status: &str, severity: Option<&str>, n: i64, tags: &[&str]) -> serde_json::Value {
        json!({
            "name": "app", "version": "1.0", "format": "python",
            "security_scan_status": status, "max_severity": severity,
            "num_vulnerabilities": n, "tags": tags,
        })
    }

    #[test]
    fn severity_threshold() {
        let c = Condition::parse("max_severity < high").unwrap();
        assert!(c.matches(&pkg("no_vulnerabilities", Some("none"), 0, &[])));
        assert!(c.matches(&pkg("vulnerabilities_found", Some("medium"), 1, &[])));
        assert!(!c.matches(&pkg("vulnerabilities_found", Some("high"), 1, &[])));
        assert!(!c.matches(&pkg("vulnerabilities_found", Some("critical"), 1, &[])));
        // Unrated advisories rank as critical, and an unscanned package never passes.
        assert!(!c.matches(&pkg("vulnerabilities_found", Some("unknown"), 1, &[])));
        assert!(!c.matches(&pkg("awaiting_scan", None, 0, &[])));
        assert!(!c.matches(&pkg("scan_failed", None, 0, &[])));
    }

    #[test]
    fn conjunctions_and_tags() {
        let c = Condition::parse("num_vulnerabilities == 0 and tag == tested").unwrap();
        assert!(c.matches(&pkg("no_vulnerabilities", None, 0, &["tested"])));
        assert!(!c.matches(&pkg("no_vulnerabilities", None, 0, &[])));
        assert!(!c.matches(&pkg("vulnerabilities_found", Some("low"), 1, &["tested"])));
        let c = Condition::parse("tag != wip and format == python and name==app").unwrap();
        assert!(c.matches(&pkg("not_scanned", None, 0, &[])));
        assert!(!c.matches(&pkg("not_scanned", None, 0, &["wip"])));
        assert_eq!(
            c.to_string(),
            "tag != wip and format == python and name == app"
        );
    }

    #[test]
    fn bad_conditions_are_explained() {
        for bad in [
            "",
            "max_severity < severe",
            "num_vulnerabilities < many",
            "tag > x",
            "colour == red",
            "max_severity",
            "max_severity <",
            "a and",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad}");
        }
        assert!(Condition::parse(&"tag == a and ".repeat(20)).is_err());
    }
}
