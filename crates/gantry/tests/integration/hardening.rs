//! What an attacker tried: each test reproduces one hole that was found, and fails without
//! its fix.

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{assert_error, TestResult, TestServer, ADMIN};

fn fixture(format: &str, name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(format)
        .join(name)
}

async fn upload(
    s: &TestServer,
    token: &str,
    format: &str,
    query: &[(&str, &str)],
    body: Vec<u8>,
) -> TestResult<(StatusCode, Value)> {
    let resp = s
        .req(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/upload/{format}"),
            Some(token),
        )
        .query(query)
        .body(body)
        .send()
        .await?;
    let status = resp.status();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

async fn state(s: &TestServer, repo: &str, slug: &str) -> TestResult<String> {
    let (_, p) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/{repo}/{slug}"),
            None,
        )
        .await?;
    Ok(p["state"].as_str().unwrap_or_default().to_owned())
}

/// A format, its upload query and its file.
type Case = (&'static str, Vec<(&'static str, &'static str)>, Vec<u8>);

/// A write token republishing a quarantined package's identity must not hand its bytes back
/// as a new, available package: refused (409 naming the quarantine) for every format and for
/// copies; once an admin releases the quarantine, republishing works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn republish_never_replaces_a_quarantined_package() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "staging", true).await?;
    let write = s.token("acme", "write").await?;
    let wheel = "six-1.16.0-py2.py3-none-any.whl";
    let cases: Vec<Case> = vec![
        (
            "raw",
            vec![("name", "app"), ("version", "1"), ("filename", "app.bin")],
            b"quarantined bytes".to_vec(),
        ),
        (
            "python",
            vec![("filename", wheel)],
            std::fs::read(fixture("python", wheel))?,
        ),
        (
            "npm",
            vec![("filename", "is-number-7.0.0.tgz")],
            std::fs::read(fixture("npm", "is-number-7.0.0.tgz"))?,
        ),
        (
            "cargo",
            vec![("filename", "itoa-1.0.11.crate")],
            std::fs::read(fixture("cargo", "itoa-1.0.11.crate"))?,
        ),
    ];
    for (format, query, body) in cases {
        let (st, first) = upload(&s, &write, format, &query, body.clone()).await?;
        assert_eq!(st, StatusCode::CREATED, "{format}: {first}");
        let slug = first["slug_perm"].as_str().ok_or("slug")?.to_owned();
        s.wait_for_sync("acme/dev", &slug).await?;
        let (st, _) = s
            .admin(
                Method::POST,
                &format!("/api/v1/packages/acme/dev/{slug}/quarantine"),
                Some(json!({})),
            )
            .await?;
        assert_eq!(st, StatusCode::OK, "{format}: quarantine");

        // The same bytes and other bytes alike, for the write token and the admin.
        let mut republish = query.clone();
        republish.push(("republish", "true"));
        for token in [write.as_str(), ADMIN] {
            let (st, err) = upload(&s, token, format, &republish, body.clone()).await?;
            assert_error(st, &err, StatusCode::CONFLICT, "conflict");
            let message = err["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("quarantine"), "{format}: {message}");
            assert_eq!(
                state(&s, "acme/dev", &slug).await?,
                "quarantined",
                "{format}"
            );
        }
        // A copy into the quarantined identity is refused alike.
        let (st, staged) = s
            .admin(
                Method::POST,
                &format!("/api/v1/packages/acme/dev/{slug}/quarantine"),
                Some(json!({"release": true})),
            )
            .await?;
        assert_eq!(st, StatusCode::OK, "{staged}");
        let (st, copy) = s
            .admin(
                Method::POST,
                &format!("/api/v1/packages/acme/dev/{slug}/copy"),
                Some(json!({"destination": "staging"})),
            )
            .await?;
        assert_eq!(st, StatusCode::CREATED, "{format}: {copy}");
        let copy_slug = copy["slug_perm"].as_str().ok_or("slug")?.to_owned();
        let (st, _) = s
            .admin(
                Method::POST,
                &format!("/api/v1/packages/acme/staging/{copy_slug}/quarantine"),
                Some(json!({})),
            )
            .await?;
        assert_eq!(st, StatusCode::OK);
        let (st, err) = s
            .admin(
                Method::POST,
                &format!("/api/v1/packages/acme/dev/{slug}/copy"),
                Some(json!({"destination": "staging", "republish": true})),
            )
            .await?;
        assert_error(st, &err, StatusCode::CONFLICT, "conflict");
        assert_eq!(state(&s, "acme/staging", &copy_slug).await?, "quarantined");

        // Released by an admin, the identity can be republished.
        let (st, again) = upload(&s, &write, format, &republish, body).await?;
        assert_eq!(st, StatusCode::CREATED, "{format} after release: {again}");
        assert_eq!(state(&s, "acme/dev", &slug).await?, "deleted", "{format}");
    }
    Ok(())
}

/// A namespace read token sees, through policy simulation and the decision log, only what the
/// read routes would show it: not repositories whose read minimum is admin, nor those whose
/// address rules exclude it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_and_decisions_show_only_readable_repositories() -> TestResult {
    let s = TestServer::start()?;
    for repo in ["dev", "staging", "secret", "walled"] {
        s.create_repo("acme", repo, true).await?;
    }
    let mut slugs = std::collections::HashMap::new();
    for repo in ["dev", "secret", "walled"] {
        let name = format!("{repo}-app");
        let (st, p) = s
            .upload_raw(
                &format!("acme/{repo}"),
                &name,
                "1",
                "app.bin",
                repo.as_bytes(),
            )
            .await?;
        assert_eq!(st, StatusCode::CREATED, "{p}");
        let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
        s.wait_for_sync(&format!("acme/{repo}"), &slug).await?;
        slugs.insert(repo, slug);
    }
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/policies/acme",
            Some(json!({"name": "open", "rego": "package gantry\n"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    // Decisions about each repository: dev → staging (visible), secret → staging and
    // dev → walled (each names a repository the reader may not see).
    for (from, to) in [("dev", "staging"), ("secret", "staging"), ("dev", "walled")] {
        let (st, body) = s
            .admin(
                Method::POST,
                &format!("/api/v1/packages/acme/{from}/{}/copy", slugs[from]),
                Some(json!({"destination": to})),
            )
            .await?;
        assert_eq!(st, StatusCode::CREATED, "{from} → {to}: {body}");
    }
    // Now restrict the two repositories: reading one needs admin, the other admits only
    // 10.0.0.0/8 (the test runs from 127.0.0.1).
    let (st, body) = s
        .admin(
            Method::PATCH,
            "/api/v1/repos/acme/secret",
            Some(json!({"permissions": {"read": "admin"}})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, body) = s
        .admin(
            Method::PATCH,
            "/api/v1/repos/acme/walled",
            Some(json!({"ip_allowlist": ["10.0.0.0/8"]})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    let reader = s.token("acme", "read").await?;

    let (st, sim) = s
        .call(
            Method::POST,
            "/api/v1/policies/acme/open/simulate",
            Some(&reader),
            Some(json!({"query": ""})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{sim}");
    let repos: Vec<&str> = sim["packages"]
        .as_array()
        .ok_or("packages")?
        .iter()
        .filter_map(|p| p["repository"].as_str())
        .collect();
    assert!(repos.contains(&"acme/dev"), "{sim}");
    assert!(
        !repos
            .iter()
            .any(|r| *r == "acme/secret" || *r == "acme/walled"),
        "simulation leaked an unreadable repository: {sim}"
    );
    let text = sim.to_string();
    assert!(
        !text.contains(&slugs["secret"]) && !text.contains(&slugs["walled"]),
        "{sim}"
    );

    let (st, log) = s
        .call(
            Method::GET,
            "/api/v1/policies/acme/decisions",
            Some(&reader),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{log}");
    let entries = log.as_array().ok_or("decisions")?;
    assert_eq!(entries.len(), 1, "only dev → staging may be shown: {log}");
    assert_eq!(entries[0]["repository"], "acme/dev");
    assert_eq!(entries[0]["destination"], "acme/staging");
    // The site admin sees the one about the admin-only repository too; the walled one stays
    // hidden even from it, at this address, as its read routes would be.
    let (_, all) = s
        .admin(Method::GET, "/api/v1/policies/acme/decisions", None)
        .await?;
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");
    // Asking for the hidden repository by name is a 404, as for the read routes.
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/policies/acme/open/simulate",
            Some(&reader),
            Some(json!({"repository": "secret"})),
        )
        .await?;
    assert_ne!(st, StatusCode::OK);
    Ok(())
}

/// An internal service that must stay out of reach: answers every request with a secret.
async fn internal_service() -> TestResult<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let app = axum::Router::new().fallback(|| async { "INTERNAL-SECRET admin=hunter2" });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://127.0.0.1:{port}/"), task))
}

/// With the default configuration, webhooks and upstreams cannot target private, loopback,
/// link-local or unique-local addresses in any spelling; an operator's allow list opens named
/// ranges, the deny list still wins, the metadata address never opens, and what a private
/// receiver answers is shown to site admins only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_targets_refuse_private_networks_unless_allowed() -> TestResult {
    let (internal, task) = internal_service().await?;
    let port = internal
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .ok_or("port")?
        .to_owned();
    let s = TestServer::builder()
        .env("GANTRY_OUTBOUND_ALLOW_NETWORKS", "")
        .start()?;
    s.create_repo("acme", "dev", true).await?;
    let repo_admin = s.token("acme/dev", "admin").await?;
    for target in [
        internal.clone(),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://[::ffff:7f00:1]:{port}/"),
        format!("http://[::127.0.0.1]:{port}/"),
        format!("http://[64:ff9b::7f00:1]:{port}/"),
        format!("http://[2002:7f00:1::]:{port}/"),
        format!("http://[::1]:{port}/"),
        "http://[fe80::1]/".to_owned(),
        "http://[fd00::1]/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        "http://192.168.1.1/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let (st, body) = s
            .call(
                Method::POST,
                "/api/v1/webhooks/acme/dev",
                Some(&repo_admin),
                Some(json!({"target_url": target, "events": ["*"],
                            "extra_header": {"name": "Authorization", "value": "Bearer x"}})),
            )
            .await?;
        assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
        let (st, body) = s
            .call(
                Method::POST,
                "/api/v1/repos/acme/dev/upstreams",
                Some(&repo_admin),
                Some(json!({"format": "python", "name": "up", "url": format!("{target}simple/")})),
            )
            .await?;
        assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
    }
    drop(s);

    // The operator allows loopback and link-local, and denies one loopback port's host range.
    let s = TestServer::builder()
        .env(
            "GANTRY_OUTBOUND_ALLOW_NETWORKS",
            "127.0.0.0/8,169.254.0.0/16",
        )
        .env("GANTRY_WEBHOOK_DENY_NETWORKS", "127.0.0.2/32")
        .start()?;
    s.create_repo("acme", "dev", true).await?;
    let repo_admin = s.token("acme/dev", "admin").await?;
    for refused in [
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::ffff:169.254.169.254]/".to_owned(),
        format!("http://127.0.0.2:{port}/"),
        "http://10.0.0.1/".to_owned(),
    ] {
        let (st, body) = s
            .call(
                Method::POST,
                "/api/v1/webhooks/acme/dev",
                Some(&repo_admin),
                Some(json!({"target_url": refused, "events": ["*"]})),
            )
            .await?;
        assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
    }
    let (st, hook) = s
        .call(
            Method::POST,
            "/api/v1/webhooks/acme/dev",
            Some(&repo_admin),
            Some(json!({"target_url": internal, "events": ["ping"]})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{hook}");
    let id = hook["id"].as_i64().ok_or("id")?;
    let ping = format!("/api/v1/webhooks/acme/dev/{id}/ping");
    let (st, by_repo_admin) = s.call(Method::POST, &ping, Some(&repo_admin), None).await?;
    assert_eq!(st, StatusCode::OK, "{by_repo_admin}");
    assert_eq!(by_repo_admin["status_code"], 200);
    assert!(
        !by_repo_admin.to_string().contains("INTERNAL-SECRET"),
        "a repository admin read a private service: {by_repo_admin}"
    );
    assert_eq!(by_repo_admin["response_excerpt_hidden"], true);
    let deliveries = format!("/api/v1/webhooks/acme/dev/{id}/deliveries");
    let (_, seen) = s
        .call(Method::GET, &deliveries, Some(&repo_admin), None)
        .await?;
    assert!(!seen.to_string().contains("INTERNAL-SECRET"), "{seen}");
    // The site admin, who set the allow list, sees it.
    let (_, by_site_admin) = s.admin(Method::POST, &ping, None).await?;
    assert!(
        by_site_admin["response_excerpt"]
            .as_str()
            .is_some_and(|t| t.contains("INTERNAL-SECRET")),
        "{by_site_admin}"
    );
    let (_, seen) = s.admin(Method::GET, &deliveries, None).await?;
    assert!(seen.to_string().contains("INTERNAL-SECRET"), "{seen}");
    task.abort();
    Ok(())
}
