//! The auth baseline: tokens, privileges, private repositories.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{assert_error, TestResult, TestServer, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileges_gate_every_operation() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "staging", true).await?;
    s.create_repo("acme", "public", false).await?;
    s.create_repo("other", "secret", true).await?;
    let read = s.token("acme", "read").await?;
    let write = s.token("acme", "write").await?;
    let admin = s.token("acme", "admin").await?;
    let other = s.token("other", "admin").await?;
    let dev_only = s.token("acme/dev", "write").await?;

    // Unauthenticated writes: 401. Read tokens: 403.
    let (st, body) = s
        .upload_raw_as("", "acme/public", "a", "1", "a", b"x")
        .await?;
    assert_error(st, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (st, body) = s
        .upload_raw_as(&read, "acme/dev", "a", "1", "a", b"x")
        .await?;
    assert_error(st, &body, StatusCode::FORBIDDEN, "forbidden");
    let (st, p) = s
        .upload_raw_as(&write, "acme/dev", "a", "1", "a", b"x")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    assert!(
        p["uploader"]
            .as_str()
            .is_some_and(|u| u.contains("write token for acme")),
        "{p}"
    );
    let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();

    // Private repositories are invisible to strangers: 404, as if they did not exist.
    for token in [None, Some(other.as_str())] {
        let (st, body) = s
            .call(Method::GET, "/api/v1/packages/acme/dev", token, None)
            .await?;
        assert_error(st, &body, StatusCode::NOT_FOUND, "not_found");
        let (st, _) = s
            .call(Method::GET, "/acme/dev/raw/a/1/a", token, None)
            .await?;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = s
            .call(Method::GET, "/api/v1/repos/acme/dev", token, None)
            .await?;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
    let (st, list) = s
        .call(Method::GET, "/api/v1/repos/acme", None, None)
        .await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "only the public repository: {list}"
    );
    let (st, _) = s
        .call(Method::GET, "/api/v1/packages/acme/public", None, None)
        .await?;
    assert_eq!(
        st,
        StatusCode::OK,
        "public repositories are readable anonymously"
    );
    let (st, _) = s
        .call(Method::GET, "/api/v1/packages/acme/dev", Some(&read), None)
        .await?;
    assert_eq!(st, StatusCode::OK);

    // Copy needs read on the source and write on the destination; move needs admin on the
    // source; delete needs admin.
    let copy = |token: String, dest: &'static str| {
        let path = format!("/api/v1/packages/acme/dev/{slug}/copy");
        let s = &s;
        async move {
            s.call(
                Method::POST,
                &path,
                Some(&token),
                Some(json!({"destination": dest})),
            )
            .await
        }
    };
    let (st, _) = copy(read.clone(), "staging").await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = copy(dev_only.clone(), "staging").await?;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "a token scoped to acme/dev cannot see acme/staging"
    );
    let (st, body) = copy(write.clone(), "staging").await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, _) = s
        .call(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/move"),
            Some(&write),
            Some(json!({"destination": "public"})),
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .call(
            Method::DELETE,
            &format!("/api/v1/packages/acme/dev/{slug}"),
            Some(&write),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .call(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/move"),
            Some(&admin),
            Some(json!({"destination": "public"})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK);

    // Repository administration needs admin on the namespace.
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/repos/acme",
            Some(&write),
            Some(json!({"name": "x"})),
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/repos/acme",
            Some(&admin),
            Some(json!({"name": "x"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/repos/newns",
            Some(&admin),
            Some(json!({"name": "x"})),
        )
        .await?;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "only site admins create namespaces"
    );
    let (st, _) = s
        .call(
            Method::PATCH,
            "/api/v1/repos/acme/dev",
            Some(&write),
            Some(json!({"private": false})),
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Tokens: only admins of the scope mint them; bad tokens are 401 even on public data.
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&write),
            Some(json!({"scope": "acme", "privilege": "read"})),
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"scope": "other", "privilege": "read"})),
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, body) = s
        .call(
            Method::GET,
            "/api/v1/packages/acme/public",
            Some("gty_bogus"),
            None,
        )
        .await?;
    assert_error(st, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_clients_may_send_the_token_as_basic_password_or_bare() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let (st, _) = s.upload_raw("acme/dev", "a", "1", "a.txt", b"hi").await?;
    assert_eq!(st, StatusCode::CREATED);
    let read = s.token("acme", "read").await?;
    let url = format!("{}/acme/dev/raw/a/1/a.txt", s.url);
    let basic = s
        .http
        .get(&url)
        .basic_auth("anyone", Some(&read))
        .send()
        .await?;
    assert_eq!(basic.status(), StatusCode::OK);
    let bare = s
        .http
        .get(&url)
        .header("authorization", &read)
        .send()
        .await?;
    assert_eq!(bare.status(), StatusCode::OK);
    let key = s.http.get(&url).header("x-api-key", &read).send().await?;
    assert_eq!(key.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_shown_once_scoped_and_expire() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "tokens",
            "create",
            "acme/dev",
            "--privilege",
            "write",
            "--expires-in-days",
            "1",
            "-F",
            "json",
        ],
    )?;
    let created: serde_json::Value = serde_json::from_str(&out)?;
    let token = created["token"].as_str().ok_or("token")?;
    assert!(token.starts_with("gty_") && token.len() >= 40);
    assert!(created["expires_at"].is_string());
    let (st, who) = s
        .call(Method::GET, "/api/v1/whoami", Some(token), None)
        .await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(who["scope"], "acme/dev");
    assert_eq!(who["privilege"], "write");

    // The secret is not stored: the database holds only hashes.
    if crate::common::backend() == "sqlite" {
        let db = std::fs::read(s.data_dir.path().join("gantry.db"))?;
        let wal = std::fs::read(s.data_dir.path().join("gantry.db-wal")).unwrap_or_default();
        let needle = token.as_bytes();
        for bytes in [&db, &wal] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "secret stored in clear"
            );
        }
    }

    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"scope": "acme", "privilege": "root"})),
        )
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"scope": "acme", "privilege": "read", "expires_in_days": 0})),
        )
        .await?;
    assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"scope": "ghost", "privilege": "read"})),
        )
        .await?;
    assert_error(st, &body, StatusCode::NOT_FOUND, "not_found");

    // `gantry login` saves the token for later commands in a private file.
    let cfg = s.data_dir.path().join("client-config").join("config.toml");
    let out = s.cli(None, &["login", "--api-key", token])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&cfg)?.permissions().mode() & 0o777, 0o600);
    }
    let who = s.cli_ok(None, &["whoami"])?;
    assert!(who.contains("write token for acme/dev"), "{who}");
    Ok(())
}
