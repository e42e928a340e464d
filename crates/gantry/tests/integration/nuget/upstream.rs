//! NuGet upstreams: a second Gantry's feed behind a repository in `cache` mode and another in
//! `proxy` mode. nuget.exe installs through both (in `cache` mode the `.nupkg` is kept as a
//! package of the repository on the way). When the upstream goes down, both serve its
//! registrations and flat-container versions stale; the cached package still installs, and an
//! uncached one fails with Gantry's message, which nuget.exe prints.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::client::{installed, printed, Nuget};
use super::get_json;
use crate::common::{TestResult, TestServer, ADMIN};

/// Adds the upstream `up` (the feed `up/feed` of `upstream`, read with `token`) to `repo`,
/// its documents kept for a second.
pub(super) async fn add_upstream(
    s: &TestServer,
    repo: &str,
    upstream: &TestServer,
    token: &str,
    mode: &str,
) -> TestResult {
    let (st, u) = s
        .admin(
            Method::POST,
            &format!("/api/v1/repos/{repo}/upstreams"),
            Some(json!({"format": "nuget", "name": "up", "url": format!("{}/up/feed/nuget/v3", upstream.url),
                        "mode": mode, "username": "gantry", "password": token, "index_ttl_seconds": 1})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    Ok(())
}

/// The versions a feed shows of `remote.lib`: its flat container's, and its registration's.
async fn versions(s: &TestServer, repo: &str) -> TestResult<(Value, Vec<Value>)> {
    let (st, flat) = get_json(
        s,
        &format!("/{repo}/nuget/v3/flat/remote.lib/index.json"),
        None,
    )
    .await?;
    assert_eq!(st, StatusCode::OK, "{flat}");
    let (st, reg) = get_json(
        s,
        &format!("/{repo}/nuget/v3/registration/remote.lib/index.json"),
        None,
    )
    .await?;
    assert_eq!(st, StatusCode::OK, "{reg}");
    let listed = reg["items"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|page| page["items"].as_array().cloned().unwrap_or_default())
        .map(|leaf| leaf["catalogEntry"]["version"].clone())
        .collect();
    Ok((flat["versions"].clone(), listed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_exe_installs_through_an_upstream_feed_and_survives_its_outage() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let mut upstream = TestServer::start()?;
    upstream.create_repo("up", "feed", true).await?;
    let c = Nuget::new()?;
    for version in ["3.1", "3.2"] {
        let pkg = c.pack("Remote.Lib", version)?;
        upstream.cli_ok(Some(ADMIN), &["push", "nuget", "up/feed", &pkg])?;
    }
    let up_token = upstream.token("up/feed", "read").await?;

    let s = TestServer::start()?;
    s.create_repo("acme", "cache", false).await?;
    s.create_repo("acme", "proxy", false).await?;
    add_upstream(&s, "acme/cache", &upstream, &up_token, "cache").await?;
    add_upstream(&s, "acme/proxy", &upstream, &up_token, "proxy").await?;
    let cache = format!("{}/acme/cache/nuget/v3/index.json", s.url);
    let proxy = format!("{}/acme/proxy/nuget/v3/index.json", s.url);
    let out = c.install("Remote.Lib", Some("3.1.0"), &["-Source", &cache])?;
    assert!(installed(&out, "Remote.Lib", "3.1.0"), "{}", printed(&out));
    let out = c.install("Remote.Lib", Some("3.1.0"), &["-Source", &proxy])?;
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
    // Proxy mode keeps no package.
    let (_, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/proxy", None)
        .await?;
    assert_eq!(list, json!([]));
    let both = (
        json!(["3.1.0", "3.2.0"]),
        vec![json!("3.1.0"), json!("3.2.0")],
    );
    assert_eq!(versions(&s, "acme/cache").await?, both);
    assert_eq!(versions(&s, "acme/proxy").await?, both);

    // A package the upstream does not have is not found.
    let (st, _) = get_json(&s, "/acme/cache/nuget/v3/flat/nonesuch/index.json", None).await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // The upstream goes down, and the kept documents are older than their TTL.
    upstream.terminate()?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Both repositories serve the upstream's versions stale, 3.2.0 (never fetched) included.
    assert_eq!(versions(&s, "acme/cache").await?, both);
    assert_eq!(versions(&s, "acme/proxy").await?, both);
    // Cache mode: the package installed before still installs.
    let out = c.install("Remote.Lib", Some("3.1.0"), &["-Source", &cache])?;
    assert!(installed(&out, "Remote.Lib", "3.1.0"), "{}", printed(&out));
    // Proxy mode: a package it does not hold cannot be fetched; nuget.exe says why.
    let out = c.install("Remote.Lib", Some("3.2.0"), &["-Source", &proxy])?;
    assert!(!out.status.success(), "{}", printed(&out));
    assert!(
        printed(&out).contains("502 (upstream up failed"),
        "{}",
        printed(&out)
    );
    Ok(())
}

/// The ids of a search or autocomplete answer's `data`.
fn ids(answer: &Value) -> Vec<String> {
    answer["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|hit| hit["id"].as_str().or(hit.as_str()).map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_exe_searches_an_upstream_feed_beside_the_repository() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let mut upstream = TestServer::start()?;
    upstream.create_repo("up", "feed", true).await?;
    let c = Nuget::new()?;
    for (id, version) in [
        ("Remote.Lib", "3.1"),
        ("Shared.Lib", "1.0"),
        ("Preview.Lib", "1.0.0-beta"),
    ] {
        let pkg = c.pack(id, version)?;
        upstream.cli_ok(Some(ADMIN), &["push", "nuget", "up/feed", &pkg])?;
    }
    let up_token = upstream.token("up/feed", "read").await?;
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    add_upstream(&s, "acme/dev", &upstream, &up_token, "proxy").await?;
    for (id, version) in [("Local.Lib", "1.0"), ("Shared.Lib", "2.0")] {
        let pkg = c.pack(id, version)?;
        s.cli_ok(Some(ADMIN), &["push", "nuget", "acme/dev", &pkg])?;
    }
    let feed = format!("{}/acme/dev/nuget/v3/index.json", s.url);

    // The upstream's packages are found beside the repository's; the repository's
    // Shared.Lib wins over the upstream's, and pre-releases need -PreRelease.
    let found = c.ok(&["search", "lib", "-Source", &feed])?;
    for hit in [
        "Local.Lib | 1.0.0",
        "Remote.Lib | 3.1.0",
        "Shared.Lib | 2.0.0",
    ] {
        assert!(found.contains(hit), "{hit}: {found}");
    }
    assert!(!found.contains("Shared.Lib | 1.0.0"), "{found}");
    assert!(!found.contains("Preview.Lib"), "{found}");
    let found = c.ok(&["search", "lib", "-Source", &feed, "-PreRelease"])?;
    assert!(found.contains("Preview.Lib | 1.0.0-beta"), "{found}");

    // skip and take page the merged list, ordered by id; the hits point into this feed.
    let (_, page) = get_json(&s, "/acme/dev/nuget/v3/query?q=lib&skip=1&take=1", None).await?;
    assert_eq!(page["totalHits"], 3, "{page}");
    assert_eq!(ids(&page), ["Remote.Lib"]);
    assert_eq!(
        page["data"][0]["registration"],
        format!(
            "{}/acme/dev/nuget/v3/registration/remote.lib/index.json",
            s.url
        )
    );
    let (_, names) = get_json(&s, "/acme/dev/nuget/v3/autocomplete?q=lib", None).await?;
    assert_eq!(ids(&names), ["Local.Lib", "Remote.Lib", "Shared.Lib"]);
    let (_, versions) = get_json(&s, "/acme/dev/nuget/v3/autocomplete?id=shared.lib", None).await?;
    assert_eq!(versions["data"], json!(["1.0.0", "2.0.0"]));

    // The upstream goes down: what it answered is answered stale; a query it never
    // answered finds the repository's packages alone.
    upstream.terminate()?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let found = c.ok(&["search", "lib", "-Source", &feed])?;
    assert!(found.contains("Remote.Lib | 3.1.0"), "{found}");
    let (st, only) = get_json(&s, "/acme/dev/nuget/v3/query?q=local", None).await?;
    assert_eq!(st, StatusCode::OK, "{only}");
    assert_eq!(ids(&only), ["Local.Lib"]);
    Ok(())
}
