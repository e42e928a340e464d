//! Severities borrowed from aliases, and findings that alias one another merged, with the
//! real shared bundles: the PYSEC records in ../shared/osv carry no rating, their GitHub
//! advisories in ../shared/osv-ghsa do.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};
use crate::scanning::{shared, wait_scanned};

/// Fails closed on `critical` and `unknown` only: a package rated `high` may go on.
const NO_CRITICAL: &str = r#"package gantry

deny contains msg if {
	input.destination != null
	input.package.max_severity in {"critical", "unknown"}
	msg := sprintf("worst advisory is %s", [input.package.max_severity])
}
"#;

async fn import(s: &TestServer, path: &str) -> TestResult<Value> {
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "vulndb",
            "import",
            &shared(path).display().to_string(),
            "-F",
            "json",
        ],
    )?;
    Ok(serde_json::from_str(&out)?)
}

async fn findings(s: &TestServer, slug: &str) -> TestResult<Vec<Value>> {
    let (_, report) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/vulnerabilities"),
            None,
        )
        .await?;
    Ok(report["vulnerabilities"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

async fn promote(s: &TestServer, slug: &str) -> TestResult<(StatusCode, Value)> {
    s.admin(
        Method::POST,
        "/api/v1/promotions",
        Some(json!({"source": "acme/dev", "destination": "staging", "slugs": [slug], "dry_run": true})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jinja2_gets_its_rating_from_the_github_aliases_after_a_reimport() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "staging", true).await?;
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/policies/acme",
            Some(json!({"name": "no-critical", "rego": NO_CRITICAL})),
        )
        .await?;
    assert!(st.is_success(), "{body}");
    import(&s, "osv/PyPI").await?;
    let wheel = shared("fixtures/python/Jinja2-2.10-py2.py3-none-any.whl");
    let slug = s.cli_ok(
        Some(ADMIN),
        &["push", "python", "acme/dev", &wheel.display().to_string()],
    )?;
    let p = wait_scanned(&s, "acme/dev", &slug).await?;
    assert_eq!(
        p["max_severity"], "unknown",
        "PYSEC records carry no rating"
    );
    let (st, refused) = promote(&s, &slug).await?;
    assert_eq!(st, StatusCode::OK, "{refused}");
    assert_eq!(refused["refused"], 1, "{refused}");

    // The GitHub advisories: an import that touches Jinja2 rescans it.
    let report = import(&s, "osv-ghsa/PyPI").await?;
    assert_eq!(report["added"], 22, "{report}");
    assert!(report["rescans"].as_i64().unwrap_or(0) >= 1, "{report}");
    let p = wait_scanned(&s, "acme/dev", &slug).await?;
    assert_eq!(p["max_severity"], "high", "{p}");
    // The GHSA records match Jinja2 too, but each vulnerability is reported once, under
    // its PyPI database id, with every other id listed.
    assert_eq!(p["num_vulnerabilities"], 2, "{p}");
    let found = findings(&s, &slug).await?;
    let ids: Vec<&str> = found
        .iter()
        .filter_map(|f| f["advisory_id"].as_str())
        .collect();
    assert_eq!(ids, ["PYSEC-2019-217", "PYSEC-2021-66"]);
    let sandbox = &found[0];
    assert_eq!(sandbox["severity"], "high");
    assert_eq!(
        sandbox["severity_source"], "GHSA-462w-v97r-4m45 (CVSS v3.0)",
        "{sandbox}"
    );
    let aliases = sandbox["aliases"].as_array().ok_or("aliases")?;
    assert!(
        aliases.contains(&json!("GHSA-462w-v97r-4m45"))
            && aliases.contains(&json!("CVE-2019-10906"))
    );
    assert_eq!(found[1]["severity"], "medium");
    assert_eq!(
        found[1]["severity_source"],
        "GHSA-g3rq-g295-4j3m (CVSS v3.1)"
    );

    // The policy that fails closed on `unknown` no longer blocks it for want of a rating.
    let (st, plan) = promote(&s, &slug).await?;
    assert_eq!(st, StatusCode::OK, "{plan}");
    assert_eq!(plan["refused"], 0, "{plan}");
    let text = s.cli_ok(
        Some(ADMIN),
        &["vulnerabilities", &format!("acme/dev/{slug}")],
    )?;
    assert!(
        text.contains("PYSEC-2019-217")
            && text.contains("severity from GHSA-462w-v97r-4m45 (CVSS v3.0)"),
        "{text}"
    );
    // A rescan of unchanged data gives the same answer.
    let again = import(&s, "osv-ghsa/PyPI").await?;
    assert_eq!(again["unchanged"], 22, "{again}");
    Ok(())
}
