//! Vulnerability exceptions (VEX) with the real shared bundles and the Jinja2 2.10 wheel:
//! an exception takes a finding out of the counts and the gate, stays visible, is in the
//! trail and the audit log, expires back into the counts, and exports as OpenVEX.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};
use crate::scanning::{shared, wait_scanned};

/// Polls the package until `check` holds on it (a rescan is asynchronous).
async fn until(
    s: &TestServer,
    repo: &str,
    slug: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> TestResult<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = wait_scanned(s, repo, slug).await?;
        if check(&p) {
            return Ok(p);
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: {p}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn setup() -> TestResult<(TestServer, String)> {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "staging", true).await?;
    for bundle in ["osv/PyPI", "osv-ghsa/PyPI"] {
        s.cli_ok(
            Some(ADMIN),
            &["vulndb", "import", &shared(bundle).display().to_string()],
        )?;
    }
    let wheel = shared("fixtures/python/Jinja2-2.10-py2.py3-none-any.whl");
    let slug = s.cli_ok(
        Some(ADMIN),
        &["push", "python", "acme/dev", &wheel.display().to_string()],
    )?;
    let p = wait_scanned(&s, "acme/dev", &slug).await?;
    assert_eq!(p["num_vulnerabilities"], 2, "{p}");
    assert_eq!(p["max_severity"], "high", "{p}");
    Ok((s, slug))
}

async fn refused(s: &TestServer, slug: &str) -> TestResult<Value> {
    let (st, plan) = s
        .admin(
            Method::POST,
            "/api/v1/promotions",
            Some(json!({"source": "acme/dev", "destination": "staging", "slugs": [slug], "dry_run": true})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{plan}");
    Ok(plan["refused"].clone())
}

async fn findings(s: &TestServer, slug: &str, all: bool) -> TestResult<Vec<Value>> {
    let query = if all { "?include_excepted=true" } else { "" };
    let (_, report) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/vulnerabilities{query}"),
            None,
        )
        .await?;
    Ok(report["vulnerabilities"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

async fn trail_types(s: &TestServer, slug: &str) -> TestResult<Vec<String>> {
    let (_, trail) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/events"),
            None,
        )
        .await?;
    Ok(trail
        .as_array()
        .ok_or("trail")?
        .iter()
        .filter_map(|e| e["event"].as_str().map(str::to_owned))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_lifts_a_finding_from_the_gate_and_is_in_the_trail() -> TestResult {
    let (s, slug) = setup().await?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "policy",
            "create",
            "acme",
            "--name",
            "severity",
            "--example",
            "severity-threshold",
        ],
    )?;
    assert_eq!(refused(&s, &slug).await?, 1, "high blocks");

    // not_affected needs one of OpenVEX's justifications.
    let bad = s.cli(
        Some(ADMIN),
        &[
            "vulnerabilities",
            "except",
            &format!("acme/dev/{slug}"),
            "PYSEC-2019-217",
            "--status",
            "not_affected",
            "--justification",
            "trust me",
        ],
    )?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("vulnerable_code_not_in_execute_path"));

    // The sandbox escape (high), excepted by its GHSA alias for this one package.
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "vulnerabilities",
            "except",
            &format!("acme/dev/{slug}"),
            "GHSA-462w-v97r-4m45",
            "--status",
            "not_affected",
            "--justification",
            "vulnerable_code_not_in_execute_path",
            "--impact",
            "templates are never sandboxed here",
            "--expires",
            "2099-01-01",
            "-F",
            "json",
        ],
    )?;
    let created: Value = serde_json::from_str(&out)?;
    assert_eq!(created["scope"], "package");
    assert!(created["author"].as_str().is_some_and(|a| !a.is_empty()));
    let p = until(&s, "acme/dev", &slug, "the exception never applied", |p| {
        p["num_vulnerabilities"] == 1
    })
    .await?;
    assert_eq!(p["max_severity"], "medium", "{p}");
    assert_eq!(refused(&s, &slug).await?, 0, "the policy now allows it");

    // Visible, flagged, with --include-excepted only.
    assert_eq!(findings(&s, &slug, false).await?.len(), 1);
    let all = findings(&s, &slug, true).await?;
    let excepted = all
        .iter()
        .find(|f| f["advisory_id"] == "PYSEC-2019-217")
        .ok_or("excepted finding")?;
    assert_eq!(excepted["exception"]["status"], "not_affected");
    assert_eq!(
        excepted["exception"]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    let text = s.cli_ok(
        Some(ADMIN),
        &[
            "vulnerabilities",
            &format!("acme/dev/{slug}"),
            "--include-excepted",
        ],
    )?;
    assert!(text.contains("EXCEPTED not_affected"), "{text}");

    // under_investigation records but does not lift anything.
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "vulnerabilities",
            "except",
            "acme/dev",
            "PYSEC-2021-66",
            "--name",
            "jinja2",
            "--versions",
            ">=2.0,<2.11",
            "--status",
            "under_investigation",
            "-F",
            "json",
        ],
    )?;
    let investigating: Value = serde_json::from_str(&out)?;
    assert_eq!(investigating["scope"], "name");
    let p = until(&s, "acme/dev", &slug, "rescanned", |p| {
        p["num_vulnerabilities"] == 1
    })
    .await?;
    assert_eq!(p["max_severity"], "medium");

    // Listed, in the trail and in the audit log.
    let list = s.cli_ok(
        Some(ADMIN),
        &["vulnerabilities", "exceptions", "acme", "-F", "json"],
    )?;
    let list: Value = serde_json::from_str(&list)?;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    assert!(trail_types(&s, &slug)
        .await?
        .contains(&"vulnerability_exception.created".to_owned()));
    let (_, audit) = s.admin(Method::GET, "/api/v1/audit/acme", None).await?;
    let audited = audit
        .as_array()
        .ok_or("audit")?
        .iter()
        .filter(|e| e["event"] == "vulnerability_exception.created")
        .count();
    assert!(audited >= 2, "{audit}");

    // OpenVEX export.
    let doc = s.cli_ok(Some(ADMIN), &["vulnerabilities", "openvex", "acme/dev"])?;
    let doc: Value = serde_json::from_str(&doc)?;
    assert_eq!(doc["@context"], "https://openvex.dev/ns/v0.2.0");
    assert!(doc["@id"].as_str().is_some_and(|i| !i.is_empty()));
    assert!(doc["author"].is_string() && doc["timestamp"].is_string());
    assert!(doc["version"].is_u64());
    let statements = doc["statements"].as_array().ok_or("statements")?;
    assert_eq!(statements.len(), 2, "{doc}");
    let s0 = &statements[0];
    assert_eq!(s0["vulnerability"]["name"], "GHSA-462w-v97r-4m45");
    assert_eq!(s0["status"], "not_affected");
    assert_eq!(s0["justification"], "vulnerable_code_not_in_execute_path");
    assert_eq!(s0["impact_statement"], "templates are never sandboxed here");
    assert_eq!(s0["products"][0]["@id"], "pkg:pypi/jinja2@2.10");
    assert_eq!(statements[1]["status"], "under_investigation");
    assert!(statements[1].get("justification").is_none());

    // Withdrawn: the finding counts again.
    let id = created["id"].as_i64().ok_or("id")?;
    s.cli_ok(
        Some(ADMIN),
        &["vulnerabilities", "withdraw", "acme/dev", &id.to_string()],
    )?;
    let p = until(&s, "acme/dev", &slug, "never counted again", |p| {
        p["num_vulnerabilities"] == 2
    })
    .await?;
    assert_eq!(p["max_severity"], "high");
    assert!(trail_types(&s, &slug)
        .await?
        .contains(&"vulnerability_exception.deleted".to_owned()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_exception_counts_again_with_an_event() -> TestResult {
    let (s, slug) = setup().await?;
    let expires = gantry_core_time_in(3);
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/vulnerability-exceptions/acme/dev",
            Some(json!({
                "advisory_id": "PYSEC-2019-217", "status": "fixed", "repository": true,
                "impact_statement": "patched in our fork", "expires_at": expires,
            })),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(body["scope"], "repository");
    until(&s, "acme/dev", &slug, "never excepted", |p| {
        p["num_vulnerabilities"] == 1
    })
    .await?;
    let p = until(&s, "acme/dev", &slug, "never expired", |p| {
        p["num_vulnerabilities"] == 2
    })
    .await?;
    assert_eq!(p["max_severity"], "high");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !trail_types(&s, &slug)
        .await?
        .contains(&"vulnerability_exception.expired".to_owned())
    {
        if Instant::now() > deadline {
            return Err("no expiry event in the trail".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, list) = s
        .admin(
            Method::GET,
            "/api/v1/vulnerability-exceptions/acme/dev",
            None,
        )
        .await?;
    assert_eq!(list[0]["active"], false, "{list}");
    Ok(())
}

/// An RFC 3339 time `secs` seconds from now.
fn gantry_core_time_in(secs: u64) -> String {
    let at = std::time::SystemTime::now() + Duration::from_secs(secs);
    humantime_rfc3339(at)
}

fn humantime_rfc3339(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_repository_admins_may_except() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "other", true).await?;
    let body = json!({"advisory_id": "PYSEC-2019-217", "status": "under_investigation", "repository": true});
    let path = "/api/v1/vulnerability-exceptions/acme/dev";
    let read = s.token("acme/dev", "read").await?;
    let other_write = s.token("acme/other", "write").await?;
    let (st, _) = s
        .call(Method::POST, path, Some(&read), Some(body.clone()))
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN, "a read token");
    let (st, _) = s
        .call(Method::POST, path, Some(&other_write), Some(body.clone()))
        .await?;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "a write token of another repository"
    );
    let (st, _) = s.call(Method::POST, path, None, Some(body.clone())).await?;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "anonymous: the private repository is hidden"
    );
    let (st, _) = s.call(Method::GET, path, None, None).await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .call(
            Method::GET,
            &format!("{path}/openvex"),
            Some(&other_write),
            None,
        )
        .await?;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "outsiders do not see the document"
    );
    let out = s.cli_ok(
        Some(ADMIN),
        &["entitlements", "create", "acme/dev", "-F", "json"],
    )?;
    let ent: Value = serde_json::from_str(&out)?;
    let ent = ent["token"].as_str().ok_or("token")?;
    let (st, _) = s
        .call(Method::POST, path, Some(ent), Some(body.clone()))
        .await?;
    assert!(
        matches!(
            st,
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND
        ),
        "an entitlement: {st}"
    );
    // A write token of the repository itself is not enough either; its admin is.
    let write = s.token("acme/dev", "write").await?;
    let (st, _) = s
        .call(Method::POST, path, Some(&write), Some(body.clone()))
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let admin = s.token("acme/dev", "admin").await?;
    let (st, created) = s.call(Method::POST, path, Some(&admin), Some(body)).await?;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let (st, _) = s
        .call(
            Method::DELETE,
            &format!("{path}/{}", created["id"]),
            Some(&read),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, list) = s.call(Method::GET, path, Some(&read), None).await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    Ok(())
}
