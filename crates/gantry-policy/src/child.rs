//! Evaluation in a child process. Rego evaluation is bounded in time by regorus's timer, but
//! a builtin can allocate without bound in a single step (`numbers.range(1, 1e12)`), and an
//! allocation failure aborts the whole process. So the server runs each evaluation in a child
//! process — the same binary, started with [`ARG`] — whose address space is capped: a runaway
//! policy kills only the child, and the server reports the evaluation as failed.
//!
//! Protocol: one JSON [`Request`] on stdin, one JSON [`Response`] on stdout.

use std::io::{Read, Write};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rego::{self, Decision, Limits};

/// The first argument that makes the binary an evaluator.
pub const ARG: &str = "__evaluate-policy";

/// Address space of an evaluator process.
pub const MEMORY_LIMIT_BYTES: u64 = 1024 * 1024 * 1024;

/// Largest request accepted on stdin.
const MAX_REQUEST_BYTES: u64 = 8 * 1024 * 1024;

/// Time beyond a request's evaluation limit that parsing, compiling and answering may take
/// together. Regorus's timer runs during evaluation only; this watchdog bounds the rest.
const OVERHEAD_MS: u64 = 250;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// Does the module compile (and evaluate over an empty input)?
    Check { source: String, time_ms: u64 },
    /// A policy's decision.
    Policy {
        source: String,
        input: serde_json::Value,
        time_ms: u64,
    },
    /// A rule condition's `promote`.
    Promote {
        source: String,
        input: serde_json::Value,
        time_ms: u64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Checked,
    Decision(Decision),
    Promote(bool),
    /// The module does not compile.
    Invalid(String),
    /// Evaluation failed.
    Failed(String),
}

fn limits(time_ms: u64) -> Limits {
    Limits {
        time: Duration::from_millis(time_ms.clamp(1, 60_000)),
        ..Limits::default()
    }
}

/// Answers one request (in whatever process calls it).
pub fn answer(request: Request) -> Response {
    match request {
        Request::Check { source, time_ms } => match rego::check(&source, &limits(time_ms)) {
            Ok(()) => Response::Checked,
            Err(e) => Response::Invalid(e.to_string()),
        },
        Request::Policy {
            source,
            input,
            time_ms,
        } => match rego::evaluate(&source, &input, &limits(time_ms)) {
            Ok(d) => Response::Decision(d),
            Err(e) => Response::Failed(e.to_string()),
        },
        Request::Promote {
            source,
            input,
            time_ms,
        } => match rego::evaluate_promote(&source, &input, &limits(time_ms)) {
            Ok(p) => Response::Promote(p),
            Err(e) => Response::Failed(e.to_string()),
        },
    }
}

/// The evaluator's main: caps the address space, reads one request from stdin, writes the
/// response to stdout. Returns the process exit code.
pub fn main() -> i32 {
    if let Err(e) = rlimit::setrlimit(rlimit::Resource::AS, MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES)
    {
        eprintln!("cannot cap the evaluator's memory: {e}");
        return 2;
    }
    let mut text = String::new();
    if let Err(e) = std::io::stdin()
        .take(MAX_REQUEST_BYTES)
        .read_to_string(&mut text)
    {
        eprintln!("cannot read the request: {e}");
        return 2;
    }
    let request = match serde_json::from_str::<Request>(&text) {
        Ok(request) => request,
        Err(e) => return reply(&Response::Failed(format!("bad request: {e}"))),
    };
    let budget = Duration::from_millis(time_ms(&request).clamp(1, 60_000) + OVERHEAD_MS);
    // The kernel's CPU limit backs the watchdog up, should the thread not get to run.
    let cpu_seconds = budget.as_secs() + 2;
    let _ = rlimit::setrlimit(rlimit::Resource::CPU, cpu_seconds, cpu_seconds);
    std::thread::spawn(move || {
        std::thread::sleep(budget);
        let code = reply(&Response::Failed(format!(
            "exceeded time limit: parsing and evaluation took more than {} ms",
            budget.as_millis()
        )));
        std::process::exit(code);
    });
    reply(&answer(request))
}

fn time_ms(request: &Request) -> u64 {
    match request {
        Request::Check { time_ms, .. }
        | Request::Policy { time_ms, .. }
        | Request::Promote { time_ms, .. } => *time_ms,
    }
}

/// Writes the one response; whichever of the evaluation and the watchdog comes first wins,
/// the other finds it answered.
fn reply(response: &Response) -> i32 {
    static ANSWERED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut answered = match ANSWERED.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if *answered {
        return 0;
    }
    *answered = true;
    let mut out = std::io::stdout().lock();
    if serde_json::to_writer(&mut out, response).is_err() || out.flush().is_err() {
        return 2;
    }
    0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn requests_and_responses_round_trip() {
        let r = answer(Request::Policy {
            source: "package gantry\ndeny contains \"no\" if input.x == 1\n".into(),
            input: serde_json::json!({"x": 1}),
            time_ms: 250,
        });
        let text = serde_json::to_string(&r).unwrap();
        match serde_json::from_str::<Response>(&text).unwrap() {
            Response::Decision(d) => assert_eq!(d.deny, vec!["no"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            answer(Request::Check {
                source: "package nope\n".into(),
                time_ms: 250
            }),
            Response::Invalid(_)
        ));
    }
}
