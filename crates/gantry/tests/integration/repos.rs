//! Repository administration.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{assert_error, TestResult, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_get_update_delete() -> TestResult {
    let s = TestServer::start()?;
    let created = s.create_repo("acme", "dev", true).await?;
    assert_eq!(created["slug"], "acme/dev");
    assert_eq!(created["private"], true);
    s.create_repo("acme", "staging", false).await?;

    let (status, body) = s
        .admin(
            Method::POST,
            "/api/v1/repos/acme",
            Some(json!({"name": "dev"})),
        )
        .await?;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");

    let (status, list) = s.admin(Method::GET, "/api/v1/repos/acme", None).await?;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = list
        .as_array()
        .ok_or("not an array")?
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["dev", "staging"]);

    let (status, repo) = s.admin(Method::GET, "/api/v1/repos/acme/dev", None).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(repo["package_count"], 0);

    let (status, repo) = s
        .admin(
            Method::PATCH,
            "/api/v1/repos/acme/dev",
            Some(json!({"description": "builds", "private": false})),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{repo}");
    assert_eq!(repo["description"], "builds");
    assert_eq!(repo["private"], false);

    // A repository that holds packages is only deleted when forced.
    let (status, _) = s.upload_raw("acme/dev", "app", "1", "a.bin", b"x").await?;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = s
        .admin(Method::DELETE, "/api/v1/repos/acme/dev", None)
        .await?;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, _) = s
        .admin(Method::DELETE, "/api/v1/repos/acme/dev?force=true", None)
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.admin(Method::GET, "/api/v1/repos/acme/dev", None).await?;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, _) = s
        .admin(Method::DELETE, "/api/v1/repos/acme/staging", None)
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_validated() -> TestResult {
    let s = TestServer::start()?;
    for (owner, name) in [
        ("acme", "Dev"),
        ("acme", "-dev"),
        ("acme", "a b"),
        ("acme", ""),
        ("api", "dev"),
        ("v2", "dev"),
        ("Acme", "dev"),
    ] {
        let (status, body) = s
            .admin(
                Method::POST,
                &format!("/api/v1/repos/{owner}"),
                Some(json!({ "name": name })),
            )
            .await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{owner}/{name}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
    }
    let (status, body) = s
        .admin(
            Method::POST,
            "/api/v1/repos/acme",
            Some(json!({ "nome": "dev" })),
        )
        .await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let resp = s
        .req(
            Method::POST,
            "/api/v1/repos/acme",
            Some(crate::common::ADMIN),
        )
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(body["error"]["code"], "bad_request");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_manages_repositories() -> TestResult {
    let s = TestServer::start()?;
    let admin = Some(crate::common::ADMIN);
    s.cli_ok(
        admin,
        &["repos", "create", "acme/dev", "--description", "builds"],
    )?;
    s.cli_ok(admin, &["repos", "create", "acme/prod", "--public"])?;
    let json = s.cli_ok(admin, &["repos", "ls", "acme", "-F", "json"])?;
    let list: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert_eq!(list[1]["private"], false);
    let text = s.cli_ok(admin, &["ls", "repos", "acme"])?;
    assert!(
        text.contains("acme/dev [private]") && text.contains("builds"),
        "{text}"
    );
    let out = s.cli(admin, &["repos", "create", "acme/Bad"])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lowercase"));
    Ok(())
}
