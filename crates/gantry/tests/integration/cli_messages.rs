//! What the CLI says when something goes wrong: hints for anonymous callers, JSON errors,
//! and server logs fit for a file.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{bin, TestResult, TestServer, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_push_to_a_private_repository_says_how_to_sign_in() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"a")?;
    let file = file.to_str().ok_or("path")?;
    let args = [
        "push",
        "raw",
        "acme/dev",
        file,
        "--name",
        "a",
        "--version",
        "1",
    ];
    let out = s.cli(None, &args)?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not found"), "{err}");
    assert!(
        err.contains("not signed in: set GANTRY_TOKEN or run gantry login"),
        "{err}"
    );
    // With a token that cannot see the repository, the hint would mislead: it is left out.
    s.create_repo("other", "x", true).await?;
    let other = s.token("other", "write").await?;
    let out = s.cli(Some(&other), &args)?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not found"), "{err}");
    assert!(!err.contains("not signed in"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_reports_errors_as_the_api_envelope_on_stdout() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    // A server answer.
    let out = s.cli(Some(ADMIN), &["-F", "json", "ls", "pkgs", "acme/nope"])?;
    assert!(!out.status.success());
    let body: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("acme/nope")));
    // A local failure.
    let out = s.cli(Some(ADMIN), &["-F", "json", "status", "not-a-package"])?;
    assert!(!out.status.success());
    let body: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(body["error"]["code"], "failed", "{body}");
    // No server at all.
    let out = Command::new(bin())
        .args([
            "-F",
            "json",
            "--api-url",
            "http://127.0.0.1:9",
            "ls",
            "repos",
            "acme",
        ])
        .env_remove("GANTRY_TOKEN")
        .output()?;
    assert!(!out.status.success());
    let body: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(body["error"]["code"], "connection_failed", "{body}");
    // Without -F json stdout stays empty and the message goes to stderr.
    let out = s.cli(Some(ADMIN), &["ls", "pkgs", "acme/nope"])?;
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    Ok(())
}

/// Starts a server whose stderr goes to a file, waits for its first lines, and returns them.
fn server_log(extra: &[&str]) -> TestResult<String> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("server.log");
    let mut child = Command::new(bin())
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(extra)
        .env("GANTRY_ADMIN_TOKEN", ADMIN)
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&log)?;
        if text.contains("gantry server started") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    Ok(text)
}

#[test]
fn server_logs_in_a_file_have_no_colour_codes_and_json_is_one_object_a_line() -> TestResult {
    let text = server_log(&[])?;
    assert!(text.contains("gantry server started"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a log file: {text:?}"
    );
    let text = server_log(&["--log-format", "json"])?;
    let started = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"] == "gantry server started")
        .ok_or_else(|| format!("no JSON start line in {text}"))?;
    assert_eq!(started["level"], "INFO");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_show_a_progress_bar_only_where_one_belongs() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("big.bin");
    std::fs::File::create(&file)?.set_len(20 * 1024 * 1024)?;
    let file = file.to_str().ok_or("path")?;
    let push = |version: &str, json: bool, env: &[(&str, &str)]| {
        let mut args = vec![
            "push",
            "raw",
            "acme/dev",
            file,
            "--name",
            "big",
            "--version",
        ];
        args.push(version);
        if json {
            args.extend(["-F", "json"]);
        }
        s.cli_with_env(Some(ADMIN), env, &args)
    };
    // On a terminal (forced here: the test's stderr is a pipe): bytes, rate and ETA.
    let out = push("1", false, &[("GANTRY_PROGRESS", "always")])?;
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MiB") && err.contains("ETA"), "{err}");
    // Not a terminal: no bar, no carriage-return noise.
    let out = push("2", false, &[])?;
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("ETA") && !err.contains('\r'), "{err:?}");
    // JSON: stdout is the package, stderr has no bar even when forced.
    let out = push("3", true, &[("GANTRY_PROGRESS", "always")])?;
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("ETA"), "{err}");
    let package: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(package["version"], "3");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vulndb_counts_say_what_they_count() -> TestResult {
    let s = TestServer::start()?;
    let dir = tempfile::tempdir()?;
    let record = serde_json::json!({
        "schema_version": "1.6.0", "id": "TEST-2026-0003", "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {"package": {"ecosystem": "PyPI", "name": "a"}, "versions": ["1.0"]},
            {"package": {"ecosystem": "npm", "name": "a"}, "versions": ["1.0.0"]}
        ]
    });
    let file = dir.path().join("TEST-2026-0003.json");
    std::fs::write(&file, record.to_string())?;
    let out = s.cli_ok(
        Some(ADMIN),
        &["vulndb", "import", file.to_str().ok_or("path")?],
    )?;
    assert!(
        out.contains("imported 1 records, counted per file"),
        "{out}"
    );
    let status = s.cli_ok(None, &["vulndb", "status"])?;
    assert!(
        status.contains("advisories affecting each ecosystem"),
        "{status}"
    );
    assert!(status.contains("1 distinct advisories"), "{status}");
    // One record, two ecosystems: each counts it.
    assert!(
        status.lines().any(|l| l.trim() == "PyPI         1"),
        "{status}"
    );
    assert!(
        status.lines().any(|l| l.trim() == "npm          1"),
        "{status}"
    );
    Ok(())
}
