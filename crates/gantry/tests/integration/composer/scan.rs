//! Composer packages scanned with the Packagist OSV data of ../shared (Composer's version
//! order), and a gate on promotion that keeps a vulnerable version out of prod, whose
//! metadata lists what passed. Database-facing (no composer): runs on both backends.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::client::{listed, upload_zip, zip_of};
use crate::common::{TestResult, TestServer, ADMIN};
use crate::scanning::shared;

/// Publishes `name` `version` and returns the package and the advisory ids its scan found.
async fn scanned(s: &TestServer, name: &str, version: &str) -> TestResult<(Value, Vec<String>)> {
    let manifest = json!({"name": name}).to_string();
    let zip = zip_of(&[("composer.json", manifest.as_bytes())])?;
    let (st, p) = upload_zip(s, "acme/dev", ADMIN, zip, Some(version)).await?;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
    crate::scanning::scanned_ids(s, "acme/dev", &slug).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composer_packages_are_scanned_with_the_packagist_osv_data() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let records = tempfile::tempdir()?;
    let mut bundle = zip::ZipArchive::new(std::fs::File::open(shared("osv/Packagist/all.zip"))?)?;
    for id in ["GHSA-q7rv-6hp3-vh96", "GHSA-wxmh-65f7-jcvw"] {
        let mut record = bundle.by_name(&format!("{id}.json"))?;
        let mut out = std::fs::File::create(records.path().join(format!("{id}.json")))?;
        std::io::copy(&mut record, &mut out)?;
    }
    s.cli_ok(
        Some(ADMIN),
        &["vulndb", "import", &records.path().display().to_string()],
    )?;
    // guzzlehttp/psr7: GHSA-q7rv before 1.8.4 (and 2.0.0 to 2.1.1), GHSA-wxmh before 1.9.1
    // (and 2.0.0 to 2.4.5); a `v` prefix is Composer's same version.
    let (p, ids) = scanned(&s, "guzzlehttp/psr7", "v1.8.3").await?;
    assert_eq!(ids, ["GHSA-q7rv-6hp3-vh96", "GHSA-wxmh-65f7-jcvw"], "{p}");
    assert_eq!(p["security_scan_status"], "vulnerabilities_found");
    let (_, ids) = scanned(&s, "guzzlehttp/psr7", "2.4.4").await?;
    assert_eq!(ids, ["GHSA-wxmh-65f7-jcvw"]);
    let (p, ids) = scanned(&s, "guzzlehttp/psr7", "2.4.5").await?;
    assert!(ids.is_empty(), "{ids:?}");
    assert_eq!(p["security_scan_status"], "no_vulnerabilities");
    let clean = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let (_, ids) = scanned(&s, "guzzlehttp/psr7", "2.1.0-RC1").await?;
    assert_eq!(ids, ["GHSA-q7rv-6hp3-vh96", "GHSA-wxmh-65f7-jcvw"]);

    // A gate on promotion keeps the vulnerable versions out of prod.
    s.create_repo("acme", "prod", false).await?;
    crate::scanning::deny_vulnerable_promotions(&s, "acme").await?;
    let (st, refused) = s
        .admin(Method::POST, "/api/v1/promotions",
               Some(json!({"source": "acme/dev", "destination": "prod", "query": "name:guzzlehttp/psr7"})))
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("v1.8.3 has known vulnerabilities"),
        "{refused}"
    );
    s.cli_ok(Some(ADMIN), &["cp", &format!("acme/dev/{clean}"), "prod"])?;
    assert_eq!(
        listed(
            &s,
            "/acme/prod/composer/p2/guzzlehttp/psr7.json",
            "guzzlehttp/psr7"
        )
        .await?,
        ["2.4.5"]
    );
    Ok(())
}
