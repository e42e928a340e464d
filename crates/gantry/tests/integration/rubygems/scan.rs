//! Gems scanned with the RubyGems OSV data of ../shared: name and version matched by the
//! OSV ranges in `Gem::Version` order, and a promotion gate that keeps a vulnerable version
//! out of prod, whose index then lists what passed. Database-facing (no gem command): runs
//! on both backends.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::client::{gem_bytes, get_text, push_bytes, spec_yaml};
use crate::common::{TestResult, TestServer, ADMIN};
use crate::scanning::shared;

/// Pushes `name` `version` and returns the advisory ids its scan found.
async fn scanned(s: &TestServer, name: &str, version: &str) -> TestResult<(Value, Vec<String>)> {
    let gem = gem_bytes(&spec_yaml(name, version), &[("lib/x.rb", b"")])?;
    let (st, body) = push_bytes(s, "acme/dev", ADMIN, gem).await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    let slug = super::slug_of(s, "acme/dev", name, version).await?;
    crate::scanning::scanned_ids(s, "acme/dev", &slug).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gems_are_scanned_with_the_rubygems_osv_data() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "vulndb",
            "import",
            &shared("osv/RubyGems/all.zip").display().to_string(),
        ],
    )?;
    // rack: GHSA-3h57-hmj3-gj3p fixed in 2.2.6.3, GHSA-54rr-7fvw-6x8f in 2.2.8.1.
    let (p, ids) = scanned(&s, "rack", "2.2.6.2").await?;
    assert_eq!(ids, ["GHSA-3h57-hmj3-gj3p", "GHSA-54rr-7fvw-6x8f"], "{p}");
    assert_eq!(p["security_scan_status"], "vulnerabilities_found");
    let (_, ids) = scanned(&s, "rack", "2.2.6.3").await?;
    assert_eq!(ids, ["GHSA-54rr-7fvw-6x8f"]);
    // Gem::Version order: 2.2.10 is past 2.2.8.1, and a pre-release of 2.2.8.1 is before it.
    let (p, ids) = scanned(&s, "rack", "2.2.10").await?;
    assert!(ids.is_empty(), "{ids:?}");
    assert_eq!(p["security_scan_status"], "no_vulnerabilities");
    let (_, ids) = scanned(&s, "rack", "2.2.8.1.rc1").await?;
    assert_eq!(ids, ["GHSA-54rr-7fvw-6x8f"]);

    // A gate on promotion keeps vulnerable versions out of prod.
    s.create_repo("acme", "prod", true).await?;
    crate::scanning::deny_vulnerable_promotions(&s, "acme").await?;
    let (st, refused) = s
        .admin(
            Method::POST,
            "/api/v1/promotions",
            Some(json!({"source": "acme/dev", "destination": "prod", "query": "name:rack"})),
        )
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("2.2.6.2 has known vulnerabilities"),
        "{refused}"
    );
    let clean = super::slug_of(&s, "acme/dev", "rack", "2.2.10").await?;
    s.cli_ok(Some(ADMIN), &["cp", &format!("acme/dev/{clean}"), "prod"])?;
    let (st, info) = get_text(&s, "/acme/prod/rubygems/info/rack", Some(ADMIN)).await?;
    assert_eq!(st, StatusCode::OK);
    assert!(
        info.starts_with("---\n2.2.10 |checksum:") && info.lines().count() == 2,
        "{info}"
    );
    Ok(())
}
