//! The metadata as the repository changes, without the composer command (database-facing:
//! runs on both backends): an unchanged repository answers `packages.json` and metadata files
//! from memory (no query; counted on `/metrics`) and with ETags, a new version shows at once,
//! and a promotion rule's move updates both repositories' metadata.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::client::{listed, upload_zip, zip_of};
use crate::common::{TestResult, TestServer, ADMIN};

fn dist(name: &str, version: &str) -> TestResult<Vec<u8>> {
    let manifest = json!({"name": name, "version": version}).to_string();
    zip_of(&[("composer.json", manifest.as_bytes())])
}

/// Lookups of the derived-data cache so far that had `result` (`hit`, `miss`).
async fn derived(s: &TestServer, result: &str) -> TestResult<f64> {
    let text = s
        .req(Method::GET, "/metrics", None)
        .send()
        .await?
        .text()
        .await?;
    let key = format!("gantry_cache_lookups_total{{cache=\"derived\",result=\"{result}\"}}");
    Ok(text
        .lines()
        .find(|l| l.starts_with(&key))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composer_metadata_comes_from_memory_until_the_repository_changes() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    let (st, p) = upload_zip(&s, "acme/dev", ADMIN, dist("acme/cached", "1.0.0")?, None).await?;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let paths = [
        "/acme/dev/composer/packages.json",
        "/acme/dev/composer/p2/acme/cached.json",
    ];
    // Writes after the upload (its follow-up jobs) move the cache epoch on; read until two
    // rounds in a row cost no miss.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut before = derived(&s, "miss").await?;
    loop {
        for path in paths {
            s.req(Method::GET, path, None)
                .send()
                .await?
                .error_for_status()?;
        }
        let now = derived(&s, "miss").await?;
        if now == before {
            break;
        }
        if Instant::now() > deadline {
            return Err("the metadata never came from memory".into());
        }
        before = now;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let hits = derived(&s, "hit").await?;
    for _ in 0..20 {
        for path in paths {
            s.req(Method::GET, path, None)
                .send()
                .await?
                .error_for_status()?;
        }
    }
    assert_eq!(
        derived(&s, "miss").await?,
        before,
        "an unchanged repository was read again"
    );
    // Each round: the root document, and a metadata file's versions, rendering and upstreams.
    let served = derived(&s, "hit").await? - hits;
    assert!(served >= 80.0, "{served} lookups served from memory");

    // ETags: a client with the current one gets 304.
    let resp = s.req(Method::GET, paths[1], None).send().await?;
    let etag = resp
        .headers()
        .get("etag")
        .ok_or("etag")?
        .to_str()?
        .to_owned();
    let again = s
        .req(Method::GET, paths[1], None)
        .header("If-None-Match", &etag)
        .send()
        .await?;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // A new version shows at once, with a new ETag.
    let (st, _) = upload_zip(&s, "acme/dev", ADMIN, dist("acme/cached", "1.1.0")?, None).await?;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(
        listed(&s, paths[1], "acme/cached").await?,
        ["1.0.0", "1.1.0"]
    );
    let changed = s
        .req(Method::GET, paths[1], None)
        .header("If-None-Match", &etag)
        .send()
        .await?;
    assert_eq!(changed.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_rule_moves_composer_packages_between_metadata() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    s.create_repo("acme", "staging", false).await?;
    let (st, rule) = s
        .admin(
            Method::POST,
            "/api/v1/repos/acme/dev/rules",
            Some(json!({"name": "composer-to-staging", "on": "package.synced",
                        "condition": "format == composer", "action": "move", "destination": "staging"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{rule}");
    let (st, p) = upload_zip(&s, "acme/dev", ADMIN, dist("acme/ruled", "2.0.0")?, None).await?;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while listed(
        &s,
        "/acme/staging/composer/p2/acme/ruled.json",
        "acme/ruled",
    )
    .await?
        != ["2.0.0"]
    {
        if Instant::now() > deadline {
            return Err("the rule never moved the package".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        listed(&s, "/acme/dev/composer/p2/acme/ruled.json", "acme/ruled")
            .await?
            .is_empty()
    );
    let resp = s
        .req(
            Method::GET,
            "/acme/staging/composer/dists/acme/ruled/2.0.0.zip",
            None,
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(())
}
