//! Hostile and malformed input gets JSON errors with fitting statuses, never a crash.

use reqwest::{Method, StatusCode};

use crate::common::{TestResult, TestServer, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_json_errors() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let cases: &[(Method, &str, Option<&str>, StatusCode)] = &[
        (
            Method::GET,
            "/no/such/route/at/all/really",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/api/v1/packages/acme/dev/short",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/api/v1/packages/acme/dev/..%2F..%2Fetc%2Fpass",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/api/v1/packages/acme/nosuch",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/api/v1/packages/ACME/dev",
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/repos/%FF%FE",
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            "/api/v1/repos/acme",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::POST,
            "/api/v1/packages/acme/dev/AAAAAAAAAAAA/copy",
            Some("{}"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/packages/acme/dev/AAAAAAAAAAAA/copy",
            Some("{\"destination\": "),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/packages/acme/dev/AAAAAAAAAAAA/copy",
            Some("{\"destination\":\"staging\"}"),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/api/v1/tokens",
            Some("{\"scope\":\"../x\",\"privilege\":\"read\"}"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/packages/acme/dev?page=99999999999999999999",
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/packages/acme/dev?query=%00%01",
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/repos/acme",
            Some("{\"name\":\"x\",\"description\":\"a\\u0000b\"}"),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, path, body, want) in cases {
        let mut req = s.req(method.clone(), path, Some(ADMIN));
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        assert_eq!(status, *want, "{method} {path}: {text}");
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{method} {path}: not JSON ({e}): {text}"))?;
        if !status.is_success() {
            assert!(json["error"]["code"].is_string(), "{method} {path}: {json}");
            assert!(
                json["error"]["message"].is_string(),
                "{method} {path}: {json}"
            );
        }
    }
    // Still healthy after all that.
    let resp = s.req(Method::GET, "/healthz", None).send().await?;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_and_odd_names_are_refused_cleanly() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let long = "a".repeat(300);
    for (name, version, filename) in [
        (long.as_str(), "1", "f"),
        ("n", long.as_str(), "f"),
        ("n", "1", long.as_str()),
        ("n\u{0}x", "1", "f"),
        ("n", "1", "a\\b"),
        ("n", "1", "."),
    ] {
        let (st, body) = s
            .upload_raw("acme/dev", name, version, filename, b"x")
            .await?;
        assert_eq!(
            st,
            StatusCode::BAD_REQUEST,
            "{name:?} {version:?} {filename:?}: {body}"
        );
    }
    Ok(())
}
