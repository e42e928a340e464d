//! Data written by an earlier release opens with this build: migrations apply, and what it
//! held is still there and still behaves. On SQLite the snapshot is a data directory of
//! release 60ad280 (`tests/fixtures/release-60ad280-sqlite.tar.gz`); on PostgreSQL, a dump
//! and the blobs of release 0ba3916 (`release-0ba3916-postgres.tar.gz`). Both were written by
//! `scripts/upgrade-snapshot.sh` and hold repositories acme/dev (private), staging and
//! production (public); raw app 1.0 (copied to staging, then moved to production) and app
//! 2.0 (quarantined); npm snap-lib 1.0.0; a policy and a webhook.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{fresh_postgres_database, TestResult, TestServer, ADMIN};

fn unpack_snapshot(name: &str) -> TestResult<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let snapshot = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let status = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&snapshot)
        .arg("-C")
        .arg(dir.path())
        .status()?;
    if !status.success() {
        return Err("cannot unpack the snapshot".into());
    }
    Ok(dir)
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{} {} {}",
                p["name"].as_str().unwrap_or_default(),
                p["version"].as_str().unwrap_or_default(),
                p["state"].as_str().unwrap_or_default()
            )
        })
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_the_last_release_upgrades() -> TestResult {
    let s = match std::env::var("GANTRY_TEST_DATABASE_URL") {
        Err(_) => TestServer::builder()
            .data_dir(unpack_snapshot("release-60ad280-sqlite.tar.gz")?)
            .start()?,
        Ok(base) => {
            let dir = unpack_snapshot("release-0ba3916-postgres.tar.gz")?;
            let url = fresh_postgres_database(&base)?;
            let dump = dir.path().join("dump.sql");
            let out = std::process::Command::new("psql")
                .arg(&url)
                .args(["-v", "ON_ERROR_STOP=1", "-q", "-f"])
                .arg(&dump)
                .output()?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr).into_owned();
                return Err(format!("restoring the dump failed: {err}").into());
            }
            std::fs::remove_file(&dump)?;
            TestServer::builder()
                .data_dir(dir)
                .database_url(url)
                .start()?
        }
    };
    let (st, repos) = s.admin(Method::GET, "/api/v1/repos/acme", None).await?;
    assert_eq!(st, StatusCode::OK, "{repos}");
    assert_eq!(repos.as_array().map(Vec::len), Some(3), "{repos}");

    let (_, dev) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(
        names(&dev),
        [
            "app 1.0 available",
            "app 2.0 quarantined",
            "snap-lib 1.0.0 available"
        ],
        "{dev}"
    );
    // The promoted copy is in production, public, with its bytes and its trail.
    let resp = s
        .req(
            Method::GET,
            "/acme/production/raw/app/1.0/app-1.0.tar.gz",
            None,
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await?.as_ref(), b"release 1.0\n");
    let (_, prod) = s
        .admin(Method::GET, "/api/v1/packages/acme/production", None)
        .await?;
    let slug = prod[0]["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let (_, events) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/production/{slug}/events"),
            None,
        )
        .await?;
    let kinds: Vec<&str> = events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert!(kinds.contains(&"package.moved"), "{events}");
    // The npm package is served from its packument.
    let (st, packument) = s
        .call(Method::GET, "/acme/dev/npm/snap-lib", Some(ADMIN), None)
        .await?;
    assert_eq!(st, StatusCode::OK, "{packument}");
    assert!(packument["versions"]["1.0.0"]["dist"]["tarball"].is_string());
    // Policies and webhooks came along.
    let (_, policies) = s.admin(Method::GET, "/api/v1/policies/acme", None).await?;
    assert_eq!(policies[0]["name"], "open", "{policies}");
    let (_, hooks) = s
        .admin(Method::GET, "/api/v1/webhooks/acme/dev", None)
        .await?;
    assert_eq!(hooks.as_array().map(Vec::len), Some(1), "{hooks}");
    // Today's rules apply to yesterday's data: the quarantined package cannot be replaced.
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/raw",
            Some(ADMIN),
        )
        .query(&[
            ("name", "app"),
            ("version", "2.0"),
            ("filename", "app-2.0.tar.gz"),
            ("republish", "true"),
        ])
        .body("replaced")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    // And new work goes on as usual.
    let (st, _) = s
        .upload_raw("acme/dev", "app", "3.0", "app-3.0.tar.gz", b"release 3.0")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    Ok(())
}
