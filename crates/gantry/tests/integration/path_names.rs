//! Issue 13: handlers take the owner, repository and package of a route through typed
//! extractors. A malformed name answers 400 with the name's own message, in the REST envelope
//! or in the native client's shape; a malformed slug answers like an unknown package; a
//! private repository stays invisible whatever follows it in the path.

use reqwest::{Method, StatusCode};

use crate::common::{assert_error, TestResult, TestServer};

const BAD_OWNER: &str = "owner name 'Acme' may contain only lowercase letters, digits, '-', '_' and '.', and must start with a letter or digit";
const BAD_REPO: &str = "repository name 'Dev' may contain only lowercase letters, digits, '-', '_' and '.', and must start with a letter or digit";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_names_and_slugs_answer_as_before() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    s.create_repo("acme", "secret", true).await?;

    for (path, message) in [
        ("/api/v1/repos/Acme/dev", BAD_OWNER),
        ("/api/v1/repos/acme/Dev/upstreams", BAD_REPO),
        ("/api/v1/packages/Acme/dev/abcdefghijkl", BAD_OWNER),
        ("/api/v1/webhooks/acme/Dev/1", BAD_REPO),
        ("/api/v1/teams/Acme/devs/members/alice", BAD_OWNER),
    ] {
        let method = if path.contains("/teams/") {
            Method::PUT
        } else {
            Method::GET
        };
        let (st, body) = s.admin(method, path, None).await?;
        assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(body["error"]["message"], message, "{path}");
    }

    // A slug that cannot be one answers like a missing package, once the repository is seen.
    let (st, body) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev/not-a-slug", None)
        .await?;
    assert_error(st, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        body["error"]["message"],
        "package not-a-slug not found in acme/dev"
    );
    // A private repository hides everything under it from a stranger, slug or id alike.
    for path in [
        "/api/v1/packages/acme/secret/not-a-slug",
        "/api/v1/packages/acme/secret/abcdefghijkl/vulnerabilities",
        "/api/v1/repos/acme/secret/upstreams/1",
    ] {
        let (st, body) = s.call(Method::GET, path, None, None).await?;
        assert_error(st, &body, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(
            body["error"]["message"], "repository acme/secret not found",
            "{path}"
        );
    }
    // A parameter of the wrong type is still a 400.
    let (st, body) = s
        .admin(Method::GET, "/api/v1/webhooks/acme/dev/seven", None)
        .await?;
    assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");

    // Native routes answer in their client's shape: npm prints `error` as a string, cargo
    // `errors[].detail`.
    let (st, body) = s
        .call(Method::GET, "/Acme/dev/npm/-/ping", None, None)
        .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], BAD_OWNER);
    let (st, body) = s
        .call(Method::GET, "/acme/Dev/cargo/api/v1/crates?q=x", None, None)
        .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"][0]["detail"], BAD_REPO);

    // An upload refused by its path closes the connection, like its other errors.
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/Dev/upload/raw?name=a&version=1&filename=a.txt",
            Some(crate::common::ADMIN),
        )
        .body("content")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.headers()
            .get("connection")
            .and_then(|v| v.to_str().ok()),
        Some("close")
    );
    Ok(())
}
