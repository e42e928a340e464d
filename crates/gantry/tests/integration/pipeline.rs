//! The sync pipeline on the durable job queue: states, separate workers, resync, crash
//! recovery, job listing.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{files_under, TestResult, TestServer, ADMIN};

async fn status(s: &TestServer, repo: &str, slug: &str) -> TestResult<Value> {
    let (st, body) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/{repo}/{slug}/status"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    Ok(body)
}

async fn wait_status(s: &TestServer, repo: &str, slug: &str, want: &str) -> TestResult<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = status(s, repo, slug).await?;
        if body["sync_status"] == want {
            return Ok(body);
        }
        if Instant::now() > deadline {
            return Err(format!("{slug} never reached {want}: {body}").into());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn event_types(trail: &Value) -> Vec<String> {
    trail
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["event"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_worker_process_syncs_queued_packages() -> TestResult {
    let s = TestServer::builder().arg("--workers").arg("0").start()?;
    s.create_repo("acme", "dev", true).await?;
    let (st, p) = s
        .upload_raw_nowait(ADMIN, "acme/dev", "app", "1", "app.json", b"{\"a\": 1}")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(p["sync_status"], "awaiting_sync");
    assert_eq!(p["files"][0]["content_type"], "application/json");
    let slug = p["slug_perm"].as_str().ok_or("slug")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = status(&s, "acme/dev", slug).await?;
    assert_eq!(
        before["sync_status"], "awaiting_sync",
        "no worker runs in this server"
    );
    assert_eq!(before["is_sync_in_progress"], true);
    assert_eq!(before["sync_progress"], 0);

    // Not downloadable and not promotable until synced.
    let (st, _) = s
        .call(
            Method::GET,
            "/acme/dev/raw/app/1/app.json",
            Some(ADMIN),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let jobs = s.cli_ok(Some(ADMIN), &["admin", "jobs", "-F", "json"])?;
    let jobs: Value = serde_json::from_str(&jobs)?;
    assert!(
        jobs.as_array().is_some_and(|j| j
            .iter()
            .any(|j| j["kind"] == "package.sync" && j["state"] == "queued")),
        "{jobs}"
    );

    let mut worker = s.spawn_worker(&[])?;
    let done = wait_status(&s, "acme/dev", slug, "completed").await;
    let _ = worker.kill();
    let _ = worker.wait();
    let done = done?;
    assert_eq!(done["sync_progress"], 100);
    assert_eq!(done["is_sync_completed"], true);
    assert!(done["updated_at"].as_str().is_some());
    let (_, trail) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/events"),
            None,
        )
        .await?;
    assert_eq!(
        event_types(&trail),
        ["package.created", "package.syncing", "package.synced"]
    );
    let (st, _) = s
        .call(
            Method::GET,
            "/acme/dev/raw/app/1/app.json",
            Some(ADMIN),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    let jobs = s.cli_ok(
        Some(ADMIN),
        &["admin", "jobs", "--state", "queued,running", "-F", "json"],
    )?;
    assert_eq!(
        crate::common::package_work(&serde_json::from_str(&jobs)?),
        Vec::<Value>::new()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_recovers_once_the_cause_is_gone() -> TestResult {
    if crate::common::blobs_in_s3() {
        return Ok(());
    }
    let s = TestServer::builder().arg("--workers").arg("0").start()?;
    s.create_repo("acme", "dev", true).await?;
    let bytes = b"precious bytes".to_vec();
    let (_, p) = s
        .upload_raw_nowait(ADMIN, "acme/dev", "app", "1", "app.bin", &bytes)
        .await?;
    let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
    // The cause: the stored blob goes missing (a storage outage, an operator's mistake).
    let blob = files_under(&s.blobs_dir().join("sha256"))
        .into_iter()
        .next()
        .ok_or("no blob")?;
    let aside = s.data_dir.path().join("aside");
    std::fs::rename(&blob, &aside)?;

    let mut worker = s.spawn_worker(&[])?;
    let failed = wait_status(&s, "acme/dev", &slug, "failed").await?;
    assert!(
        failed["status_reason"]
            .as_str()
            .is_some_and(|r| r.contains("missing")),
        "{failed}"
    );
    assert_eq!(failed["is_sync_failed"], true);

    // Resyncing while the cause remains fails again, and the CLI says why and exits non-zero.
    let out = s.cli(
        Some(ADMIN),
        &[
            "resync",
            &format!("acme/dev/{slug}"),
            "--sync-attempts",
            "2",
        ],
    )?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("missing from blob storage") && stderr.contains("resyncing"),
        "{stderr}"
    );

    // Once the blob is back, resync completes.
    std::fs::rename(&aside, &blob)?;
    let json = s.cli_ok(
        Some(ADMIN),
        &["resync", &format!("acme/dev/{slug}"), "-F", "json"],
    );
    let _ = worker.kill();
    let _ = worker.wait();
    let p: Value = serde_json::from_str(&json?)?;
    assert_eq!(p["sync_status"], "completed");
    assert_eq!(p["status_reason"], Value::Null);
    let (_, trail) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/events"),
            None,
        )
        .await?;
    let types = event_types(&trail);
    assert_eq!(types.first().map(String::as_str), Some("package.created"));
    assert_eq!(types.last().map(String::as_str), Some("package.synced"));
    assert_eq!(types.iter().filter(|t| *t == "package.failed").count(), 3);
    let bytes_back = s
        .req(Method::GET, "/acme/dev/raw/app/1/app.bin", Some(ADMIN))
        .send()
        .await?
        .bytes()
        .await?;
    assert_eq!(bytes_back.as_ref(), bytes.as_slice());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_needs_admin_and_is_refused_while_syncing() -> TestResult {
    let s = TestServer::builder().arg("--workers").arg("0").start()?;
    s.create_repo("acme", "dev", true).await?;
    let write = s.token("acme", "write").await?;
    let (_, p) = s
        .upload_raw_nowait(ADMIN, "acme/dev", "a", "1", "a", b"x")
        .await?;
    let slug = p["slug_perm"].as_str().ok_or("slug")?;
    let path = format!("/api/v1/packages/acme/dev/{slug}/resync");
    let (st, _) = s.call(Method::POST, &path, Some(&write), None).await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, body) = s.admin(Method::POST, &path, None).await?;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_mid_run_completes_once_after_restart() -> TestResult {
    let s = TestServer::builder()
        .arg("--job-lease-seconds")
        .arg("1")
        .env("GANTRY_FAULT_SYNC_DELAY_MS", "60000")
        .start()?;
    s.create_repo("acme", "dev", true).await?;
    let (_, p) = s
        .upload_raw_nowait(ADMIN, "acme/dev", "app", "1", "app.bin", b"crash me")
        .await?;
    let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
    wait_status(&s, "acme/dev", &slug, "syncing").await?;

    // SIGKILL while the job runs; the restarted server takes the job over once its lease ends.
    let stopped = s.crash()?;
    let s = TestServer::builder()
        .arg("--job-lease-seconds")
        .arg("1")
        .restart_of(stopped)
        .start()?;
    let done = wait_status(&s, "acme/dev", &slug, "completed").await?;
    assert_eq!(done["sync_progress"], 100);
    let (_, trail) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/events"),
            None,
        )
        .await?;
    let types = event_types(&trail);
    assert_eq!(
        types.iter().filter(|t| *t == "package.synced").count(),
        1,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "package.syncing").count(),
        2,
        "{types:?}"
    );
    let jobs = s.cli_ok(Some(ADMIN), &["admin", "jobs", "-F", "json"])?;
    assert_eq!(
        crate::common::package_work(&serde_json::from_str(&jobs)?),
        Vec::<Value>::new()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_jobs_is_for_site_admins() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let admin = s.token("acme", "admin").await?;
    let (st, _) = s
        .call(Method::GET, "/api/v1/admin/jobs", Some(&admin), None)
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .call(Method::GET, "/api/v1/admin/jobs", None, None)
        .await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, body) = s
        .admin(Method::GET, "/api/v1/admin/jobs?state=bogus", None)
        .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let (st, _) = s
        .admin(Method::GET, "/api/v1/admin/jobs?state=dead", None)
        .await?;
    assert_eq!(st, StatusCode::OK);
    let metrics = s
        .req(Method::GET, "/metrics", None)
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("gantry_jobs{state=\"dead\"} 0"),
        "{metrics}"
    );
    Ok(())
}
