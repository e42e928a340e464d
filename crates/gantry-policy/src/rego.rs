//! Rego evaluation with regorus, under limits.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, PolicyLengthConfig, Value};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The Rego package every policy declares.
const PACKAGE: &str = "data.gantry";

/// Most reasons, and most tags, one decision may carry; more are cut off.
const MAX_ITEMS: usize = 100;
/// Longest reason or tag kept.
const MAX_ITEM_LEN: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The module does not parse or compile; the message is the compiler's.
    #[error("the policy does not compile: {0}")]
    Compile(String),
    /// The module is not `package gantry`.
    #[error("a policy must declare `package gantry` (it declares {0})")]
    Package(String),
    #[error("the policy is longer than {0} bytes")]
    TooLong(usize),
    /// Brackets nest deeper than the parser is allowed to recurse.
    #[error("the policy nests brackets more than {0} deep")]
    TooDeep(usize),
    /// Evaluation failed: a runtime error, or the time limit was reached.
    #[error("evaluation failed: {0}")]
    Eval(String),
    /// A rule has a value of the wrong type (`deny` must be a set of strings…).
    #[error("{0}")]
    Output(String),
}

/// Bounds on one policy.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock time one evaluation may take.
    pub time: Duration,
    /// Longest accepted source.
    pub max_source_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            time: Duration::from_millis(250),
            max_source_bytes: 64 * 1024,
        }
    }
}

/// What a policy decided about one input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Decision {
    /// Reasons to refuse; empty means allowed.
    pub deny: Vec<String>,
    pub quarantine: bool,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
}

impl Decision {
    pub fn denied(&self) -> bool {
        !self.deny.is_empty()
    }

    /// Whether the decision asks for anything besides allowing or denying.
    pub fn has_actions(&self) -> bool {
        self.quarantine || !self.add_tags.is_empty() || !self.remove_tags.is_empty()
    }
}

/// Deepest nesting of `(`, `[` and `{` (together) a module may have. The parser recurses once
/// per level, and its time is not under the evaluation timer: 15,000 nested `[` kept an
/// evaluator busy for seconds. Real policies stay under ten.
pub(crate) const MAX_NESTING: usize = 64;

/// The deepest bracket nesting of a Rego source, outside strings and comments, stopping as
/// soon as it passes `max`.
fn nesting_exceeds(source: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' | '\n' => break,
                        _ => {}
                    }
                }
            }
            '`' => {
                for c in chars.by_ref() {
                    if c == '`' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

fn engine(source: &str, limits: &Limits) -> Result<Engine, PolicyError> {
    if source.len() > limits.max_source_bytes {
        return Err(PolicyError::TooLong(limits.max_source_bytes));
    }
    if nesting_exceeds(source, MAX_NESTING) {
        return Err(PolicyError::TooDeep(MAX_NESTING));
    }
    let mut engine = Engine::new();
    engine.set_rego_v0(false);
    // Values that cannot be zero.
    if let (Some(max_col), Some(max_file_bytes), Some(max_lines)) = (
        NonZeroU32::new(4096),
        NonZeroUsize::new(limits.max_source_bytes.max(1)),
        NonZeroUsize::new(10_000),
    ) {
        engine.set_policy_length_config(PolicyLengthConfig {
            max_col,
            max_file_bytes,
            max_lines,
        });
    }
    if let Some(check_interval) = NonZeroU32::new(64) {
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: limits.time,
            check_interval,
        });
    }
    let package = engine
        .add_policy("policy.rego".into(), source.into())
        .map_err(|e| PolicyError::Compile(e.to_string()))?;
    if package != PACKAGE {
        return Err(PolicyError::Package(package));
    }
    Ok(engine)
}

/// Checks that `source` parses as a `package gantry` module and evaluates over an empty input
/// (which catches unknown functions and most type errors of rule heads). A module that only
/// runs out of time here is accepted: its evaluations will fail, and deny, until it is fixed.
pub fn check(source: &str, limits: &Limits) -> Result<(), PolicyError> {
    let mut engine = engine(source, limits)?;
    match engine.eval_query(PACKAGE.into(), false) {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("exceeded time limit") => Ok(()),
        Err(e) => Err(PolicyError::Compile(e.to_string())),
    }
}

/// Evaluates the module over `input` and reads `deny`, `quarantine`, `add_tags` and
/// `remove_tags` from it.
pub fn evaluate(
    source: &str,
    input: &serde_json::Value,
    limits: &Limits,
) -> Result<Decision, PolicyError> {
    let package = eval_package(source, input, limits)?;
    Ok(Decision {
        deny: strings(&package, "deny")?,
        quarantine: boolean(&package, "quarantine")?,
        add_tags: strings(&package, "add_tags")?,
        remove_tags: strings(&package, "remove_tags")?,
    })
}

/// Evaluates a promotion rule's Rego condition: its `promote` rule must be `true`.
pub fn evaluate_promote(
    source: &str,
    input: &serde_json::Value,
    limits: &Limits,
) -> Result<bool, PolicyError> {
    let package = eval_package(source, input, limits)?;
    boolean(&package, "promote")
}

fn eval_package(
    source: &str,
    input: &serde_json::Value,
    limits: &Limits,
) -> Result<serde_json::Value, PolicyError> {
    let mut engine = engine(source, limits)?;
    engine.set_input(Value::from(input.clone()));
    let results = engine
        .eval_query(PACKAGE.into(), false)
        .map_err(|e| PolicyError::Eval(e.to_string()))?;
    let value = results
        .result
        .into_iter()
        .next()
        .and_then(|r| r.expressions.into_iter().next())
        .map(|e| e.value)
        .unwrap_or(Value::Undefined);
    if value == Value::Undefined {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    serde_json::to_value(&value).map_err(|e| PolicyError::Eval(e.to_string()))
}

fn strings(package: &serde_json::Value, rule: &str) -> Result<Vec<String>, PolicyError> {
    let Some(value) = package.get(rule) else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| PolicyError::Output(format!("`{rule}` must be a set of strings")))?;
    let mut out: Vec<String> = Vec::new();
    for item in items.iter().take(MAX_ITEMS) {
        let text = match item {
            serde_json::Value::String(s) => s.clone(),
            // A structured reason is kept as its JSON text rather than refused.
            other => other.to_string(),
        };
        let mut text = text;
        if text.len() > MAX_ITEM_LEN {
            let mut cut = MAX_ITEM_LEN;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out.sort();
    Ok(out)
}

fn boolean(package: &serde_json::Value, rule: &str) -> Result<bool, PolicyError> {
    match package.get(rule) {
        None => Ok(false),
        Some(serde_json::Value::Bool(b)) => Ok(*b),
        Some(_) => Err(PolicyError::Output(format!("`{rule}` must be a boolean"))),
    }
}

/// sha256 of the input's JSON text: which input a logged decision was made on.
pub fn input_digest(input: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(input.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    const THRESHOLD: &str = r#"
package gantry

blocking := {"high", "critical", "unknown"}

deny contains msg if {
    input.destination != null
    input.package.max_severity in blocking
    msg := sprintf("%s %s has %d vulnerabilities (max %s)", [input.package.name, input.package.version, input.package.num_vulnerabilities, input.package.max_severity])
}

quarantine if count(deny) > 0

add_tags contains "checked"
"#;

    fn input(severity: &str, destination: bool) -> serde_json::Value {
        json!({
            "package": {"name": "app", "version": "1.0", "max_severity": severity, "num_vulnerabilities": 2},
            "vulnerabilities": [],
            "repository": {"name": "dev"},
            "destination": if destination { json!({"name": "staging"}) } else { serde_json::Value::Null },
            "event": "promotion",
            "actor": {"name": "alice"},
        })
    }

    #[test]
    fn denies_and_asks_for_actions() {
        let limits = Limits::default();
        let d = evaluate(THRESHOLD, &input("critical", true), &limits).unwrap();
        assert_eq!(d.deny, vec!["app 1.0 has 2 vulnerabilities (max critical)"]);
        assert!(d.quarantine);
        assert_eq!(d.add_tags, vec!["checked"]);
        let d = evaluate(THRESHOLD, &input("low", true), &limits).unwrap();
        assert!(!d.denied());
        assert!(!d.quarantine);
        let d = evaluate(THRESHOLD, &input("critical", false), &limits).unwrap();
        assert!(!d.denied());
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        for (open, close) in [('[', ']'), ('(', ')'), ('{', '}')] {
            let deep = format!(
                "package gantry\nx := {}1{}\n",
                open.to_string().repeat(15_000),
                close.to_string().repeat(15_000)
            );
            let start = std::time::Instant::now();
            let err = check(&deep, &Limits::default());
            assert!(matches!(err, Err(PolicyError::TooDeep(_))), "{open}");
            assert!(start.elapsed() < Duration::from_millis(100));
        }
        // Mixed brackets count together.
        let mixed = format!("package gantry\nx := {}1\n", "[{(".repeat(30));
        assert!(matches!(
            check(&mixed, &Limits::default()),
            Err(PolicyError::TooDeep(_))
        ));
        // Brackets in strings and comments do not count; ordinary nesting is fine.
        let fine = format!(
            "package gantry\n# {}\ns := \"{}\\\"\"\nr := `{}`\nx := [[{{\"a\": (1 + 2)}}]]\n",
            "[".repeat(500),
            "(".repeat(500),
            "{".repeat(500)
        );
        assert!(check(&fine, &Limits::default()).is_ok(), "{fine}");
    }

    #[test]
    fn empty_policy_allows() {
        let d = evaluate("package gantry\n", &json!({}), &Limits::default()).unwrap();
        assert_eq!(d, Decision::default());
    }

    #[test]
    fn compile_errors_carry_the_message() {
        let err = check("package gantry\ndeny contains x if {", &Limits::default()).unwrap_err();
        assert!(matches!(err, PolicyError::Compile(_)), "{err}");
        let err = check("package other\n", &Limits::default()).unwrap_err();
        assert!(matches!(err, PolicyError::Package(_)), "{err}");
        let long = format!("package gantry\n# {}\n", "x".repeat(70_000));
        assert!(matches!(
            check(&long, &Limits::default()),
            Err(PolicyError::TooLong(_))
        ));
    }

    #[test]
    fn wrong_output_types_are_errors() {
        let err = evaluate(
            "package gantry\ndeny := 3\n",
            &json!({}),
            &Limits::default(),
        );
        assert!(matches!(err, Err(PolicyError::Output(_))));
        let err = evaluate(
            "package gantry\nquarantine := \"yes\"\n",
            &json!({}),
            &Limits::default(),
        );
        assert!(matches!(err, Err(PolicyError::Output(_))));
    }

    #[test]
    fn runaway_evaluation_is_stopped_by_the_timer() {
        let source = r#"
package gantry

deny contains "slow" if {
    some i in numbers.range(1, 3000)
    some j in numbers.range(1, 3000)
    i * j == -1
}
"#;
        let limits = Limits {
            time: Duration::from_millis(50),
            ..Limits::default()
        };
        let started = std::time::Instant::now();
        let result = evaluate(source, &json!({}), &limits);
        assert!(
            matches!(&result, Err(PolicyError::Eval(m)) if m.contains("exceeded time limit")),
            "{result:?}"
        );
        assert!(check(source, &limits).is_ok());
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn promote_condition() {
        let source = "package gantry\npromote if input.package.num_vulnerabilities == 0\n";
        let limits = Limits::default();
        assert!(evaluate_promote(
            source,
            &json!({"package": {"num_vulnerabilities": 0}}),
            &limits
        )
        .unwrap());
        assert!(!evaluate_promote(
            source,
            &json!({"package": {"num_vulnerabilities": 1}}),
            &limits
        )
        .unwrap());
    }

    #[test]
    fn digest_is_stable() {
        assert_eq!(
            input_digest(&json!({"a": 1})),
            input_digest(&json!({"a": 1}))
        );
        assert_ne!(
            input_digest(&json!({"a": 1})),
            input_digest(&json!({"a": 2}))
        );
    }
}

/// The example policies of docs/policies.md, evaluated as written.
#[cfg(test)]
mod documented_examples {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn example(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/policies")
            .join(name);
        std::fs::read_to_string(&path).unwrap()
    }

    fn input(package: serde_json::Value, destination: Option<&str>) -> serde_json::Value {
        let mut p = json!({
            "name": "app", "version": "1.0", "tags": [], "metadata": {},
            "security_scan_status": "no_vulnerabilities", "max_severity": "none",
            "num_vulnerabilities": 0, "uploaded_at": "2020-01-01T00:00:00Z",
        });
        if let (Some(p), Some(extra)) = (p.as_object_mut(), package.as_object()) {
            for (k, v) in extra {
                p.insert(k.clone(), v.clone());
            }
        }
        json!({
            "package": p, "vulnerabilities": [], "repository": {"name": "dev"},
            "destination": destination.map(|d| json!({"name": d})),
            "event": if destination.is_some() { "promotion" } else { "package.security_scanned" },
            "actor": {"name": "alice"},
        })
    }

    fn run(name: &str, package: serde_json::Value, destination: Option<&str>) -> Decision {
        evaluate(
            &example(name),
            &input(package, destination),
            &Limits::default(),
        )
        .unwrap()
    }

    #[test]
    fn severity_threshold() {
        let f = "severity-threshold.rego";
        assert!(!run(f, json!({}), Some("staging")).denied());
        let d = run(
            f,
            json!({"max_severity": "critical", "num_vulnerabilities": 2, "security_scan_status": "vulnerabilities_found"}),
            Some("staging"),
        );
        assert_eq!(
            d.deny,
            vec!["app 1.0 has 2 known vulnerabilities (worst: critical)"]
        );
        assert!(d.quarantine);
        let d = run(f, json!({"max_severity": "unknown"}), Some("staging"));
        assert!(d.denied() && d.quarantine);
        assert!(!run(f, json!({"max_severity": "medium"}), Some("staging")).denied());
        let d = run(
            f,
            json!({"max_severity": null, "security_scan_status": "awaiting_scan"}),
            Some("staging"),
        );
        assert!(d.denied() && !d.quarantine, "{d:?}");
        // Not a promotion: nothing to decide.
        assert_eq!(
            run(f, json!({"max_severity": "critical"}), None),
            Decision::default()
        );
    }

    #[test]
    fn licence_allowlist() {
        let f = "licence-allowlist.rego";
        assert!(!run(f, json!({"metadata": {"license": "MIT"}}), Some("prod")).denied());
        assert!(!run(
            f,
            json!({"metadata": {"license_expression": "Apache-2.0", "license": "whatever"}}),
            Some("prod")
        )
        .denied());
        let d = run(f, json!({"metadata": {"license": "GPL-3.0"}}), Some("prod"));
        assert_eq!(
            d.deny,
            vec!["app 1.0 is licensed \"GPL-3.0\", which is not on the allow-list"]
        );
        let d = run(f, json!({"metadata": {"license": null}}), Some("prod"));
        assert_eq!(d.deny, vec!["app 1.0 declares no licence"]);
        assert!(!run(f, json!({}), None).denied());
    }

    #[test]
    fn required_tag() {
        let f = "required-tag.rego";
        let d = run(f, json!({}), Some("production"));
        assert_eq!(d.deny, vec!["app 1.0 is not tagged 'tested'"]);
        assert!(!run(f, json!({"tags": ["tested"]}), Some("production")).denied());
        assert!(!run(f, json!({}), Some("staging")).denied());
    }

    #[test]
    fn minimum_age() {
        let f = "minimum-age.rego";
        assert!(!run(
            f,
            json!({"uploaded_at": "2020-01-01T00:00:00Z"}),
            Some("prod")
        )
        .denied());
        let d = run(
            f,
            json!({"uploaded_at": "2200-01-01T00:00:00Z"}),
            Some("prod"),
        );
        assert!(d.denied(), "{d:?}");
        assert!(d.deny[0].contains("packages wait 86400 seconds"), "{d:?}");
    }
}
