//! The offline check of a package's chain of steps: each envelope signed by a trusted key
//! (a retired key only for what it signed before retirement), an upload first, each later
//! step starting where the one before ended, every step about the same bytes, every
//! promotion allowed by its gate, the last step ending at the package asked about, and the
//! bytes served there being the bytes signed.

use crate::dsse::Envelope;
use crate::keys::PublicKey;
use crate::statement::{Location, Step};

/// Why a chain does not verify, with the step (1-based; 0 for the chain as a whole) and
/// what it did.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step {step} ({what}): {reason}")]
pub struct ChainError {
    pub step: usize,
    pub what: String,
    pub reason: String,
}

/// A step that verified, for printing.
#[derive(Debug, Clone)]
pub struct VerifiedStep {
    pub step: Step,
    pub keyid: String,
}

fn fail(step: usize, what: &str, reason: impl Into<String>) -> ChainError {
    ChainError {
        step,
        what: what.to_owned(),
        reason: reason.into(),
    }
}

/// Verifies `envelopes` (oldest first) as the life of the package at `target`. With
/// `served_sha256`, the digest of the bytes actually downloaded from `target`, which every
/// step must name among its files.
pub fn verify_chain(
    envelopes: &[Envelope],
    keys: &[PublicKey],
    target: &Location,
    served_sha256: Option<&str>,
) -> Result<Vec<VerifiedStep>, ChainError> {
    if envelopes.is_empty() {
        return Err(fail(0, "chain", format!("no attestations for {target}")));
    }
    let mut out: Vec<VerifiedStep> = Vec::new();
    for (i, envelope) in envelopes.iter().enumerate() {
        let n = i + 1;
        let (payload, key) = envelope
            .open(keys)
            .map_err(|e| fail(n, "signature", e.to_string()))?;
        let step = Step::parse(&payload).map_err(|e| fail(n, "statement", e))?;
        let what = step.describe();
        if key.retired_at.is_some_and(|r| step.time_ms >= r) {
            return Err(fail(
                n,
                &what,
                format!("signed by key {} after it was retired", key.keyid),
            ));
        }
        match out.last() {
            None if step.step != "upload" => {
                return Err(fail(n, &what, "the chain does not start with an upload"));
            }
            None => {}
            Some(prev) => {
                let prev = &prev.step;
                if !matches!(step.step.as_str(), "copy" | "move") {
                    return Err(fail(n, &what, "only copies and moves follow an upload"));
                }
                if step.from.as_ref() != Some(&prev.to) {
                    return Err(fail(
                        n,
                        &what,
                        format!("does not start where step {} ended ({})", n - 1, prev.to),
                    ));
                }
                if step.files != prev.files {
                    return Err(fail(n, &what, "the files differ from the step before"));
                }
                if step.time_ms < prev.time_ms {
                    return Err(fail(n, &what, "is dated before the step before"));
                }
                if step.gate != "passed"
                    || step
                        .policy_decisions
                        .iter()
                        .any(|d| d["allowed"].as_bool() != Some(true))
                {
                    return Err(fail(n, &what, "the promotion gate did not pass"));
                }
            }
        }
        out.push(VerifiedStep {
            keyid: key.keyid.clone(),
            step,
        });
    }
    let last = &out[out.len() - 1].step;
    if &last.to != target {
        return Err(fail(
            out.len(),
            &last.describe(),
            format!("the chain ends at {}, not at {target}", last.to),
        ));
    }
    if let Some(sha) = served_sha256 {
        for (i, v) in out.iter().enumerate() {
            if !v.step.files.values().any(|f| f.eq_ignore_ascii_case(sha)) {
                return Err(fail(
                    i + 1,
                    &v.step.describe(),
                    format!("the bytes served at {target} (sha256 {sha}) are not the bytes this step signed"),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::verify_chain;
    use crate::{Envelope, KeyPair, Location, Step};

    fn at(repo: &str, slug: &str) -> Location {
        Location {
            repository: repo.into(),
            slug_perm: slug.into(),
        }
    }

    fn step(kind: &str, from: Option<Location>, to: Location, t: i64) -> Step {
        Step {
            step: kind.into(),
            format: "raw".into(),
            name: "app".into(),
            version: "1".into(),
            from,
            to,
            actor: "ci".into(),
            time: String::new(),
            time_ms: t,
            source: None,
            scan: serde_json::json!({}),
            policy_decisions: vec![serde_json::json!({"policy": "p", "allowed": true})],
            gate: if kind == "upload" { "none" } else { "passed" }.into(),
            files: BTreeMap::from([("app.bin".into(), "ab".repeat(32))]),
        }
    }

    #[test]
    fn chain_verifies_and_names_the_failing_step() {
        let key = KeyPair::generate();
        let keys = [key.public(0, None)];
        let steps = [
            step("upload", None, at("acme/dev", "A"), 1),
            step(
                "copy",
                Some(at("acme/dev", "A")),
                at("acme/staging", "B"),
                2,
            ),
            step(
                "move",
                Some(at("acme/staging", "B")),
                at("acme/production", "B"),
                3,
            ),
        ];
        let envs: Vec<Envelope> = steps
            .iter()
            .map(|s| Envelope::sign(&s.statement(), &key))
            .collect();
        let target = at("acme/production", "B");
        let sha = "ab".repeat(32);
        assert!(verify_chain(&envs, &keys, &target, Some(&sha)).is_ok());

        let err = verify_chain(&envs, &keys, &target, Some(&"cd".repeat(32)));
        assert_eq!(err.map(|_| ()).map_err(|e| e.step), Err(1));

        let mut forged = envs.clone();
        let mut bad = steps[1].clone();
        bad.gate = "passed".into();
        bad.actor = "mallory".into();
        forged[1].payload = Envelope::sign(&bad.statement(), &key).payload;
        let err = verify_chain(&forged, &keys, &target, None).err();
        assert_eq!(err.as_ref().map(|e| e.step), Some(2), "{err:?}");
        assert_eq!(err.map(|e| e.what), Some("signature".into()));

        let other = [KeyPair::generate().public(0, None)];
        assert!(verify_chain(&envs, &other, &target, None).is_err());

        let retired = [key.public(0, Some(2))];
        let err = verify_chain(&envs, &retired, &target, None).err();
        assert_eq!(err.map(|e| e.step), Some(2));

        let gap = [envs[0].clone(), envs[2].clone()];
        let err = verify_chain(&gap, &keys, &target, None).err();
        assert_eq!(err.map(|e| e.step), Some(2));
    }
}
