//! Every native client prints Gantry's own message when Gantry refuses it: npm (which printed
//! `[object Object]` for the REST envelope), twine (which prints the reason phrase) and
//! cargo (which prints `errors[].detail`).

use std::path::PathBuf;

use serde_json::json;

use crate::cargo::CargoClient;
use crate::common::{TestResult, TestServer};
use crate::npm::{package_dir, NpmClient};
use crate::python::{fixture, twine};

const REFUSAL: &str = "push needs the write privilege on acme/dev";

fn stderr_and_stdout(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_publishes_show_gantrys_message_in_every_client() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let read = s.token("acme/dev", "read").await?;

    let npm = NpmClient::new(&format!("{}/acme/dev/npm/", s.url), Some(&read))?;
    let root = tempfile::tempdir()?;
    let dir = package_dir(root.path(), &json!({"name": "refused", "version": "1.0.0"}))?;
    let out = npm.run(&dir, &["publish"])?;
    let text = stderr_and_stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains(REFUSAL), "npm: {text}");
    assert!(!text.contains("[object Object]"), "npm: {text}");

    let wheel: PathBuf = fixture("six-1.16.0-py2.py3-none-any.whl");
    let out = twine(&s, "acme/dev", &read, &[wheel], &[])?;
    let text = stderr_and_stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains(REFUSAL), "twine: {text}");

    let cargo = CargoClient::new(&format!("{}/acme/dev/cargo/index/", s.url))?;
    let krate = cargo.lib("refused-crate", "0.1.0", 1)?;
    let out = cargo.run(
        &krate,
        Some(&read),
        &[
            "publish",
            "--registry",
            "gantry",
            "--allow-dirty",
            "--no-verify",
        ],
    )?;
    let text = stderr_and_stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains(REFUSAL), "cargo: {text}");
    Ok(())
}
