//! Issue 14, point 6: Rego parsing bounded, and evaluator processes capped.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestResult, TestServer};

/// Evaluator processes the server is running now (children started with the evaluator
/// argument), read from /proc; 0 where /proc is missing.
fn evaluators(server_pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| {
            let path = e.path();
            let parent = std::fs::read_to_string(path.join("stat"))
                .ok()
                .and_then(|s| {
                    let after = s.rsplit_once(')')?.1.to_owned();
                    after.split_whitespace().nth(1)?.parse::<u32>().ok()
                });
            let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
            parent == Some(server_pid)
                && String::from_utf8_lossy(&cmdline).contains("__evaluate-policy")
        })
        .count()
}

/// 15,000 nested brackets are refused before the parser sees them, at once; and however
/// many checks arrive together, no more evaluator processes run than the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_rego_is_refused_and_evaluators_are_capped() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    for (open, close) in [("[", "]"), ("(", ")"), ("{", "}")] {
        let rego = format!(
            "package gantry\nx := {}1{}\n",
            open.repeat(15_000),
            close.repeat(15_000)
        );
        let start = Instant::now();
        let (st, body) = s
            .admin(
                Method::POST,
                "/api/v1/policies/acme",
                Some(json!({"name": "deep", "rego": rego})),
            )
            .await?;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.to_string().contains("nests brackets"), "{body}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    // Each check spins until the evaluation timer stops it.
    let slow = "package gantry\n\ndeny contains \"never\" if {\n\tsome i in numbers.range(1, 100000)\n\tsome j in numbers.range(1, 100000)\n\ti * j == -1\n}\n";
    let cap = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let pid = s.child.id();
    let mut checks = Vec::new();
    for i in 0..(cap * 4) {
        let req = s
            .req(
                Method::POST,
                "/api/v1/policies/acme",
                Some(crate::common::ADMIN),
            )
            .json(&json!({"name": format!("slow{i}"), "rego": slow}));
        checks.push(tokio::spawn(req.send()));
    }
    let mut most = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while checks.iter().any(|c| !c.is_finished()) && Instant::now() < deadline {
        most = most.max(evaluators(pid));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for check in checks {
        let resp = check.await??;
        assert!(resp.status().is_success(), "{}", resp.status());
    }
    assert!(most <= cap, "{most} evaluators ran at once (cap {cap})");
    Ok(())
}
