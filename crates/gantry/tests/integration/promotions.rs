//! Bulk promotion: all or nothing, with dry runs.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};

async fn setup() -> TestResult<(TestServer, Vec<String>)> {
    let s = TestServer::start()?;
    for repo in ["dev", "staging"] {
        s.create_repo("acme", repo, true).await?;
    }
    let mut slugs = Vec::new();
    for (i, tags) in ["tested", "tested", "tested,qa", ""].iter().enumerate() {
        let resp = s
            .req(
                Method::POST,
                "/api/v1/packages/acme/dev/upload/raw",
                Some(ADMIN),
            )
            .query(&[
                ("name", "app"),
                ("version", &format!("1.{i}")),
                ("filename", "app.bin"),
                ("tags", tags),
            ])
            .body(format!("build {i}"))
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let p: Value = resp.json().await?;
        let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
        s.wait_for_sync("acme/dev", &slug).await?;
        slugs.push(slug);
    }
    Ok((s, slugs))
}

async fn count(s: &TestServer, repo: &str) -> TestResult<usize> {
    let (_, list) = s
        .admin(Method::GET, &format!("/api/v1/packages/{repo}"), None)
        .await?;
    Ok(list.as_array().map_or(0, Vec::len))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_promotes_all_selected_packages_or_none() -> TestResult {
    let (s, slugs) = setup().await?;
    // Dry run: the plan, and no change.
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "promote",
            "acme/dev",
            "staging",
            "-q",
            "tag:tested",
            "--dry-run",
            "-F",
            "json",
        ],
    )?;
    let plan: Value = serde_json::from_str(&out)?;
    assert_eq!(plan["packages"].as_array().map(Vec::len), Some(3));
    assert!(plan["packages"]
        .as_array()
        .is_some_and(|p| p.iter().all(|i| i["status"] == "would_promote")));
    assert_eq!(count(&s, "acme/staging").await?, 0);

    let (st, done) = s
        .admin(
            Method::POST,
            "/api/v1/promotions",
            Some(json!({"source": "acme/dev", "destination": "staging", "query": "tag:tested"})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{done}");
    assert_eq!(done["promoted"], 3);
    assert_eq!(count(&s, "acme/staging").await?, 3);
    assert_eq!(count(&s, "acme/dev").await?, 4, "a copy leaves the source");

    // A second run conflicts on every package: nothing changes, and each reason is listed.
    let (st, refused) = s
        .admin(
            Method::POST,
            "/api/v1/promotions",
            Some(json!({"source": "acme/dev", "destination": "staging", "query": "name:app"})),
        )
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "unprocessable");
    let items = refused["result"]["packages"].as_array().ok_or("items")?;
    assert_eq!(items.len(), 4);
    assert_eq!(items.iter().filter(|i| i["status"] == "refused").count(), 3);
    assert!(items
        .iter()
        .any(|i| i["status"] == "not_promoted" && i["slug_perm"] == slugs[3]));
    assert_eq!(
        count(&s, "acme/staging").await?,
        3,
        "the fourth was not promoted either"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_blocked_package_blocks_the_move_of_all() -> TestResult {
    let (s, slugs) = setup().await?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "quarantine",
            "add",
            &format!("acme/dev/{}", slugs[1]),
            "--reason",
            "suspicious",
        ],
    )?;
    let out = s.cli(
        Some(ADMIN),
        &[
            "promote",
            "acme/dev",
            "acme/staging",
            &slugs[0],
            &slugs[1],
            &slugs[2],
            "--move",
        ],
    )?;
    assert!(
        !out.status.success(),
        "the CLI fails when the promotion is refused"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("refused") && stdout.contains("suspicious"),
        "{stdout}"
    );
    assert_eq!(count(&s, "acme/staging").await?, 0);
    assert_eq!(count(&s, "acme/dev").await?, 4);

    s.cli_ok(
        Some(ADMIN),
        &["quarantine", "remove", &format!("acme/dev/{}", slugs[1])],
    )?;
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "promote",
            "acme/dev",
            "acme/staging",
            &slugs[0],
            &slugs[1],
            &slugs[2],
            "--move",
            "-F",
            "json",
        ],
    )?;
    let moved: Value = serde_json::from_str(&out)?;
    assert_eq!(moved["promoted"], 3);
    assert_eq!(count(&s, "acme/staging").await?, 3);
    assert_eq!(count(&s, "acme/dev").await?, 1);
    for slug in &slugs[..3] {
        let (st, p) = s
            .admin(
                Method::GET,
                &format!("/api/v1/packages/acme/staging/{slug}"),
                None,
            )
            .await?;
        assert_eq!(st, StatusCode::OK, "a move keeps the slug: {p}");
    }
    // A write token may copy in bulk but not move.
    let write = s.token("acme", "write").await?;
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/promotions",
            Some(&write),
            Some(json!({"source": "acme/staging", "destination": "dev", "slugs": [slugs[0]], "mode": "move"})),
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, body) = s
        .call(
            Method::POST,
            "/api/v1/promotions",
            Some(&write),
            Some(json!({"source": "acme/staging", "destination": "dev", "slugs": [slugs[0]]})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    Ok(())
}
