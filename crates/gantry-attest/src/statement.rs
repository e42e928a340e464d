//! The in-toto Statement of one step in a package's life, and its reading back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Gantry's predicate: one upload, copy or move of a package.
pub const PREDICATE_TYPE: &str = "urn:gantry:attestation:package-step:v1";

/// Where a package is: its repository and its `slug_perm` there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub repository: String,
    pub slug_perm: String,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.repository, self.slug_perm)
    }
}

/// One step: the predicate of a statement, with the files that are its subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// `upload`, `copy` or `move`.
    pub step: String,
    pub format: String,
    pub name: String,
    pub version: String,
    /// `None` for an upload.
    pub from: Option<Location>,
    pub to: Location,
    /// Who: a user, token or rule (`rule:NAME`).
    pub actor: String,
    /// When, RFC 3339, and the same in milliseconds since the epoch (for key lifetimes).
    pub time: String,
    pub time_ms: i64,
    /// For an upload: `upload`, or `upstream:NAME` for a package cached from an upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The package's scan at the time: status, max severity, number of findings.
    pub scan: serde_json::Value,
    /// The policy decisions of the promotion gate: policy, version, input digest, allowed.
    #[serde(default)]
    pub policy_decisions: Vec<serde_json::Value>,
    /// `passed` for a promotion the gate allowed; `none` for an upload.
    pub gate: String,
    /// The files (filename → sha256 hex); the statement's subject.
    #[serde(skip)]
    pub files: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct Subject {
    name: String,
    digest: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    statement_type: String,
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    predicate: Step,
}

impl Step {
    /// The serialised statement, ready to sign.
    pub fn statement(&self) -> Vec<u8> {
        let statement = Statement {
            statement_type: STATEMENT_TYPE.into(),
            subject: self
                .files
                .iter()
                .map(|(name, sha256)| Subject {
                    name: name.clone(),
                    digest: BTreeMap::from([("sha256".to_owned(), sha256.clone())]),
                })
                .collect(),
            predicate_type: PREDICATE_TYPE.into(),
            predicate: self.clone(),
        };
        serde_json::to_vec(&statement).unwrap_or_default()
    }

    /// A statement read back, its subject in `files`.
    pub fn parse(payload: &[u8]) -> Result<Self, String> {
        let s: Statement =
            serde_json::from_slice(payload).map_err(|e| format!("not a Gantry statement: {e}"))?;
        if s.statement_type != STATEMENT_TYPE || s.predicate_type != PREDICATE_TYPE {
            return Err(format!(
                "statement type {} / predicate type {} is not Gantry's",
                s.statement_type, s.predicate_type
            ));
        }
        let mut step = s.predicate;
        for subject in s.subject {
            let sha = subject
                .digest
                .get("sha256")
                .ok_or_else(|| format!("subject {} has no sha256", subject.name))?;
            step.files.insert(subject.name, sha.clone());
        }
        Ok(step)
    }

    /// `copy acme/dev/X → acme/staging/Y`, for messages.
    pub fn describe(&self) -> String {
        match &self.from {
            Some(from) => format!("{} {from} → {}", self.step, self.to),
            None => format!("{} to {}", self.step, self.to),
        }
    }
}
