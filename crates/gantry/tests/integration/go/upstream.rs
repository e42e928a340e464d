//! Go upstreams: a second Gantry as the module proxy behind a repository, in proxy and cache
//! mode, with go building through the cache, and an outage during which lists are served
//! stale and cached modules keep being served.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::client::{get_text, module_dir, GoClient};
use crate::common::{TestResult, TestServer, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_upstreams_proxy_cache_and_survive_an_outage() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let mut upstream = TestServer::start()?;
    upstream.create_repo("up", "mods", true).await?;
    let root = tempfile::tempdir()?;
    for version in ["v1.0.0", "v1.1.0"] {
        let dir = module_dir(
            root.path(),
            version,
            Some("example.com/Upstream"),
            &format!("upstream {version}"),
        )?;
        upstream.cli_ok(
            Some(ADMIN),
            &[
                "push",
                "go",
                "up/mods",
                &dir.display().to_string(),
                "--version",
                version,
            ],
        )?;
    }
    let up_token = upstream.token("up/mods", "read").await?;

    let s = TestServer::start()?;
    for (repo, mode) in [("proxy", "proxy"), ("cache", "cache")] {
        s.create_repo("acme", repo, false).await?;
        let (st, u) = s
            .admin(
                Method::POST,
                &format!("/api/v1/repos/acme/{repo}/upstreams"),
                Some(json!({"format": "go", "name": "up", "url": format!("{}/up/mods/go", upstream.url),
                            "mode": mode, "username": "gantry", "password": up_token, "index_ttl_seconds": 1})),
            )
            .await?;
        assert_eq!(st, StatusCode::CREATED, "{u}");
    }
    let (st, list) = get_text(&s, "/acme/proxy/go/example.com/!upstream/@v/list").await?;
    assert_eq!((st, list.as_str()), (StatusCode::OK, "v1.0.0\nv1.1.0\n"));
    let (_, latest) = get_text(&s, "/acme/proxy/go/example.com/!upstream/@latest").await?;
    assert_eq!(serde_json::from_str::<Value>(&latest)?["Version"], "v1.1.0");
    let (st, _) = get_text(&s, "/acme/proxy/go/example.com/nonesuch/@v/list").await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // go builds through the cache repository, which keeps what it served as packages.
    let go = GoClient::new(&format!("{}/acme/cache/go", s.url))?;
    let app = go.program("app", &[("example.com/Upstream", "v1.1.0")])?;
    assert_eq!(go.ok(&app, "1", &["run", "."])?, "upstream v1.1.0\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    let cached = loop {
        let (_, list) = s
            .admin(
                Method::GET,
                "/api/v1/packages/acme/cache?query=format:go",
                None,
            )
            .await?;
        if let Some(p) = list
            .as_array()
            .and_then(|a| a.iter().find(|p| p["version"] == "v1.1.0"))
        {
            break p.clone();
        }
        if Instant::now() > deadline {
            return Err(format!("the module was never cached: {list}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(cached["name"], "example.com/Upstream");
    let go_sum = std::fs::read_to_string(app.join("go.sum"))?;
    assert!(
        go_sum.contains(cached["metadata"]["h1"].as_str().unwrap_or("?")),
        "{go_sum}\n{cached}"
    );

    // The upstream goes down: lists are served stale, the cached module still builds, and the
    // proxy-only repository cannot serve a zip it never kept.
    let (_, before) = get_text(&s, "/acme/cache/go/example.com/!upstream/@v/list").await?;
    assert_eq!(before, "v1.0.0\nv1.1.0\n");
    upstream.terminate()?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (st, list) = get_text(&s, "/acme/cache/go/example.com/!upstream/@v/list").await?;
    assert_eq!((st, list.as_str()), (StatusCode::OK, "v1.0.0\nv1.1.0\n"));
    std::fs::remove_file(app.join("go.sum"))?;
    assert_eq!(go.ok(&app, "2", &["run", "."])?, "upstream v1.1.0\n");
    let (st, _) = get_text(&s, "/acme/proxy/go/example.com/!upstream/@v/v1.0.0.zip").await?;
    assert_eq!(st, StatusCode::BAD_GATEWAY);
    Ok(())
}
