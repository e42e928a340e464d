//! Go modules scanned with the Go OSV data of ../shared: module path and version matched by
//! the OSV ranges, pseudo-versions ordered by their commit time. Database-facing (no go
//! command): runs on both backends.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::client::{module_zip, upload_zip};
use crate::common::{TestResult, TestServer, ADMIN};
use crate::scanning::shared;

/// Publishes `path`@`version` (a one-file module) and returns the advisory ids its scan found.
async fn scanned(s: &TestServer, path: &str, version: &str) -> TestResult<(Value, Vec<String>)> {
    let go_mod = format!("module {path}\n");
    let mut files: Vec<(&str, &[u8])> = vec![("x.go", b"package x\n")];
    // A +incompatible version is one of a module without a go.mod.
    if !version.ends_with("+incompatible") {
        files.push(("go.mod", go_mod.as_bytes()));
    }
    let zip = module_zip(&format!("{path}@{version}/"), &files)?;
    let (st, p) = upload_zip(s, "acme/dev", ADMIN, zip).await?;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
    crate::scanning::scanned_ids(s, "acme/dev", &slug).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_modules_are_scanned_with_the_go_osv_data() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    // The two records the checks below need, read from the Go bundle of ../shared (the
    // whole bundle is imported by the scanning suite; on PostgreSQL that alone takes ~40 s).
    let records = tempfile::tempdir()?;
    let mut bundle = zip::ZipArchive::new(std::fs::File::open(shared("osv/Go/all.zip"))?)?;
    for id in ["GO-2020-0017", "GO-2020-0019"] {
        let mut record = bundle.by_name(&format!("{id}.json"))?;
        let mut out = std::fs::File::create(records.path().join(format!("{id}.json")))?;
        std::io::copy(&mut record, &mut out)?;
    }
    s.cli_ok(
        Some(ADMIN),
        &["vulndb", "import", &records.path().display().to_string()],
    )?;
    // GO-2020-0019: github.com/gorilla/websocket before 1.4.1.
    let (p, ids) = scanned(&s, "github.com/gorilla/websocket", "v1.4.0").await?;
    assert_eq!(ids, ["GO-2020-0019"], "{p}");
    assert_eq!(p["security_scan_status"], "vulnerabilities_found");
    let (p, ids) = scanned(&s, "github.com/gorilla/websocket", "v1.4.1").await?;
    assert!(ids.is_empty(), "{ids:?}");
    assert_eq!(p["security_scan_status"], "no_vulnerabilities");
    let clean = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
    // GO-2020-0017: github.com/dgrijalva/jwt-go from the pseudo-version of 2015-07-17 on,
    // never fixed: a later commit is affected, an earlier one is not.
    let (_, ids) = scanned(
        &s,
        "github.com/dgrijalva/jwt-go",
        "v0.0.0-20160101000000-abcdef123456",
    )
    .await?;
    assert_eq!(ids, ["GO-2020-0017"]);
    let (_, ids) = scanned(
        &s,
        "github.com/dgrijalva/jwt-go",
        "v0.0.0-20150101000000-abcdef123456",
    )
    .await?;
    assert!(ids.is_empty(), "{ids:?}");
    let (_, ids) = scanned(&s, "github.com/dgrijalva/jwt-go", "v3.2.0+incompatible").await?;
    assert_eq!(ids, ["GO-2020-0017"]);

    // A gate on promotion keeps the vulnerable version out of prod; the proxy there lists
    // what passed.
    s.create_repo("acme", "prod", true).await?;
    crate::scanning::deny_vulnerable_promotions(&s, "acme").await?;
    let (st, refused) = s
        .admin(
            Method::POST,
            "/api/v1/promotions",
            Some(json!({"source": "acme/dev", "destination": "prod",
                        "query": "name:github.com/gorilla/websocket"})),
        )
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("v1.4.0 has known vulnerabilities"),
        "{refused}"
    );
    s.cli_ok(Some(ADMIN), &["cp", &format!("acme/dev/{clean}"), "prod"])?;
    let resp = s
        .req(
            Method::GET,
            "/acme/prod/go/github.com/gorilla/websocket/@v/list",
            Some(ADMIN),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await?, "v1.4.1\n");
    Ok(())
}
