//! RPM scanning with a hand-written OSV record of a Red Hat-style ecosystem: an `.el9`
//! package built with `rpmbuild` is `not_supported` until such advisories are imported, then
//! matched with rpm's version order (epoch first, releases compared as rpm does: `3.el9`
//! below `10.el9`); a policy blocks its promotion until an exception (VEX) lifts the finding.
//! Database-facing: runs on both backends.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::push;
use super::tools::{self, Spec};
use crate::common::{TestResult, TestServer, ADMIN};
use crate::scanning::{advisory_ids, deny_vulnerable_promotions, wait_scanned};

const ADVISORY: &str = "RHSA-2099:0001";

/// Waits until the package's scan status is `status`, its findings counted in `count`.
async fn until(s: &TestServer, slug: &str, status: &str, count: u64) -> TestResult<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = wait_scanned(s, "acme/dev", slug).await?;
        if p["security_scan_status"] == status && p["num_vulnerabilities"] == count {
            return Ok(p);
        }
        if Instant::now() > deadline {
            return Err(format!("{slug} never became {status} with {count}: {p}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn promote(s: &TestServer, slug: &str) -> TestResult<(StatusCode, Value)> {
    s.admin(
        Method::POST,
        "/api/v1/promotions",
        Some(json!({"source": "acme/dev", "destination": "prod", "slugs": [slug]})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn el9_rpms_are_scanned_with_red_hat_advisories_gated_and_excepted() -> TestResult {
    if tools::rpm_tools_missing() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "prod", true).await?;
    let work = tempfile::tempdir()?;
    // 1:2.0-3.el9 is below the fix (1:2.0-10.el9: release 3 < 10, though "3" > "10" as
    // text); 2:1.0-1.el9 is above it by its epoch alone.
    let files = tools::build(
        work.path(),
        &[
            Spec {
                name: "gantry-tool",
                version: "2.0",
                release: "3.el9",
                extra: "Epoch: 1",
            },
            Spec {
                name: "gantry-tool",
                version: "1.0",
                release: "1.el9",
                extra: "Epoch: 2",
            },
        ],
    )?;
    let vulnerable = push(&s, "acme/dev", &files[0])?;
    let p = wait_scanned(&s, "acme/dev", &vulnerable).await?;
    assert_eq!(p["security_scan_status"], "not_supported", "{p}");

    let records = tempfile::tempdir()?;
    let record = json!({
        "id": ADVISORY, "modified": "2099-01-01T00:00:00Z",
        "summary": "gantry-tool runs what it is told",
        "affected": [{
            "package": {"ecosystem": "Red Hat:enterprise_linux:9::appstream", "name": "gantry-tool"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:2.0-10.el9"}]}]
        }],
        "database_specific": {"severity": "HIGH"}
    });
    std::fs::write(
        records.path().join(format!("{ADVISORY}.json")),
        record.to_string(),
    )?;
    s.cli_ok(
        Some(ADMIN),
        &["vulndb", "import", &records.path().display().to_string()],
    )?;
    // The import rescans the package it names.
    until(&s, &vulnerable, "vulnerabilities_found", 1).await?;
    assert_eq!(advisory_ids(&s, "acme/dev", &vulnerable).await?, [ADVISORY]);
    let newer = push(&s, "acme/dev", &files[1])?;
    let p = wait_scanned(&s, "acme/dev", &newer).await?;
    assert_eq!(p["security_scan_status"], "no_vulnerabilities", "{p}");
    assert_eq!(p["version"], "2:1.0-1.el9", "{p}");

    // The gate keeps the vulnerable package out of prod.
    deny_vulnerable_promotions(&s, "acme").await?;
    let (st, refused) = promote(&s, &vulnerable).await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("gantry-tool 1:2.0-3.el9 has known vulnerabilities"),
        "{refused}"
    );

    // An exception for this package lifts the finding, and the promotion goes through.
    s.cli_ok(
        Some(ADMIN),
        &[
            "vulnerabilities",
            "except",
            &format!("acme/dev/{vulnerable}"),
            ADVISORY,
            "--status",
            "not_affected",
            "--justification",
            "vulnerable_code_not_in_execute_path",
            "--impact",
            "the tool is never run here",
        ],
    )?;
    until(&s, &vulnerable, "no_vulnerabilities", 0).await?;
    let (st, done) = promote(&s, &vulnerable).await?;
    assert_eq!(st, StatusCode::OK, "{done}");
    let (_, listed) = s
        .admin(Method::GET, "/api/v1/packages/acme/prod", None)
        .await?;
    let versions: Vec<&str> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["version"].as_str())
        .collect();
    assert_eq!(versions, ["1:2.0-3.el9"]);
    Ok(())
}
