//! Evaluator processes: every policy and rule condition runs in a child process of this
//! binary, under a memory cap and a deadline, at most a few at once.

use std::time::Duration;

use gantry_policy::child::{Request, Response};
use gantry_policy::Decision;

use crate::error::{AppError, AppResult};

/// Largest input document a policy is given; a package whose input is larger is denied
/// (gates fail closed) rather than evaluated.
const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;

/// Wall-clock time one evaluation may take inside the evaluator.
const EVAL_TIME_MS: u64 = 250;

/// How long the server waits for an evaluator process (start-up included) before killing it.
const CHILD_DEADLINE: Duration = Duration::from_secs(10);

/// Runs one request in an evaluator process: this binary started with
/// [`gantry_policy::child::ARG`], its address space capped, so a policy that allocates without
/// bound (or crashes) takes down only that process.
async fn in_child(request: &Request) -> Result<Response, String> {
    // Each evaluator is a process of up to a GiB: at most a few run at once, and an
    // evaluation that cannot get a slot in time fails like one that ran out of time.
    let _slot = tokio::time::timeout(CHILD_DEADLINE, evaluator_slots().acquire())
        .await
        .map_err(|_| "too many policy evaluations are running; try again".to_owned())?
        .map_err(|e| e.to_string())?;
    spawn_child(request).await
}

/// Evaluator processes that may run at once: one per core, at least two.
fn max_evaluators() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

fn evaluator_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(max_evaluators()))
}

async fn spawn_child(request: &Request) -> Result<Response, String> {
    use tokio::io::AsyncWriteExt;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the evaluator: {e}"))?;
    let body = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(exe)
        .arg(gantry_policy::child::ARG)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the evaluator: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A child that died early shows in its exit status below.
        let _ = stdin.write_all(&body).await;
    }
    let output = tokio::time::timeout(CHILD_DEADLINE, child.wait_with_output())
        .await
        .map_err(|_| "the evaluation did not finish in time".to_owned())?
        .map_err(|e| format!("the evaluator failed: {e}"))?;
    match serde_json::from_slice::<Response>(&output.stdout) {
        Ok(response) => Ok(response),
        Err(_) => Err(format!(
            "the evaluation was stopped ({}): the policy probably exceeded the evaluator's {} MiB memory limit",
            output.status,
            gantry_policy::child::MEMORY_LIMIT_BYTES / (1024 * 1024)
        )),
    }
}

/// Runs one policy's source over `input` in an evaluator process.
pub(crate) async fn run(source: String, input: serde_json::Value) -> Result<Decision, String> {
    if input.to_string().len() > MAX_INPUT_BYTES {
        return Err(format!("the input is larger than {MAX_INPUT_BYTES} bytes"));
    }
    match in_evaluator(Ask::Decision, source, input).await? {
        Response::Decision(d) => Ok(d),
        other => Err(unexpected(&other)),
    }
}

/// What an evaluator computes over a module and an input: a policy's decision, or whether
/// a rule's condition asks for a promotion.
#[derive(Clone, Copy)]
pub(super) enum Ask {
    Decision,
    Promote,
}

/// Runs `source` over `input` in an evaluator process; a module that fails or does not
/// compile answers with its message.
pub(super) async fn in_evaluator(
    ask: Ask,
    source: String,
    input: serde_json::Value,
) -> Result<Response, String> {
    let time_ms = EVAL_TIME_MS;
    let request = match ask {
        Ask::Decision => Request::Policy {
            source,
            input,
            time_ms,
        },
        Ask::Promote => Request::Promote {
            source,
            input,
            time_ms,
        },
    };
    match in_child(&request).await? {
        Response::Failed(e) | Response::Invalid(e) => Err(e),
        answer => Ok(answer),
    }
}

pub(super) fn unexpected(answer: &Response) -> String {
    format!("unexpected answer from the evaluator: {answer:?}")
}

/// Checks that a module compiles and evaluates over an empty input, in an evaluator process.
/// `Err` carries the compiler's message, or why evaluation stopped, for the client.
pub(crate) async fn check(source: &str) -> AppResult<()> {
    let request = Request::Check {
        source: source.to_owned(),
        time_ms: EVAL_TIME_MS,
    };
    let response = in_child(&request)
        .await
        .map_err(|e| AppError::BadRequest(format!("the policy could not be evaluated: {e}")))?;
    match response {
        Response::Checked => Ok(()),
        Response::Invalid(e) => Err(AppError::BadRequest(e)),
        Response::Failed(e) => Err(AppError::BadRequest(format!(
            "the policy does not evaluate: {e}"
        ))),
        other => Err(AppError::Internal(format!(
            "unexpected answer from the evaluator: {other:?}"
        ))),
    }
}
