//! Retention rules: keep the newest N per name and delete by age and query; the dry run
//! lists what a run then soft-deletes, packages promoted onwards are kept, deletions are in
//! the trail, and a scheduled round applies the rules without being asked.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};

async fn upload(s: &TestServer, name: &str, version: &str) -> TestResult<String> {
    let (st, p) = s
        .upload_raw(
            "acme/dev",
            name,
            version,
            &format!("{name}-{version}.bin"),
            format!("{name} {version}").as_bytes(),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    Ok(p["slug_perm"].as_str().ok_or("slug")?.to_owned())
}

/// The `name version` of the live packages of acme/dev, sorted.
async fn live(s: &TestServer) -> TestResult<Vec<String>> {
    let (_, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev?page_size=100", None)
        .await?;
    let mut out: Vec<String> = list
        .as_array()
        .ok_or("list")?
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap_or("?"),
                p["version"].as_str().unwrap_or("?")
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

/// A CLI call with `-F json`, its output parsed.
fn cli_json(s: &TestServer, args: &[&str]) -> TestResult<Value> {
    let mut args = args.to_vec();
    args.extend(["-F", "json"]);
    Ok(serde_json::from_str(&s.cli_ok(Some(ADMIN), &args)?)?)
}

fn slugs(result: &Value) -> Vec<String> {
    let mut out: Vec<String> = result["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["slug_perm"].as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_dry_run_lists_what_a_run_soft_deletes() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "staging", true).await?;
    let mut app = Vec::new();
    for v in ["1", "2", "3", "4", "5"] {
        app.push(upload(&s, "app", v).await?);
    }
    let lib = upload(&s, "lib", "1.0").await?;
    // app 2 was promoted onwards: kept although it is beyond the newest two.
    s.cli_ok(
        Some(ADMIN),
        &["cp", &format!("acme/dev/{}", app[1]), "staging"],
    )?;

    s.cli_ok(
        Some(ADMIN),
        &[
            "retention",
            "create",
            "acme/dev",
            "--name",
            "keep2",
            "--keep-last",
            "2",
        ],
    )?;
    let listed = s.cli_ok(Some(ADMIN), &["retention", "ls", "acme/dev"])?;
    assert!(
        listed.contains("keep2") && listed.contains("keep last 2"),
        "{listed}"
    );

    // Only admins may run rules; readers may list them.
    let reader = s.token("acme/dev", "read").await?;
    let (st, _) = s
        .call(
            Method::GET,
            "/api/v1/repos/acme/dev/retention",
            Some(&reader),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/repos/acme/dev/retention/run",
            Some(&reader),
            Some(json!({"dry_run": true})),
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);

    let before = live(&s).await?;
    let dry = cli_json(&s, &["retention", "run", "acme/dev", "--dry-run"])?;
    let mut expected = vec![app[0].clone(), app[2].clone()];
    expected.sort();
    assert_eq!(slugs(&dry), expected, "{dry}");
    assert_eq!(live(&s).await?, before, "a dry run deletes nothing");

    let done: Value = cli_json(&s, &["retention", "run", "acme/dev"])?;
    assert_eq!(slugs(&done), expected, "{done}");
    assert_eq!(live(&s).await?, ["app 2", "app 4", "app 5", "lib 1.0"]);
    // Soft: in the trail with the rule's name, and restorable.
    let (_, trail) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{}/events", app[0]),
            None,
        )
        .await?;
    let deleted = trail
        .as_array()
        .and_then(|t| t.iter().find(|e| e["event"] == "package.deleted"))
        .ok_or("no package.deleted in the trail")?;
    assert_eq!(deleted["actor"], "retention:keep2", "{deleted}");
    s.cli_ok(Some(ADMIN), &["restore", &format!("acme/dev/{}", app[0])])?;
    // Restored, app 1 is beyond the newest two again: the next run takes it again.
    let again: Value = cli_json(&s, &["retention", "run", "acme/dev"])?;
    assert_eq!(slugs(&again), [app[0].clone()]);

    // By age and query: only lib matches, and it is older than 0 days.
    s.cli_ok(
        Some(ADMIN),
        &[
            "retention",
            "create",
            "acme/dev",
            "--name",
            "old-libs",
            "--older-than-days",
            "0",
            "-q",
            "name:lib",
        ],
    )?;
    let done: Value = cli_json(&s, &["retention", "run", "acme/dev"])?;
    assert_eq!(slugs(&done), [lib]);
    assert_eq!(live(&s).await?, ["app 2", "app 4", "app 5"]);

    // Both criteria must hold: keep none, but only what is a century old — nothing goes.
    s.cli_ok(
        Some(ADMIN),
        &[
            "retention",
            "create",
            "acme/dev",
            "--name",
            "both",
            "--keep-last",
            "0",
            "--older-than-days",
            "36500",
        ],
    )?;
    let none = cli_json(&s, &["retention", "run", "acme/dev", "--dry-run"])?;
    assert_eq!(slugs(&none), Vec::<String>::new(), "{none}");

    // A rule needs a criterion.
    let (st, _) = s
        .admin(
            Method::POST,
            "/api/v1/repos/acme/dev/retention",
            Some(json!({"name": "nothing"})),
        )
        .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let rules: Value = cli_json(&s, &["retention", "ls", "acme/dev"])?;
    let id = rules[0]["id"].as_i64().ok_or("id")?;
    s.cli_ok(
        Some(ADMIN),
        &["retention", "delete", "acme/dev", &id.to_string()],
    )?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_runs_as_a_scheduled_job() -> TestResult {
    let s = TestServer::builder()
        .env("GANTRY_RETENTION_INTERVAL_SECONDS", "1")
        .start()?;
    s.create_repo("acme", "dev", true).await?;
    for v in ["1", "2", "3"] {
        upload(&s, "app", v).await?;
    }
    s.cli_ok(
        Some(ADMIN),
        &[
            "retention",
            "create",
            "acme/dev",
            "--name",
            "keep1",
            "--keep-last",
            "1",
        ],
    )?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = live(&s).await?;
        if now == ["app 3"] {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the scheduled round did not apply the rule: {now:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
