//! A promotion gate whose policy asks for quarantine says so, in the API and the CLI.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestResult, TestServer, ADMIN};

const POLICY: &str = r#"package gantry

deny contains "not for staging" if {
	input.destination.name == "staging"
}

quarantine if {
	input.destination.name == "staging"
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_denial_that_quarantines_says_so() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "staging", true).await?;
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/policies/acme",
            Some(json!({"name": "stop", "rego": POLICY, "enabled": true})),
        )
        .await?;
    assert_eq!(st.as_u16(), 201, "{body}");
    let (_, one) = s
        .upload_raw("acme/dev", "one", "1", "one.txt", b"1")
        .await?;
    let (_, two) = s
        .upload_raw("acme/dev", "two", "1", "two.txt", b"2")
        .await?;
    let one = one["slug_perm"].as_str().ok_or("slug")?;
    let two = two["slug_perm"].as_str().ok_or("slug")?;

    // A dry run says it would quarantine, and does not.
    let (st, dry) = s
        .admin(
            Method::POST,
            "/api/v1/promotions",
            Some(json!({"source": "acme/dev", "destination": "staging", "slugs": [two], "dry_run": true})),
        )
        .await?;
    assert_eq!(st.as_u16(), 200, "{dry}");
    assert_eq!(dry["packages"][0]["quarantined"], false, "{dry}");
    assert!(
        dry["packages"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("would be quarantined")),
        "{dry}"
    );

    // The CLI's single copy.
    let out = s.cli(Some(ADMIN), &["cp", &format!("acme/dev/{one}"), "staging"])?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not for staging"), "{err}");
    assert!(err.contains("was quarantined in acme/dev"), "{err}");
    let (_, p) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{one}"),
            None,
        )
        .await?;
    assert_eq!(p["state"], "quarantined", "{p}");

    // The bulk API.
    let (st, bulk) = s
        .admin(
            Method::POST,
            "/api/v1/promotions",
            Some(json!({"source": "acme/dev", "destination": "staging", "slugs": [two]})),
        )
        .await?;
    assert_eq!(st.as_u16(), 422, "{bulk}");
    let item = &bulk["result"]["packages"][0];
    assert_eq!(item["quarantined"], true, "{bulk}");
    assert!(
        item["reason"]
            .as_str()
            .is_some_and(|r| r.contains("was quarantined in acme/dev")),
        "{bulk}"
    );
    Ok(())
}
