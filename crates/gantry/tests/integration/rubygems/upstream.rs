//! RubyGems upstreams: a second Gantry's compact index behind a repository, in proxy and
//! cache mode, with Bundler installing through the cache, and an outage during which the
//! index is served stale and cached gems keep being served.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::client::{get_text, Ruby};
use crate::common::{TestResult, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gem_upstreams_proxy_cache_and_survive_an_outage() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let mut upstream = TestServer::start()?;
    upstream.create_repo("up", "gems", true).await?;
    let ruby = Ruby::new()?;
    let up_write = upstream.token("up/gems", "write").await?;
    let up_host = format!("{}/up/gems/rubygems", upstream.url);
    for gem in [
        ruby.build("greet", "0.1.0", &[])?,
        ruby.build("hello", "1.2.0", &[("greet", "~> 0.1")])?,
    ] {
        ruby.push(true, &up_host, &up_write, &gem)?;
    }
    let up_token = upstream.token("up/gems", "read").await?;

    let s = TestServer::start()?;
    for mode in ["proxy", "cache"] {
        s.create_repo("acme", mode, false).await?;
        let (st, u) = s
            .admin(
                Method::POST,
                &format!("/api/v1/repos/acme/{mode}/upstreams"),
                Some(json!({"format": "rubygems", "name": "up", "url": up_host,
                            "mode": mode, "username": "gantry", "password": up_token, "index_ttl_seconds": 1})),
            )
            .await?;
        assert_eq!(st, StatusCode::CREATED, "{u}");
    }
    let (st, versions) = get_text(&s, "/acme/proxy/rubygems/versions", None).await?;
    assert_eq!(st, StatusCode::OK);
    assert!(
        versions.contains("\ngreet 0.1.0 ") && versions.contains("\nhello 1.2.0 "),
        "{versions}"
    );
    let (_, info) = get_text(&s, "/acme/proxy/rubygems/info/hello", None).await?;
    let (_, up_info) = get_text(&upstream, "/up/gems/rubygems/info/hello", Some(&up_token)).await?;
    assert_eq!(info, up_info);
    let (st, _) = get_text(&s, "/acme/proxy/rubygems/info/nonesuch", None).await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Bundler installs through the cache repository, which keeps what it served.
    let cache = format!("{}/acme/cache/rubygems/", s.url);
    let app = ruby.project("1", &cache, &[("hello", "1.2.0")])?;
    ruby.ok(&app, "a", None, "bundle", &["install"])?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = s
            .admin(
                Method::GET,
                "/api/v1/packages/acme/cache?query=format:rubygems",
                None,
            )
            .await?;
        if list.as_array().map(Vec::len) == Some(2) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the gems were never cached: {list}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The upstream goes down: the proxy's index is served stale, the cache still installs,
    // and the proxy-only repository cannot serve a gem it never kept.
    upstream.terminate()?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (st, stale) = get_text(&s, "/acme/proxy/rubygems/versions", None).await?;
    assert_eq!(
        (st, stale.contains("\nhello 1.2.0 ")),
        (StatusCode::OK, true),
        "{stale}"
    );
    let app = ruby.project("2", &cache, &[("hello", "1.2.0")])?;
    let out = ruby.bundle_run(&app, "b", "require 'hello'; puts Hello.hi")?;
    assert_eq!(out, "hello 1.2.0\n");
    let (st, _) = get_text(&s, "/acme/proxy/rubygems/gems/hello-1.2.0.gem", None).await?;
    assert_eq!(st, StatusCode::BAD_GATEWAY);
    Ok(())
}
