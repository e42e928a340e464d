//! Principals, grants, per-repository minimums, entitlements, address rules, audit log and
//! rate limiting, through the API and the CLI.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{assert_error, TestResult, TestServer, ADMIN};

async fn login(s: &TestServer, user: &str, password: &str) -> TestResult<String> {
    let (st, body) = s
        .call(
            Method::POST,
            "/api/v1/login",
            None,
            Some(json!({"username": user, "password": password})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    Ok(body["token"].as_str().ok_or("token")?.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_teams_and_service_accounts_get_what_they_are_granted() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "prod", true).await?;
    let (st, user) = s
        .admin(
            Method::POST,
            "/api/v1/users",
            Some(json!({"name": "alice", "password": "correct horse"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{user}");
    assert_eq!(user["reference"], "user:alice");
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/users",
            Some(json!({"name": "bob", "password": "short"})),
        )
        .await?;
    assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");

    // The password is stored as an argon2 hash, never in clear.
    if crate::common::backend() == "sqlite" {
        let db = std::fs::read(s.data_dir.path().join("gantry.db"))?;
        let wal = std::fs::read(s.data_dir.path().join("gantry.db-wal")).unwrap_or_default();
        for bytes in [&db, &wal] {
            assert!(!bytes.windows(13).any(|w| w == b"correct horse"));
        }
        assert!(
            wal.windows(9).any(|w| w == b"$argon2id") || db.windows(9).any(|w| w == b"$argon2id")
        );
    }

    // Logged in, alice has no grants yet: private repositories do not exist for her.
    let alice = login(&s, "alice", "correct horse").await?;
    let (st, _) = s
        .call(Method::GET, "/api/v1/packages/acme/dev", Some(&alice), None)
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/login",
            None,
            Some(json!({"username": "alice", "password": "nope nope"})),
        )
        .await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Through a team she gets write on acme/dev only.
    let admin = Some(ADMIN);
    s.cli_ok(admin, &["teams", "create", "acme/devs"])?;
    s.cli_ok(admin, &["teams", "add-member", "acme/devs", "alice"])?;
    s.cli_ok(
        admin,
        &["privileges", "grant", "acme/dev", "team:devs", "write"],
    )?;
    let (st, _) = s
        .upload_raw_as(&alice, "acme/dev", "app", "1", "a", b"x")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = s
        .upload_raw_as(&alice, "acme/prod", "app", "1", "a", b"x")
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let teams = s.cli_ok(admin, &["teams", "ls", "acme", "-F", "json"])?;
    let teams: Value = serde_json::from_str(&teams)?;
    assert_eq!(teams[0]["members"], json!(["user:alice"]));
    let grants = s.cli_ok(admin, &["privileges", "ls", "acme"])?;
    assert!(
        grants.contains("team:acme/devs") && grants.contains("write"),
        "{grants}"
    );

    // Removing her from the team removes the privilege at once, even for her old token.
    s.cli_ok(admin, &["teams", "remove-member", "acme/devs", "alice"])?;
    let (st, _) = s
        .upload_raw_as(&alice, "acme/dev", "app", "2", "a", b"y")
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // A service account for CI, with a token narrowed to acme/dev.
    s.cli_ok(admin, &["service-accounts", "create", "acme/ci"])?;
    s.cli_ok(
        admin,
        &["privileges", "grant", "acme", "service:ci", "write"],
    )?;
    let out = s.cli_ok(
        admin,
        &[
            "tokens",
            "create",
            "acme/dev",
            "--principal",
            "service:acme/ci",
            "-F",
            "json",
        ],
    )?;
    let ci: Value = serde_json::from_str(&out)?;
    let ci_token = ci["token"].as_str().ok_or("token")?;
    let (st, who) = s
        .call(Method::GET, "/api/v1/whoami", Some(ci_token), None)
        .await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(who["principal"], "service:acme/ci");
    let (st, p) = s
        .upload_raw_as(ci_token, "acme/dev", "tool", "1", "t", b"t")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    assert!(
        p["uploader"]
            .as_str()
            .is_some_and(|u| u.starts_with("service:acme/ci")),
        "{p}"
    );
    let (st, _) = s
        .upload_raw_as(ci_token, "acme/prod", "tool", "1", "t", b"t")
        .await?;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "the token is narrowed to acme/dev"
    );

    // Tokens are listed by prefix only, and revoked tokens stop working.
    let listed = s.cli_ok(admin, &["tokens", "ls", "acme", "-F", "json"])?;
    assert!(!listed.contains(ci_token), "secrets are never listed");
    let listed: Value = serde_json::from_str(&listed)?;
    assert!(
        listed
            .as_array()
            .is_some_and(|l| l.iter().any(|t| t["id"] == ci["id"])),
        "{listed}"
    );
    s.cli_ok(admin, &["tokens", "revoke", &ci["id"].to_string()])?;
    let (st, _) = s
        .call(Method::GET, "/api/v1/whoami", Some(ci_token), None)
        .await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // A user logs in with the CLI; the token lands in a private config file.
    let out = s.cli_with_env(
        None,
        &[("GANTRY_PASSWORD", "correct horse")],
        &["login", "--username", "alice"],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let who = s.cli_ok(None, &["whoami"])?;
    assert!(who.starts_with("user:alice"), "{who}");
    let mine = s.cli_ok(None, &["tokens", "ls", "-F", "json"])?;
    let mine: Value = serde_json::from_str(&mine)?;
    assert!(mine.as_array().is_some_and(|l| l.len() >= 2), "{mine}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operation_minimum_is_configurable_per_repository() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "prod", true).await?;
    let write = s.token("acme", "write").await?;
    let (st, _) = s
        .upload_raw_as(&write, "acme/prod", "a", "1", "a", b"x")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "repos",
            "update",
            "acme/prod",
            "--permission",
            "push=admin",
            "--permission",
            "copy_into=admin",
            "-F",
            "json",
        ],
    )?;
    let repo: Value = serde_json::from_str(&out)?;
    assert_eq!(repo["permissions"]["push"], "admin");
    assert_eq!(repo["permissions"]["delete"], "admin");
    assert_eq!(repo["permissions"]["read"], "read");
    let (st, body) = s
        .upload_raw_as(&write, "acme/prod", "a", "2", "a", b"y")
        .await?;
    assert_error(st, &body, StatusCode::FORBIDDEN, "forbidden");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("push needs the admin privilege")));
    let (_, p) = s
        .upload_raw_as(&write, "acme/dev", "a", "1", "a", b"z")
        .await?;
    let slug = p["slug_perm"].as_str().ok_or("slug")?;
    let (st, _) = s
        .call(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/copy"),
            Some(&write),
            Some(json!({"destination": "prod"})),
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Lowering a minimum works too: writers may delete in dev.
    s.cli_ok(
        Some(ADMIN),
        &[
            "repos",
            "update",
            "acme/dev",
            "--permission",
            "delete=write",
        ],
    )?;
    let (st, _) = s
        .call(
            Method::DELETE,
            &format!("/api/v1/packages/acme/dev/{slug}"),
            Some(&write),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = s
        .admin(
            Method::PATCH,
            "/api/v1/repos/acme/dev",
            Some(json!({"permissions": {"fly": "read"}})),
        )
        .await?;
    assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
    // Anonymous callers never mutate, whatever the minimums say.
    s.admin(
        Method::PATCH,
        "/api/v1/repos/acme/dev",
        Some(json!({"private": false, "permissions": {"push": "read"}})),
    )
    .await?;
    let (st, _) = s
        .upload_raw_as("", "acme/dev", "anon", "1", "a", b"x")
        .await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entitlements_are_read_only_counted_and_revocable() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "prod", true).await?;
    s.create_repo("acme", "dev", true).await?;
    s.upload_raw("acme/prod", "app", "1", "app.bin", b"release")
        .await?;
    s.upload_raw("acme/dev", "app", "1", "app.bin", b"dev")
        .await?;
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "entitlements",
            "create",
            "acme/prod",
            "--max-downloads",
            "2",
            "--description",
            "customer-1",
            "-F",
            "json",
        ],
    )?;
    let ent: Value = serde_json::from_str(&out)?;
    let token = ent["token"].as_str().ok_or("token")?;
    let url = format!("{}/acme/prod/raw/app/1/app.bin", s.url);
    for _ in 0..2 {
        let resp = s
            .http
            .get(&url)
            .basic_auth("customer", Some(token))
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.bytes().await?.as_ref(), b"release");
    }
    let resp = s
        .http
        .get(&url)
        .basic_auth("customer", Some(token))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "the budget is spent");
    let list = s.cli_ok(
        Some(ADMIN),
        &["entitlements", "ls", "acme/prod", "-F", "json"],
    )?;
    let list: Value = serde_json::from_str(&list)?;
    assert_eq!(list[0]["download_count"], 2);
    assert_eq!(list[0]["max_downloads"], 2);
    assert_eq!(list[0]["kind"], "entitlement");
    // Read-only, and only for its repository.
    let (st, _) = s
        .upload_raw_as(token, "acme/prod", "x", "1", "x", b"x")
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .call(
            Method::GET,
            "/acme/dev/raw/app/1/app.bin",
            Some(token),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .call(Method::GET, "/api/v1/packages/acme/prod", Some(token), None)
        .await?;
    assert_eq!(st, StatusCode::OK);

    let (_, unlimited) = s
        .admin(
            Method::POST,
            "/api/v1/entitlements/acme/prod",
            Some(json!({"expires_in_days": 30})),
        )
        .await?;
    let unlimited_token = unlimited["token"].as_str().ok_or("token")?;
    let (st, _) = s
        .call(
            Method::GET,
            "/acme/prod/raw/app/1/app.bin",
            Some(unlimited_token),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    s.cli_ok(
        Some(ADMIN),
        &["entitlements", "revoke", &unlimited["id"].to_string()],
    )?;
    let (st, _) = s
        .call(
            Method::GET,
            "/acme/prod/raw/app/1/app.bin",
            Some(unlimited_token),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlists_guard_packages_but_never_lock_out_admins() -> TestResult {
    let s = TestServer::builder()
        .arg("--trusted-proxies")
        .arg("127.0.0.1/32")
        .start()?;
    s.create_repo("acme", "staging", true).await?;
    s.upload_raw("acme/staging", "app", "1", "a.bin", b"staged")
        .await?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "repos",
            "update",
            "acme/staging",
            "--ip-allowlist",
            "10.0.0.0/8,2001:db8::/32",
            "--ip-denylist",
            "10.66.0.0/16",
        ],
    )?;
    let admin = s.token("acme", "admin").await?;
    let read = s.token("acme", "read").await?;
    let get = |token: String, from: &'static str, path: &'static str| {
        let req = s
            .req(Method::GET, path, Some(&token))
            .header("x-forwarded-for", from);
        async move {
            let resp = req.send().await?;
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            TestResult::Ok((status, body))
        }
    };
    let raw = "/acme/staging/raw/app/1/a.bin";
    assert_eq!(get(read.clone(), "10.1.2.3", raw).await?.0, StatusCode::OK);
    assert_eq!(
        get(read.clone(), "2001:db8::7", raw).await?.0,
        StatusCode::OK
    );
    let (st, body) = get(read.clone(), "192.0.2.1", raw).await?;
    assert_error(st, &body, StatusCode::FORBIDDEN, "forbidden");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("192.0.2.1") && m.contains("allowlist")));
    let (st, body) = get(read.clone(), "10.66.1.1", raw).await?;
    assert_error(st, &body, StatusCode::FORBIDDEN, "forbidden");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("denylist")));
    // The package API and uploads obey the list too.
    assert_eq!(
        get(read.clone(), "192.0.2.1", "/api/v1/packages/acme/staging")
            .await?
            .0,
        StatusCode::FORBIDDEN
    );
    let (st, _) = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/staging/upload/raw?name=b&version=1&filename=b",
            Some(&admin),
        )
        .header("x-forwarded-for", "192.0.2.1")
        .body("b")
        .send()
        .await
        .map(|r| (r.status(), ()))?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Its admin can still fix the list from outside it.
    let (st, body) = get(admin.clone(), "192.0.2.1", "/api/v1/repos/acme/staging").await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["ip_allowlist"], json!(["10.0.0.0/8", "2001:db8::/32"]));
    let resp = s
        .req(Method::PATCH, "/api/v1/repos/acme/staging", Some(&admin))
        .header("x-forwarded-for", "192.0.2.1")
        .json(&json!({"ip_allowlist": ["10.0.0.0/8", "192.0.2.0/24"]}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(get(read.clone(), "192.0.2.1", raw).await?.0, StatusCode::OK);
    let (st, body) = s
        .admin(
            Method::PATCH,
            "/api/v1/repos/acme/staging",
            Some(json!({"ip_allowlist": ["10.0.0.0/33"]})),
        )
        .await?;
    assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_ignored_without_trusted_proxies() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "staging", true).await?;
    s.admin(
        Method::PATCH,
        "/api/v1/repos/acme/staging",
        Some(json!({"ip_allowlist": ["10.0.0.0/8"]})),
    )
    .await?;
    let read = s.token("acme", "read").await?;
    // The client claims to be inside; the socket says 127.0.0.1, which is outside.
    let resp = s
        .req(Method::GET, "/api/v1/packages/acme/staging", Some(&read))
        .header("x-forwarded-for", "10.1.2.3")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_records_mutations_and_denials() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let write = s.token("acme", "write").await?;
    let (_, p) = s
        .upload_raw_as(&write, "acme/dev", "app", "1", "a", b"x")
        .await?;
    let slug = p["slug_perm"].as_str().ok_or("slug")?;
    let (st, _) = s
        .call(
            Method::DELETE,
            &format!("/api/v1/packages/acme/dev/{slug}"),
            Some(&write),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    s.admin(
        Method::PUT,
        "/api/v1/privileges/acme",
        Some(json!({"principal": "user:ghost", "privilege": "read"})),
    )
    .await?;
    s.admin(
        Method::POST,
        "/api/v1/webhooks/acme/dev",
        Some(json!({"target_url": "http://127.0.0.1:9/", "events": ["*"], "is_active": false})),
    )
    .await?;

    let (st, all) = s.admin(Method::GET, "/api/v1/audit/acme", None).await?;
    assert_eq!(st, StatusCode::OK);
    let types: Vec<&str> = all
        .as_array()
        .ok_or("array")?
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    for t in [
        "repository.created",
        "token.created",
        "package.created",
        "request.denied",
        "webhook.created",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    let denied = s.cli_ok(
        Some(ADMIN),
        &["audit", "acme", "--event", "request.denied", "-F", "json"],
    )?;
    let denied: Value = serde_json::from_str(&denied)?;
    let first = &denied[0];
    assert!(
        first["actor"]
            .as_str()
            .is_some_and(|a| a.contains("write token")),
        "{first}"
    );
    assert_eq!(first["context"]["status"], 403);
    assert_eq!(first["context"]["method"], "DELETE");
    assert!(first["context"]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("delete needs")));
    // Filters: actor, and a time range that excludes everything.
    let by_actor = s.cli_ok(
        Some(ADMIN),
        &["audit", "acme", "--actor", "write token", "-F", "json"],
    )?;
    let by_actor: Value = serde_json::from_str(&by_actor)?;
    assert!(by_actor.as_array().is_some_and(|l| !l.is_empty()
        && l.iter().all(|e| e["actor"]
            .as_str()
            .is_some_and(|a| a.contains("write token")))));
    let (_, none) = s
        .admin(
            Method::GET,
            "/api/v1/audit/acme?until=2000-01-01T00:00:00Z",
            None,
        )
        .await?;
    assert_eq!(none, json!([]));
    let (st, body) = s
        .admin(Method::GET, "/api/v1/audit/acme?since=yesterday", None)
        .await?;
    assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (st, _) = s
        .call(Method::GET, "/api/v1/audit/acme", Some(&write), None)
        .await?;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "the audit log is for namespace admins"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentication_is_rate_limited_per_address() -> TestResult {
    let s = TestServer::builder()
        .arg("--auth-failure-limit")
        .arg("3")
        .arg("--auth-failure-window-seconds")
        .arg("60")
        .start()?;
    for _ in 0..2 {
        let (st, _) = s
            .call(Method::GET, "/api/v1/whoami", Some("gty_wrong"), None)
            .await?;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let resp = s
        .req(Method::GET, "/api/v1/whoami", Some("gty_wrong"))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=60).contains(&retry));
    let body: Value = resp.json().await?;
    assert_eq!(body["error"]["code"], "too_many_requests");
    // A valid token from that address still works (CI runners share addresses behind NAT),
    // while bad tokens keep getting 429; anonymous requests are not affected.
    let (st, _) = s
        .call(Method::GET, "/api/v1/whoami", Some(ADMIN), None)
        .await?;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s
        .call(Method::GET, "/api/v1/whoami", Some("gty_wrong"), None)
        .await?;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    let (st, _) = s.call(Method::GET, "/api/v1/whoami", None, None).await?;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/login",
            None,
            Some(json!({"username": "x", "password": "yyyyyyyy"})),
        )
        .await?;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_are_limited_per_64() -> TestResult {
    let s = TestServer::builder()
        .arg("--auth-failure-limit")
        .arg("2")
        .arg("--trusted-proxies")
        .arg("127.0.0.1/32")
        .start()?;
    let from = |address: &'static str, token: &'static str| {
        s.req(Method::GET, "/api/v1/whoami", Some(token))
            .header("x-forwarded-for", address)
            .send()
    };
    assert_eq!(
        from("2001:db8:5:6::1", "gty_wrong").await?.status(),
        StatusCode::UNAUTHORIZED
    );
    // Another address of the same /64 is the same client.
    assert_eq!(
        from("2001:db8:5:6::2", "gty_wrong").await?.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        from("2001:db8:5:6:ffff::3", "gty_wrong").await?.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        from("2001:db8:5:7::1", "gty_wrong").await?.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        from("2001:db8:5:6::2", ADMIN).await?.status(),
        StatusCode::OK
    );
    Ok(())
}
