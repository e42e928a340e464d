//! Cargo upstreams: a second Gantry as the upstream of a private repository, in proxy and
//! cache mode, with real cargo building through the cache, and an outage during which the
//! index is served stale and cached crates keep being served.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::cargo::{fixture, CargoClient};
use crate::common::{TestResult, TestServer, ADMIN};

async fn add_upstream(s: &TestServer, repo: &str, body: Value) -> TestResult<Value> {
    let (st, u) = s
        .admin(
            Method::POST,
            &format!("/api/v1/repos/{repo}/upstreams"),
            Some(body),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    Ok(u)
}

async fn get(s: &TestServer, path: &str) -> TestResult<(StatusCode, Vec<u8>)> {
    let resp = s
        .req(Method::GET, path, None)
        .header("authorization", ADMIN)
        .send()
        .await?;
    let status = resp.status();
    Ok((status, resp.bytes().await?.to_vec()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cargo_upstreams_proxy_cache_and_survive_an_outage() -> TestResult {
    let mut upstream = TestServer::start()?;
    upstream.create_repo("up", "crates", true).await?;
    for file in [
        "itoa-1.0.11.crate",
        "serde_json-1.0.100.crate",
        "smallvec-1.6.0.crate",
    ] {
        let path = fixture(file).display().to_string();
        upstream.cli_ok(Some(ADMIN), &["push", "cargo", "up/crates", &path])?;
    }
    let up_token = upstream.token("up", "read").await?;
    let index = format!("{}/up/crates/cargo/index/", upstream.url);

    let s = TestServer::start()?;
    s.create_repo("acme", "proxy", true).await?;
    s.create_repo("acme", "cache", true).await?;
    for (repo, mode) in [("acme/proxy", "proxy"), ("acme/cache", "cache")] {
        add_upstream(
            &s,
            repo,
            json!({"format": "cargo", "name": "up", "url": index, "mode": mode,
                   "username": "token", "password": up_token, "index_ttl_seconds": 1}),
        )
        .await?;
    }

    // The index file comes through, cksum and all; the download matches it.
    let itoa = std::fs::read(fixture("itoa-1.0.11.crate"))?;
    let (st, body) = get(&s, "/acme/proxy/cargo/index/it/oa/itoa").await?;
    assert_eq!(st, StatusCode::OK);
    let line: Value = serde_json::from_slice(body.trim_ascii())?;
    assert_eq!(line["vers"], "1.0.11");
    assert_eq!(line["cksum"], crate::common::sha256_hex(&itoa));
    let (st, bytes) = get(&s, "/acme/proxy/cargo/api/v1/crates/itoa/1.0.11/download").await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(bytes, itoa);
    let (st, _) = get(&s, "/acme/proxy/cargo/index/no/ne/nonesuch").await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Real cargo builds through the cache repository, which keeps what it served.
    let read = s.token("acme", "read").await?;
    let client = CargoClient::new(&format!("{}/acme/cache/cargo/index/", s.url))?;
    let app = client.work.path().join("uses-itoa");
    std::fs::create_dir_all(app.join("src"))?;
    std::fs::write(
        app.join("Cargo.toml"),
        "[package]\nname = \"uses-itoa\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nitoa = { version = \"=1.0.11\", registry = \"gantry\" }\n",
    )?;
    std::fs::write(
        app.join("src/main.rs"),
        "fn main() {\n    println!(\"{}\", itoa::Buffer::new().format(42u8));\n}\n",
    )?;
    let printed = client.ok(&app, Some(&read), &["run", "-q"])?;
    assert_eq!(printed.trim(), "42");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = s
            .admin(
                Method::GET,
                "/api/v1/packages/acme/cache?query=name:itoa",
                None,
            )
            .await?;
        let cached = list
            .as_array()
            .or(list["results"].as_array())
            .is_some_and(|a| {
                a.iter()
                    .any(|p| p["version"] == "1.0.11" && p["format"] == "cargo")
            });
        if cached {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("itoa was never cached: {list}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // With --local-names-only, a crate published locally hides the upstream's versions of the
    // same name (dependency confusion), while other names still come through.
    s.create_repo("acme", "guarded", true).await?;
    add_upstream(
        &s,
        "acme/guarded",
        json!({"format": "cargo", "name": "up", "url": index, "mode": "proxy",
               "username": "token", "password": up_token, "local_names_only": true}),
    )
    .await?;
    let write = s.token("acme", "write").await?;
    let guarded = CargoClient::new(&format!("{}/acme/guarded/cargo/index/", s.url))?;
    let own = guarded.lib("itoa", "0.0.1", 1)?;
    guarded.ok(
        &own,
        Some(&write),
        &[
            "publish",
            "--registry",
            "gantry",
            "--no-verify",
            "--allow-dirty",
        ],
    )?;
    let (_, body) = get(&s, "/acme/guarded/cargo/index/it/oa/itoa").await?;
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("\"0.0.1\"") && !text.contains("1.0.11"),
        "{text}"
    );
    let (st, _) = get(&s, "/acme/guarded/cargo/index/se/rd/serde_json").await?;
    assert_eq!(st, StatusCode::OK);

    // Also warm the proxy's index of serde_json before the outage.
    let (st, _) = get(&s, "/acme/proxy/cargo/index/se/rd/serde_json").await?;
    assert_eq!(st, StatusCode::OK);

    // Outage: stale index files, cached crates; proxied downloads fail cleanly.
    upstream.terminate()?;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (st, body) = get(&s, "/acme/proxy/cargo/index/se/rd/serde_json").await?;
    assert_eq!(st, StatusCode::OK, "stale index while the upstream is down");
    assert!(String::from_utf8_lossy(&body).contains("1.0.100"));
    let (st, bytes) = get(&s, "/acme/cache/cargo/api/v1/crates/itoa/1.0.11/download").await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(bytes, itoa);
    let (st, _) = get(
        &s,
        "/acme/proxy/cargo/api/v1/crates/serde_json/1.0.100/download",
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_GATEWAY);
    let (st, _) = get(&s, "/acme/proxy/cargo/index/sm/al/smallvec").await?;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "never fetched, nothing to serve stale"
    );
    // cargo still resolves and builds from the cache with the upstream gone.
    std::fs::remove_file(app.join("Cargo.lock"))?;
    let fresh = CargoClient::new(&format!("{}/acme/cache/cargo/index/", s.url))?;
    let printed = fresh.ok(&app, Some(&read), &["run", "-q"])?;
    assert_eq!(printed.trim(), "42");
    Ok(())
}
