//! Composer upstreams: a second Gantry as the repository behind one, in proxy and cache mode,
//! with composer installing through the cache, and an outage during which metadata is served
//! stale and cached dists keep being installed.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::client::{get_json, listed, package_dir, run_php, ComposerClient};
use crate::common::{TestResult, TestServer, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composer_upstreams_proxy_cache_and_survive_an_outage() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let mut upstream = TestServer::start()?;
    upstream.create_repo("up", "pkgs", true).await?;
    let root = tempfile::tempdir()?;
    for version in ["1.0.0", "1.1.0"] {
        let dir = root.path().join(version);
        let dir = package_dir(
            &dir,
            "acme/remote",
            "Acme\\Remote",
            &format!("remote {version}"),
            json!({}),
        )?;
        let dir = dir.display().to_string();
        upstream.cli_ok(
            Some(ADMIN),
            &["push", "composer", "up/pkgs", &dir, "--version", version],
        )?;
    }
    let up_token = upstream.token("up/pkgs", "read").await?;

    let s = TestServer::start()?;
    for mode in ["proxy", "cache"] {
        s.create_repo("acme", mode, false).await?;
        let (st, u) = s
            .admin(
                Method::POST,
                &format!("/api/v1/repos/acme/{mode}/upstreams"),
                Some(json!({"format": "composer", "name": "up", "url": format!("{}/up/pkgs/composer", upstream.url),
                            "mode": mode, "username": "token", "password": up_token, "index_ttl_seconds": 1})),
            )
            .await?;
        assert_eq!(st, StatusCode::CREATED, "{u}");
    }
    // Through the proxy: the upstream's versions, their dists pointed at this repository.
    let (st, meta) = get_json(&s, "/acme/proxy/composer/p2/acme/remote.json").await?;
    assert_eq!(st, StatusCode::OK, "{meta}");
    let versions = meta["packages"]["acme/remote"]
        .as_array()
        .ok_or("versions")?;
    assert_eq!(versions.len(), 2, "{meta}");
    for v in versions {
        let url = v["dist"]["url"].as_str().unwrap_or_default();
        assert!(
            url.starts_with(&format!("{}/acme/proxy/composer/dists/acme/remote/", s.url)),
            "{url}"
        );
    }
    let (_, root_doc) = get_json(&s, "/acme/proxy/composer/packages.json").await?;
    assert!(root_doc.get("available-packages").is_none(), "{root_doc}");
    let (st, _) = get_json(&s, "/acme/proxy/composer/p2/acme/nonesuch.json").await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // composer installs through the cache repository, which keeps what it served.
    let composer = ComposerClient::new(&format!("{}/acme/cache/composer", s.url))?;
    let app = composer.project("app", &[("acme/remote", "^1.0")])?;
    composer.ok(&app, "1", &["install"])?;
    let check = "echo \\Acme\\Remote\\Greeter::greet(), PHP_EOL;";
    assert_eq!(run_php(&app, check)?, "remote 1.1.0\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    let cached = loop {
        let (_, list) = s
            .admin(
                Method::GET,
                "/api/v1/packages/acme/cache?query=format:composer",
                None,
            )
            .await?;
        let found = list.as_array().and_then(|a| {
            a.iter()
                .find(|p| p["version"] == "1.1.0" && p["sync_status"] == "completed")
        });
        if let Some(p) = found {
            break p["slug_perm"].as_str().ok_or("slug")?.to_owned();
        }
        if Instant::now() > deadline {
            return Err(format!("the dist was never cached: {list}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Yanked here, the cached version is not listed again from the upstream's copy.
    let yank = format!("/api/v1/packages/acme/cache/{cached}/yank");
    let (st, _) = s
        .admin(Method::POST, &yank, Some(json!({"yanked": true})))
        .await?;
    assert_eq!(st, StatusCode::OK);
    let meta = "/acme/cache/composer/p2/acme/remote.json";
    assert_eq!(listed(&s, meta, "acme/remote").await?, ["1.0.0"]);
    let (st, _) = s
        .admin(Method::POST, &yank, Some(json!({"yanked": false})))
        .await?;
    assert_eq!(st, StatusCode::OK);

    // The upstream goes down: metadata is served stale, the cached dist still installs, and
    // the proxy-only repository cannot serve a dist it never kept.
    upstream.terminate()?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut now = listed(
        &s,
        "/acme/cache/composer/p2/acme/remote.json",
        "acme/remote",
    )
    .await?;
    now.sort();
    assert_eq!(now, ["1.0.0", "1.1.0"]);
    std::fs::remove_dir_all(app.join("vendor"))?;
    composer.ok(&app, "2", &["install"])?;
    assert_eq!(run_php(&app, check)?, "remote 1.1.0\n");
    let resp = s
        .req(
            Method::GET,
            "/acme/proxy/composer/dists/acme/remote/1.0.0.zip",
            None,
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    Ok(())
}
