//! Copy and move between repositories, and the provenance trail.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{assert_error, files_under, sha256_hex, TestResult, TestServer, ADMIN};

async fn setup() -> TestResult<(TestServer, String, Vec<u8>)> {
    let s = TestServer::start()?;
    for repo in ["dev", "staging", "production"] {
        s.create_repo("acme", repo, true).await?;
    }
    let bytes = b"release artifact 1.0".to_vec();
    let (st, p) = s
        .upload_raw("acme/dev", "app", "1.0", "app.tar", &bytes)
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    Ok((s, p["slug_perm"].as_str().ok_or("slug")?.to_owned(), bytes))
}

async fn download(s: &TestServer, repo: &str) -> TestResult<(StatusCode, Vec<u8>)> {
    let resp = s
        .req(
            Method::GET,
            &format!("/acme/{repo}/raw/app/1.0/app.tar"),
            Some(ADMIN),
        )
        .send()
        .await?;
    Ok((resp.status(), resp.bytes().await?.to_vec()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_makes_a_new_package_on_the_same_blob() -> TestResult {
    if crate::common::blobs_in_s3() {
        return Ok(());
    }
    let (s, slug, bytes) = setup().await?;
    let (st, copy) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/copy"),
            Some(json!({"destination": "staging"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{copy}");
    assert_ne!(copy["slug_perm"], slug, "a copy gets a new slug_perm");
    assert_eq!(copy["repository"], "acme/staging");
    assert_eq!(copy["origin_repository"], "acme/dev");
    assert_eq!(copy["origin_package"]["slug_perm"], slug);
    assert_eq!(copy["origin_package"]["repository"], "acme/dev");
    assert_eq!(copy["checksum_sha256"], sha256_hex(&bytes));
    let (_, original) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}"),
            None,
        )
        .await?;
    for field in [
        "checksum_sha256",
        "checksum_md5",
        "checksum_sha1",
        "checksum_sha512",
        "size",
    ] {
        assert_eq!(copy[field], original[field], "{field}");
    }
    // Both stay downloadable, and there is still exactly one blob.
    assert_eq!(download(&s, "dev").await?, (StatusCode::OK, bytes.clone()));
    assert_eq!(
        download(&s, "staging").await?,
        (StatusCode::OK, bytes.clone())
    );
    assert_eq!(files_under(&s.blobs_dir().join("sha256")).len(), 1);

    // A second copy into the same place conflicts unless republished.
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/copy"),
            Some(json!({"destination": "acme/staging"})),
        )
        .await?;
    assert_error(st, &body, StatusCode::CONFLICT, "conflict");
    let (st, again) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/copy"),
            Some(json!({"destination": "acme/staging", "republish": true})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{again}");
    let (_, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/staging", None)
        .await?;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["slug_perm"], again["slug_perm"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_keeps_the_slug_and_leaves_the_source() -> TestResult {
    let (s, slug, bytes) = setup().await?;
    let (st, moved) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/move"),
            Some(json!({"destination": "staging"})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{moved}");
    assert_eq!(moved["slug_perm"], slug);
    assert_eq!(moved["repository"], "acme/staging");
    assert_eq!(moved["checksum_sha256"], sha256_hex(&bytes));
    assert_eq!(download(&s, "dev").await?.0, StatusCode::NOT_FOUND);
    assert_eq!(download(&s, "staging").await?, (StatusCode::OK, bytes));
    let (_, dev) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(dev.as_array().map(Vec::len), Some(0));
    let (st, _) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, repo) = s.admin(Method::GET, "/api/v1/repos/acme/dev", None).await?;
    assert_eq!(repo["package_count"], 0);
    let (_, repo) = s
        .admin(Method::GET, "/api/v1/repos/acme/staging", None)
        .await?;
    assert_eq!(repo["package_count"], 1);

    // Moving onto an existing identity conflicts and changes nothing.
    let (_, p2) = s
        .upload_raw("acme/dev", "app", "1.0", "app.tar", b"other bytes")
        .await?;
    let slug2 = p2["slug_perm"].as_str().ok_or("slug")?;
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug2}/move"),
            Some(json!({"destination": "staging"})),
        )
        .await?;
    assert_error(st, &body, StatusCode::CONFLICT, "conflict");
    let (_, still) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug2}"),
            None,
        )
        .await?;
    assert_eq!(still["repository"], "acme/dev");

    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/staging/{slug}/move"),
            Some(json!({"destination": "nowhere"})),
        )
        .await?;
    assert_error(st, &body, StatusCode::NOT_FOUND, "not_found");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trail_proves_production_bytes_came_from_dev() -> TestResult {
    let (s, slug, bytes) = setup().await?;
    // dev → staging by copy, staging → production by move, all through the CLI.
    let staged = s.cli_ok(Some(ADMIN), &["cp", &format!("acme/dev/{slug}"), "staging"])?;
    assert_eq!(staged.len(), 12);
    let json = s.cli_ok(
        Some(ADMIN),
        &[
            "mv",
            &format!("acme/staging/{staged}"),
            "acme/production",
            "-F",
            "json",
        ],
    )?;
    let prod: Value = serde_json::from_str(&json)?;
    assert_eq!(prod["slug_perm"], staged);
    assert_eq!(prod["repository"], "acme/production");

    let (st, trail) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/production/{staged}/events"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    let trail = trail.as_array().ok_or("array")?;
    let summary: Vec<(String, String)> = trail
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default().to_owned(),
                e["slug_perm"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("package.created".to_owned(), slug.clone()),
            ("package.syncing".to_owned(), slug.clone()),
            ("package.synced".to_owned(), slug.clone()),
            // (The origin's own record of this copy is left out: the copy's names it.)
            ("package.copied".to_owned(), staged.clone()),
            ("package.moved".to_owned(), staged.clone()),
        ]
    );
    let sum = sha256_hex(&bytes);
    for event in trail {
        assert_eq!(event["checksum_sha256"], sum, "{event}");
        let actor = event["actor"].as_str().unwrap_or_default();
        assert!(actor.contains("admin") || actor.contains("sync"), "{event}");
        assert!(event["occurred_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')));
    }
    assert_eq!(trail[0]["repository"], "acme/dev");
    assert_eq!(trail[3]["source_repository"], "acme/dev");
    assert_eq!(trail[3]["destination_repository"], "acme/staging");
    assert_eq!(trail[4]["source_repository"], "acme/staging");
    assert_eq!(trail[4]["destination_repository"], "acme/production");

    // Later events of the origin are not part of the copy's trail.
    s.admin(
        Method::DELETE,
        &format!("/api/v1/packages/acme/dev/{slug}"),
        None,
    )
    .await?;
    let (_, trail2) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/production/{staged}/events"),
            None,
        )
        .await?;
    assert_eq!(trail2.as_array().map(Vec::len), Some(5));

    let text = s.cli_ok(
        Some(ADMIN),
        &["events", &format!("acme/production/{staged}")],
    )?;
    assert!(
        text.contains("package.moved") && text.contains("acme/staging → acme/production"),
        "{text}"
    );
    Ok(())
}
