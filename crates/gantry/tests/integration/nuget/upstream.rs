//! NuGet upstreams: a second Gantry's feed behind a repository in cache mode. nuget.exe
//! installs through it (the `.nupkg` is kept as a package of the repository on the way);
//! when the upstream goes down the registration is served stale and the cached package
//! still installs.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::client::{installed, printed, Nuget};
use crate::common::{TestResult, TestServer, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_exe_installs_through_an_upstream_feed_and_survives_its_outage() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let mut upstream = TestServer::start()?;
    upstream.create_repo("up", "feed", true).await?;
    let c = Nuget::new()?;
    let pkg = c.pack("Remote.Lib", "3.1")?;
    upstream.cli_ok(Some(ADMIN), &["push", "nuget", "up/feed", &pkg])?;
    let up_token = upstream.token("up/feed", "read").await?;

    let s = TestServer::start()?;
    s.create_repo("acme", "cache", false).await?;
    let (st, u) = s
        .admin(
            Method::POST,
            "/api/v1/repos/acme/cache/upstreams",
            Some(json!({"format": "nuget", "name": "up", "url": format!("{}/up/feed/nuget/v3", upstream.url),
                        "mode": "cache", "username": "gantry", "password": up_token, "index_ttl_seconds": 1})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    let feed = format!("{}/acme/cache/nuget/v3/index.json", s.url);
    let out = c.install("Remote.Lib", None, &["-Source", &feed])?;
    assert!(installed(&out, "Remote.Lib", "3.1.0"), "{}", printed(&out));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = s
            .admin(
                Method::GET,
                "/api/v1/packages/acme/cache?query=format:nuget",
                None,
            )
            .await?;
        if list
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["version"] == "3.1.0"))
        {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the package was never cached: {list}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A package the upstream does not have is not found.
    let r = s
        .req(
            Method::GET,
            "/acme/cache/nuget/v3/flat/nonesuch/index.json",
            None,
        )
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The upstream goes down: the cached package is still found and installed.
    upstream.terminate()?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let out = c.install("Remote.Lib", None, &["-Source", &feed])?;
    assert!(installed(&out, "Remote.Lib", "3.1.0"), "{}", printed(&out));
    Ok(())
}
