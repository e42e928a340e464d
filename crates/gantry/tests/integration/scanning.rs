//! Vulnerability scanning with the real OSV bundles and fixtures in ../shared.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};

pub(crate) fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(path)
}

/// The advisory ids the scan of `repo`/`slug` found, in order.
pub(crate) async fn advisory_ids(
    s: &TestServer,
    repo: &str,
    slug: &str,
) -> TestResult<Vec<String>> {
    let (_, report) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/{repo}/{slug}/vulnerabilities"),
            None,
        )
        .await?;
    let mut ids: Vec<String> = report["vulnerabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["advisory_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}

/// A Rego policy on `owner` that refuses to promote a package with known vulnerabilities,
/// saying `NAME VERSION has known vulnerabilities`.
pub(crate) async fn deny_vulnerable_promotions(s: &TestServer, owner: &str) -> TestResult {
    let rego = "package gantry\n\ndeny contains msg if {\n\tinput.event == \"promotion\"\n\t\
                input.package.num_vulnerabilities > 0\n\tmsg := sprintf(\"%s %s has known vulnerabilities\", \
                [input.package.name, input.package.version])\n}\n";
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/policies/{owner}"),
            Some(json!({"name": "no-known-vulnerabilities", "rego": rego})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    Ok(())
}

pub(crate) async fn wait_scanned(s: &TestServer, repo: &str, slug: &str) -> TestResult<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, p) = s
            .admin(
                Method::GET,
                &format!("/api/v1/packages/{repo}/{slug}"),
                None,
            )
            .await?;
        let status = p["security_scan_status"].as_str().unwrap_or_default();
        if !matches!(status, "awaiting_scan" | "scanning" | "not_scanned") {
            return Ok(p);
        }
        if Instant::now() > deadline {
            return Err(format!("{slug} was never scanned: {p}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the scan of `slug` in `repo`: the package, and the advisory ids found, sorted.
pub(crate) async fn scanned_ids(
    s: &TestServer,
    repo: &str,
    slug: &str,
) -> TestResult<(Value, Vec<String>)> {
    let p = wait_scanned(s, repo, slug).await?;
    Ok((p, advisory_ids(s, repo, slug).await?))
}

/// Pushes the fixture of one `MANIFEST.tsv` row (`cols`) with `gantry push FORMAT`, waits for
/// its scan and checks that it reports exactly the row's `expected_from_shared_osv`
/// advisories. Returns the package, its vulnerability report and the expected ids.
pub(crate) async fn push_and_check_fixture(
    s: &TestServer,
    repo: &str,
    cols: &[&str],
) -> TestResult<(Value, Value, BTreeSet<String>)> {
    let file = shared("fixtures").join(cols[1]);
    let slug = s.cli_ok(
        Some(ADMIN),
        &["push", cols[0], repo, &file.display().to_string()],
    )?;
    let p = wait_scanned(s, repo, &slug).await?;
    assert_eq!(p["name"], cols[2], "{}", cols[1]);
    assert_eq!(p["version"], cols[3], "{}", cols[1]);
    assert_eq!(p["checksum_sha256"], cols[4], "{}", cols[1]);
    let expected: BTreeSet<String> = match cols[7] {
        "-" => BTreeSet::new(),
        list => list.split(',').map(str::to_owned).collect(),
    };
    let (_, report) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/{repo}/{slug}/vulnerabilities"),
            None,
        )
        .await?;
    let found: BTreeSet<String> = report["vulnerabilities"]
        .as_array()
        .ok_or("array")?
        .iter()
        .filter_map(|v| v["advisory_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(found, expected, "{}: {report}", cols[1]);
    let want_status = if expected.is_empty() {
        "no_vulnerabilities"
    } else {
        "vulnerabilities_found"
    };
    assert_eq!(p["security_scan_status"], want_status, "{}", cols[1]);
    Ok((p, report, expected))
}

/// The fixture rows of one format in `MANIFEST.tsv`.
pub(crate) fn manifest_rows(format: &str) -> TestResult<Vec<Vec<String>>> {
    let manifest = std::fs::read_to_string(shared("fixtures/MANIFEST.tsv"))?;
    Ok(manifest
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .filter(|cols| cols.first().map(String::as_str) == Some(format))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_fixtures_report_exactly_the_manifest_advisories() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "vulndb",
            "import",
            &shared("osv").display().to_string(),
            "-F",
            "json",
        ],
    )?;
    let report: Value = serde_json::from_str(&out)?;
    assert!(report["added"].as_i64().unwrap_or(0) > 8000, "{report}");
    let (_, status) = s.call(Method::GET, "/api/v1/vulndb", None, None).await?;
    // 2661 PyPI records, plus a multi-ecosystem GHSA record that also names a PyPI package.
    assert_eq!(status["ecosystems"]["PyPI"], 2662, "{status}");
    assert_eq!(status["total"], 8211, "{status}");
    assert!(status["ecosystems"]["crates.io"].as_i64().unwrap_or(0) > 1000);
    assert!(status["withdrawn"].as_i64().unwrap_or(0) >= 13);
    // Importing the same data again changes nothing.
    let again = s.cli_ok(
        Some(ADMIN),
        &[
            "vulndb",
            "import",
            &shared("osv/PyPI").display().to_string(),
            "-F",
            "json",
        ],
    )?;
    let again: Value = serde_json::from_str(&again)?;
    assert_eq!(again["added"], 0);
    assert_eq!(again["updated"], 0);

    for row in manifest_rows("python")? {
        let cols: Vec<&str> = row.iter().map(String::as_str).collect();
        let (p, report, expected) = push_and_check_fixture(&s, "acme/dev", &cols).await?;
        let slug = p["slug_perm"].as_str().unwrap_or_default().to_owned();
        assert_eq!(p["num_vulnerabilities"], expected.len());
        if !expected.is_empty() {
            assert!(
                p["max_severity"].as_str().is_some_and(|m| m != "none"),
                "{p}"
            );
            let v = &report["vulnerabilities"][0];
            assert!(
                v["aliases"].as_array().is_some_and(|a| !a.is_empty()),
                "{v}"
            );
            assert!(v["affected_ranges"].is_array() && v["references"].is_array());
        }
        // The scan is in the provenance trail with the figures the brief's webhooks carry.
        let (_, trail) = s
            .admin(
                Method::GET,
                &format!("/api/v1/packages/acme/dev/{slug}/events"),
                None,
            )
            .await?;
        let scanned = trail
            .as_array()
            .and_then(|t| t.iter().find(|e| e["event"] == "package.security_scanned"))
            .cloned()
            .ok_or("no scan event")?;
        assert_eq!(scanned["context"]["num_vulnerabilities"], expected.len());
        assert_eq!(scanned["context"]["max_severity"], p["max_severity"]);
    }
    let summary = s.cli_ok(
        Some(ADMIN),
        &["security", "summary", "acme/dev", "-F", "json"],
    )?;
    let summary: Value = serde_json::from_str(&summary)?;
    assert_eq!(summary["packages"], 8);
    assert_eq!(summary["fail"], 4);
    assert_eq!(summary["pass"], 4);
    assert_eq!(summary["scan_age"]["under_1h"], 8);
    let high = s.cli_ok(Some(ADMIN), &["vulnerabilities", "acme/dev/AAAAAAAAAAAA"]);
    assert!(high.is_err(), "unknown packages are an error");
    Ok(())
}

fn advisory(modified: &str, withdrawn: Option<&str>) -> Value {
    let mut a = json!({
        "schema_version": "1.6.0",
        "id": "TEST-2026-0001",
        "modified": modified,
        "aliases": ["CVE-2026-0001"],
        "summary": "six is too flexible",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "Six"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.17.0"}]}]
        }],
        "references": [{"type": "WEB", "url": "http://advisories.example.invalid/TEST-2026-0001"}]
    });
    if let Some(w) = withdrawn {
        a["withdrawn"] = w.into();
    }
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_rescan_affected_packages_and_say_what_changed() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let raw = s
        .upload_raw("acme/dev", "notes", "1", "notes.txt", b"text")
        .await?
        .1;
    let wheel = shared("fixtures/python/six-1.16.0-py2.py3-none-any.whl");
    let slug = s.cli_ok(
        Some(ADMIN),
        &["push", "python", "acme/dev", &wheel.display().to_string()],
    )?;
    let p = wait_scanned(&s, "acme/dev", &slug).await?;
    assert_eq!(p["security_scan_status"], "no_vulnerabilities");

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("TEST-2026-0001.json");
    std::fs::write(&file, advisory("2026-01-01T00:00:00Z", None).to_string())?;
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "vulndb",
            "import",
            &file.display().to_string(),
            "-F",
            "json",
        ],
    )?;
    let report: Value = serde_json::from_str(&out)?;
    assert_eq!(report["added"], 1);
    assert_eq!(report["rescans"], 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    let found = loop {
        let p = wait_scanned(&s, "acme/dev", &slug).await?;
        if p["security_scan_status"] == "vulnerabilities_found" || Instant::now() > deadline {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        found["security_scan_status"], "vulnerabilities_found",
        "{found}"
    );
    assert_eq!(found["max_severity"], "critical");
    let text = s.cli_ok(
        Some(ADMIN),
        &[
            "vulnerabilities",
            &format!("acme/dev/{slug}"),
            "--severity",
            "critical",
            "--fixable",
        ],
    )?;
    assert!(
        text.contains("TEST-2026-0001") && text.contains("fixed in 1.17.0"),
        "{text}"
    );
    let none = s.cli_ok(
        Some(ADMIN),
        &[
            "vulnerabilities",
            &format!("acme/dev/{slug}"),
            "--severity",
            "low",
        ],
    )?;
    assert!(!none.contains("TEST-2026-0001"), "{none}");

    // Withdrawn: the rescan resolves it, and the event names what changed.
    std::fs::write(
        &file,
        advisory("2026-02-01T00:00:00Z", Some("2026-02-01T00:00:00Z")).to_string(),
    )?;
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "vulndb",
            "import",
            &file.display().to_string(),
            "-F",
            "json",
        ],
    )?;
    let report: Value = serde_json::from_str(&out)?;
    assert_eq!(report["updated"], 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = wait_scanned(&s, "acme/dev", &slug).await?;
        if p["security_scan_status"] == "no_vulnerabilities" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("never resolved: {p}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, trail) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/events"),
            None,
        )
        .await?;
    let scans: Vec<&Value> = trail
        .as_array()
        .ok_or("array")?
        .iter()
        .filter(|e| e["event"] == "package.security_scanned")
        .collect();
    assert_eq!(scans.len(), 3, "{trail}");
    assert_eq!(
        scans[1]["context"]["new_advisories"],
        json!(["TEST-2026-0001"])
    );
    assert_eq!(
        scans[2]["context"]["resolved_advisories"],
        json!(["TEST-2026-0001"])
    );

    // Raw packages are not scanned, and say so.
    let raw_slug = raw["slug_perm"].as_str().ok_or("slug")?;
    let (_, raw_report) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{raw_slug}/vulnerabilities"),
            None,
        )
        .await?;
    assert_eq!(raw_report["security_scan_status"], "not_supported");
    // A rescan on request.
    let (st, _) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/scan"),
            None,
        )
        .await?;
    assert_eq!(st, reqwest::StatusCode::ACCEPTED);
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/vulndb/import",
            Some(&s.token("acme", "admin").await?),
            Some(json!({"path": "/"})),
        )
        .await?;
    assert_eq!(
        st,
        reqwest::StatusCode::FORBIDDEN,
        "imports are for site admins"
    );
    // A repository whose packages have findings can be deleted.
    let (st, body) = s
        .admin(Method::DELETE, "/api/v1/repos/acme/dev?force=true", None)
        .await?;
    assert_eq!(st, reqwest::StatusCode::NO_CONTENT, "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_syncs_from_a_bundle_url_and_copies_are_scanned() -> TestResult {
    // A plain HTTP server over the shared bundles stands in for an operator's mirror.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut mirror = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(shared("osv"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("http://127.0.0.1:{port}/PyPI/all.zip"))
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        if Instant::now() > deadline {
            let _ = mirror.kill();
            return Err("the bundle mirror did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = TestServer::builder()
        .arg("--vulndb-url")
        .arg(format!("http://127.0.0.1:{port}"))
        .start();
    let outcome = async {
        let s = s?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, status) = s.call(Method::GET, "/api/v1/vulndb", None, None).await?;
            if status["total"] == 8211 {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("never synced: {status}").into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        s.create_repo("acme", "dev", true).await?;
        s.create_repo("acme", "prod", true).await?;
        let wheel = shared("fixtures/python/urllib3-1.24.1-py2.py3-none-any.whl");
        let slug = s.cli_ok(
            Some(ADMIN),
            &["push", "python", "acme/dev", &wheel.display().to_string()],
        )?;
        let p = wait_scanned(&s, "acme/dev", &slug).await?;
        assert_eq!(p["num_vulnerabilities"], 7);
        // A copy is a new package and gets its own scan.
        let copy = s.cli_ok(Some(ADMIN), &["cp", &format!("acme/dev/{slug}"), "prod"])?;
        let c = wait_scanned(&s, "acme/prod", &copy).await?;
        assert_eq!(c["security_scan_status"], "vulnerabilities_found");
        assert_eq!(c["num_vulnerabilities"], 7);
        let (_, summary) = s
            .admin(Method::GET, "/api/v1/security/acme/summary", None)
            .await?;
        assert_eq!(summary["fail"], 2);
        // The sync is a scheduled job: after a round, exactly one next round waits, and a
        // restart (another replica starting, say) does not schedule a second one.
        let count = |jobs: &serde_json::Value| {
            jobs.as_array()
                .map(|j| j.iter().filter(|j| j["kind"] == "vulndb.sync").count())
                .unwrap_or(0)
        };
        let (_, jobs) = s
            .admin(Method::GET, "/api/v1/admin/jobs?state=queued,running", None)
            .await?;
        assert_eq!(count(&jobs), 1, "{jobs}");
        let restarted = TestServer::builder()
            .arg("--vulndb-url")
            .arg(format!("http://127.0.0.1:{port}"))
            .restart_of(s.shutdown()?)
            .start()?;
        let (_, jobs) = restarted
            .admin(Method::GET, "/api/v1/admin/jobs?state=queued,running", None)
            .await?;
        assert_eq!(count(&jobs), 1, "{jobs}");
        TestResult::Ok(())
    }
    .await;
    let _ = mirror.kill();
    let _ = mirror.wait();
    outcome
}
