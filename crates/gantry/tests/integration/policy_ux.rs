//! What policy users see: a gate that quarantines says so, in the API and the CLI; the
//! example policies come with the binary.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_policies_are_built_into_the_binary() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let list = s.cli_ok(None, &["policy", "examples"])?;
    for name in [
        "severity-threshold",
        "licence-allowlist",
        "required-tag",
        "minimum-age",
    ] {
        assert!(list.contains(name), "{list}");
    }
    let source = s.cli_ok(None, &["policy", "examples", "required-tag"])?;
    assert!(source.starts_with("package gantry"), "{source}");
    // Run from a directory without the docs: the example comes from the binary.
    let elsewhere = tempfile::tempdir()?;
    let out = std::process::Command::new(crate::common::bin())
        .current_dir(elsewhere.path())
        .args([
            "policy",
            "create",
            "acme",
            "--example",
            "severity-threshold",
        ])
        .env("GANTRY_URL", &s.url)
        .env("GANTRY_TOKEN", ADMIN)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, policy) = s
        .admin(
            Method::GET,
            "/api/v1/policies/acme/severity-threshold",
            None,
        )
        .await?;
    assert!(
        policy["rego"]
            .as_str()
            .is_some_and(|r| r.contains("blocking := {\"high\", \"critical\", \"unknown\"}")),
        "{policy}"
    );
    let out = s.cli(
        Some(ADMIN),
        &["policy", "create", "acme", "--example", "nope"],
    )?;
    assert!(String::from_utf8_lossy(&out.stderr).contains("severity-threshold"));
    Ok(())
}
