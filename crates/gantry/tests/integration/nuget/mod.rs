//! NuGet with the real nuget.exe (5.8, under mono): pack, push, search, install and delete
//! (unlist) against a server the test starts; versions normalised and listed as nuget sees
//! them; refusals printed with Gantry's message; hostile packages refused with nothing
//! stored; promotion, quarantine and unlisting reflected in the feed; private feeds with
//! `packageSourceCredentials`, read tokens, other repositories' tokens and entitlements.

mod client;
mod scan;
mod symbols;
mod upstream;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{TestResult, TestServer, ADMIN};
use client::{installed, nupkg, printed, Nuget};

async fn get_json(
    s: &TestServer,
    path: &str,
    token: Option<&str>,
) -> TestResult<(StatusCode, Value)> {
    let r = s.req(Method::GET, path, token).send().await?;
    let status = r.status();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

async fn package_count(s: &TestServer, repo: &str) -> TestResult<usize> {
    let (_, list) = s
        .admin(Method::GET, &format!("/api/v1/packages/{repo}"), None)
        .await?;
    Ok(list.as_array().map_or(0, Vec::len))
}

/// Misses of the derived-document cache so far (each one a database read).
async fn derived_misses(s: &TestServer) -> TestResult<f64> {
    let text = s
        .req(Method::GET, "/metrics", None)
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .find(|l| l.starts_with("gantry_cache_lookups_total{cache=\"derived\",result=\"miss\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_exe_pushes_searches_installs_and_unlists() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    s.create_repo("acme", "prod", false).await?;
    let c = Nuget::new()?;
    let feed = format!("{}/acme/dev/nuget/v3/index.json", s.url);
    let prod = format!("{}/acme/prod/nuget/v3/index.json", s.url);
    let src = ["-Source", feed.as_str()];

    // "1.0" is version 1.0.0 to NuGet; a SemVer 2 pre-release beside it.
    let v1 = c.pack("Hello.World", "1.0")?;
    let beta = c.pack("Hello.World", "1.1.0-Beta.1")?;
    for pkg in [&v1, &beta] {
        let out = c.ok(&["push", pkg, "-Source", &feed, "-ApiKey", ADMIN])?;
        assert!(out.contains("Your package was pushed"), "{out}");
    }
    // A second push of a version is a conflict nuget explains with Gantry's message.
    let again = c.fails(&["push", &v1, "-Source", &feed, "-ApiKey", ADMIN])?;
    assert!(
        again.contains("409") && again.contains("already exists in acme/dev"),
        "{again}"
    );
    // A read token may not push: refused with the reason.
    let read = s.token("acme/dev", "read").await?;
    let refused = c.fails(&["push", &beta, "-Source", &feed, "-ApiKey", &read])?;
    assert!(refused.contains("403 ("), "{refused}");

    let (st, flat) = get_json(&s, "/acme/dev/nuget/v3/flat/HELLO.WORLD/index.json", None).await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        flat["versions"],
        serde_json::json!(["1.0.0", "1.1.0-beta.1"])
    );
    let found = c.ok(&["search", "hello", "-Source", &feed])?;
    assert!(found.contains("Hello.World | 1.0.0"), "{found}");
    let found = c.ok(&["search", "hello", "-Source", &feed, "-PreRelease"])?;
    assert!(found.contains("Hello.World | 1.1.0-Beta.1"), "{found}");

    // Nothing changed: reading the feed's documents again costs no database read.
    for path in [
        "/acme/dev/nuget/v3/registration/hello.world/index.json",
        "/acme/dev/nuget/v3/flat/hello.world/index.json",
        "/acme/dev/nuget/v3/query?q=hello",
    ] {
        get_json(&s, path, None).await?;
    }
    let misses = derived_misses(&s).await?;
    for _ in 0..3 {
        get_json(
            &s,
            "/acme/dev/nuget/v3/registration/hello.world/index.json",
            None,
        )
        .await?;
        get_json(&s, "/acme/dev/nuget/v3/query?q=hello", None).await?;
    }
    assert_eq!(derived_misses(&s).await?, misses);

    // The newest stable version is installed.
    let out = c.install("Hello.World", None, &src)?;
    assert!(installed(&out, "Hello.World", "1.0.0"), "{}", printed(&out));

    // nuget delete unlists: gone from search and from "latest", still installable by version.
    c.ok(&[
        "delete",
        "Hello.World",
        "1.0.0",
        "-Source",
        &feed,
        "-ApiKey",
        ADMIN,
    ])?;
    let found = c.ok(&["search", "hello", "-Source", &feed])?;
    assert!(found.contains("No results found"), "{found}");
    let (_, leaf) = get_json(
        &s,
        "/acme/dev/nuget/v3/registration/hello.world/1.0.0.json",
        None,
    )
    .await?;
    assert_eq!(leaf["listed"], false, "{leaf}");
    let out = c.install("Hello.World", Some("1.0.0"), &src)?;
    assert!(installed(&out, "Hello.World", "1.0.0"), "{}", printed(&out));
    // An outsider's delete is refused with Gantry's message.
    let refused = c.fails(&[
        "delete",
        "Hello.World",
        "1.1.0-beta.1",
        "-Source",
        &feed,
        "-ApiKey",
        &read,
    ])?;
    assert!(refused.contains("403 ("), "{refused}");

    // Hostile packages are refused with the reason, and nothing is stored.
    let before = package_count(&s, "acme/dev").await?;
    let evil = c.path("Evil.1.0.0.nupkg");
    std::fs::write(
        &evil,
        nupkg("Evil", "1.0.0", &[("../../escape.txt", b"x")])?,
    )?;
    let refused = c.fails(&[
        "push",
        &evil.display().to_string(),
        "-Source",
        &feed,
        "-ApiKey",
        ADMIN,
    ])?;
    assert!(
        refused.contains("400 (") && refused.contains("escapes the archive"),
        "{refused}"
    );
    assert_eq!(package_count(&s, "acme/dev").await?, before);

    // Promotion: a copy installs from prod; quarantined there, nuget prints the reason.
    let (_, list) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=version:1.1.0-beta.1",
            None,
        )
        .await?;
    let slug = list[0]["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let copied = s.cli_ok(Some(ADMIN), &["cp", &format!("acme/dev/{slug}"), "prod"])?;
    let prod_src = ["-Source", prod.as_str(), "-PreRelease"];
    let out = c.install("Hello.World", None, &prod_src)?;
    assert!(
        installed(&out, "Hello.World", "1.1.0-Beta.1"),
        "{}",
        printed(&out)
    );
    s.cli_ok(
        Some(ADMIN),
        &[
            "quarantine",
            "add",
            &format!("acme/prod/{}", copied.trim()),
            "--reason",
            "held for review NU-1",
        ],
    )?;
    let out = c.install("Hello.World", Some("1.1.0-Beta.1"), &["-Source", &prod])?;
    assert!(
        printed(&out).contains("held for review NU-1"),
        "{}",
        printed(&out)
    );
    // Moved out of dev: its feed no longer has it.
    s.cli_ok(
        Some(ADMIN),
        &[
            "quarantine",
            "remove",
            &format!("acme/prod/{}", copied.trim()),
        ],
    )?;
    s.cli_ok(
        Some(ADMIN),
        &["delete", &format!("acme/prod/{}", copied.trim())],
    )?;
    let (st, _) = get_json(&s, "/acme/prod/nuget/v3/flat/hello.world/index.json", None).await?;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "a deleted version leaves the feed"
    );
    s.cli_ok(
        Some(ADMIN),
        &["promote", "acme/dev", "prod", &slug, "--move"],
    )?;
    let (_, flat) = get_json(&s, "/acme/dev/nuget/v3/flat/hello.world/index.json", None).await?;
    assert_eq!(flat["versions"], serde_json::json!(["1.0.0"]));
    let found = c.ok(&["search", "hello", "-Source", &prod, "-PreRelease"])?;
    assert!(found.contains("Hello.World | 1.1.0-Beta.1"), "{found}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_exe_uses_private_feeds_with_package_source_credentials() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "private", true).await?;
    s.create_repo("acme", "other", true).await?;
    let c = Nuget::new()?;
    let url = format!("{}/acme/private/nuget/v3/index.json", s.url);
    let admin_config = c.config("admin.config", &url, Some(ADMIN))?;
    let pkg = c.pack("Secret.Lib", "2.0.0")?;
    c.ok(&[
        "push",
        &pkg,
        "-Source",
        "gantry",
        "-ConfigFile",
        &admin_config,
        "-ApiKey",
        ADMIN,
    ])?;

    // Anonymous: challenged, and nuget prints Gantry's message.
    let anonymous = c.config("anonymous.config", &url, None)?;
    let out = c.install("Secret.Lib", None, &["-ConfigFile", &anonymous])?;
    assert!(
        printed(&out).contains("401 (authentication required for the NuGet feed acme/private"),
        "{}",
        printed(&out)
    );
    // Another repository's token sees nothing.
    let other = s.token("acme/other", "read").await?;
    let other_config = c.config("other.config", &url, Some(&other))?;
    let out = c.install("Secret.Lib", None, &["-ConfigFile", &other_config])?;
    assert!(
        !out.status.success() && printed(&out).contains("404"),
        "{}",
        printed(&out)
    );
    // A read token and an entitlement token install.
    let read = s.token("acme/private", "read").await?;
    let read_config = c.config("read.config", &url, Some(&read))?;
    let out = c.install("Secret.Lib", None, &["-ConfigFile", &read_config])?;
    assert!(installed(&out, "Secret.Lib", "2.0.0"), "{}", printed(&out));
    let made = s.cli_ok(
        Some(ADMIN),
        &["entitlements", "create", "acme/private", "-F", "json"],
    )?;
    let entitlement: Value = serde_json::from_str(&made)?;
    let ent_config = c.config(
        "entitlement.config",
        &url,
        Some(entitlement["token"].as_str().ok_or("token")?),
    )?;
    let out = c.install("Secret.Lib", None, &["-ConfigFile", &ent_config])?;
    assert!(installed(&out, "Secret.Lib", "2.0.0"), "{}", printed(&out));
    // The read token may not unlist.
    let refused = c.fails(&[
        "delete",
        "Secret.Lib",
        "2.0.0",
        "-Source",
        "gantry",
        "-ConfigFile",
        &read_config,
        "-ApiKey",
        &read,
    ])?;
    assert!(refused.contains("403 ("), "{refused}");
    Ok(())
}
