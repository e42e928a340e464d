//! A Maven upstream in `cache` mode with the real client: what mvn resolves through the
//! proxying repository becomes a package there (its POM and JAR), scanned with the shared
//! OSV data, copied to another repository and resolved from that one. (That a cached
//! package is served while its upstream is down is `maven_http`'s upstream test.)

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestResult, TestServer, ADMIN};
use crate::maven::{consumer, maven_missing, maven_url, Mvn};
use crate::maven_http::{advisories, deploy, jar, packages, pom, LOG4J_ADVISORIES};

const APP: &str = "package org.example;\npublic class App {\n  public static void main(String[] a) { System.out.println(\"app\"); }\n}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mvn_through_a_caching_upstream_makes_scanned_promotable_packages() -> TestResult {
    if crate::common::native_client_suite_skipped() || maven_missing() {
        return Ok(());
    }
    // The upstream: another Gantry holding a vulnerable log4j-core.
    let upstream = TestServer::start()?;
    upstream.create_repo("up", "central", false).await?;
    let log4j_jar = jar(&[("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")])?;
    let (st, body) = deploy(
        &upstream,
        "up/central",
        "org/apache/logging/log4j/log4j-core/2.14.1",
        &[
            (
                "log4j-core-2.14.1.pom",
                pom("org.apache.logging.log4j", "log4j-core", "2.14.1").into(),
            ),
            ("log4j-core-2.14.1.jar", log4j_jar.clone()),
        ],
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");

    let s = TestServer::start()?;
    let osv = crate::cargo::shared("osv/Maven").display().to_string();
    s.cli_ok(Some(ADMIN), &["vulndb", "import", &osv])?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "prod", true).await?;
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/repos/acme/dev/upstreams",
            Some(json!({
                "format": "maven", "name": "gantry-up", "mode": "cache", "priority": 1,
                "url": format!("{}/up/central/maven", upstream.url), "index_ttl_seconds": 1,
            })),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let reader = s.token("acme", "read").await?;

    // mvn resolves through acme/dev.
    let work = tempfile::tempdir()?;
    let app = work.path().join("app");
    std::fs::create_dir_all(&app)?;
    let dependency = [("org.apache.logging.log4j:log4j-core", "2.14.1")];
    consumer(&app, APP, &dependency, &maven_url(&s, "acme/dev"))?;
    Mvn::new(&reader)?.ok(&app, &["package"])?;

    // … and the version is now a package of acme/dev: POM and JAR, from the upstream.
    let cached = packages(&s, "acme/dev").await?;
    assert_eq!(cached.len(), 1, "{cached:?}");
    let pkg = &cached[0];
    assert_eq!(pkg["name"], "org.apache.logging.log4j:log4j-core");
    assert_eq!(pkg["version"], "2.14.1");
    assert_eq!(pkg["source"], "upstream", "{pkg}");
    let files: Vec<&str> = pkg["files"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["filename"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        files,
        ["log4j-core-2.14.1.pom", "log4j-core-2.14.1.jar"],
        "{pkg}"
    );
    let slug = pkg["slug_perm"].as_str().ok_or("slug")?;
    let scanned = crate::scanning::wait_scanned(&s, "acme/dev", slug).await?;
    assert_eq!(scanned["security_scan_status"], "vulnerabilities_found");
    assert_eq!(advisories(&s, "acme/dev", slug).await?, LOG4J_ADVISORIES);

    // Copied to acme/prod, which has no upstream, and resolved from there.
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/copy"),
            Some(json!({"destination": "prod"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    consumer(&app, APP, &dependency, &maven_url(&s, "acme/prod"))?;
    let from_prod = Mvn::new(&reader)?;
    from_prod.ok(&app, &["package"])?;
    let local = from_prod
        .local_repo()
        .join("org/apache/logging/log4j/log4j-core/2.14.1/log4j-core-2.14.1.jar");
    assert_eq!(std::fs::read(local)?, log4j_jar);

    Ok(())
}
