//! `gantry admin gc` and `gantry admin fsck` on the local store: only blobs nothing refers to
//! are removed (deleted packages keep theirs), uploads running meanwhile keep theirs even when
//! they land on bytes gc is about to remove, and fsck finds missing, damaged, unreferenced and
//! stray objects. The S3 variant is in `s3.rs`.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{bin, sha256_hex, TestResult, TestServer, ADMIN};

/// `gantry admin ARGS -F json` against the server at `url`, as a site admin.
pub(crate) fn admin_command(url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("admin")
        .args(args)
        .args(["-F", "json"])
        .env("GANTRY_URL", url)
        .env("GANTRY_TOKEN", ADMIN)
        .env("GANTRY_CLIENT_CONFIG", "/nonexistent/gantry-client.toml");
    cmd
}

/// The exit status and JSON report of a finished `gantry admin` run.
pub(crate) fn report_of(args: &[&str], out: Output) -> TestResult<(Output, Value)> {
    let report = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "gantry admin {args:?}: {e}; stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok((out, report))
}

pub(crate) fn admin(s: &TestServer, args: &[&str]) -> TestResult<(Output, Value)> {
    report_of(args, admin_command(&s.url, args).output()?)
}

/// Asks `s` for a consistency check and asserts it is clean; returns the report.
pub(crate) async fn assert_fsck_clean(s: &TestServer) -> TestResult<Value> {
    let (st, report) = s
        .admin(
            Method::POST,
            "/api/v1/admin/fsck",
            Some(serde_json::json!({})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{report}");
    assert_eq!(report["clean"], true, "{report}");
    Ok(report)
}

fn blob_file(s: &TestServer, sha256: &str) -> PathBuf {
    s.blobs_dir()
        .join("sha256")
        .join(&sha256[0..2])
        .join(&sha256[2..4])
        .join(sha256)
}

/// Writes bytes straight into the store, as an upload killed between storing its bytes and
/// recording its package leaves them, last written `age` ago.
fn plant(s: &TestServer, bytes: &[u8], age: Duration) -> TestResult<String> {
    let sha256 = sha256_hex(bytes);
    let path = blob_file(s, &sha256);
    std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
    std::fs::write(&path, bytes)?;
    let file = std::fs::File::options().write(true).open(&path)?;
    file.set_modified(SystemTime::now() - age)?;
    Ok(sha256)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn download(s: &TestServer, path: &str) -> TestResult<(StatusCode, Vec<u8>)> {
    let resp = s.req(Method::GET, path, Some(ADMIN)).send().await?;
    Ok((resp.status(), resp.bytes().await?.to_vec()))
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_only_blobs_nothing_refers_to() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let (st, kept) = s
        .upload_raw("acme/dev", "kept", "1", "kept.bin", b"kept bytes")
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{kept}");
    let (st, gone) = s
        .upload_raw("acme/dev", "gone", "1", "gone.bin", b"deleted bytes")
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{gone}");
    let slug = gone["slug_perm"].as_str().ok_or("slug")?;
    let (st, _) = s
        .admin(
            Method::DELETE,
            &format!("/api/v1/packages/acme/dev/{slug}"),
            None,
        )
        .await?;
    assert!(st.is_success());
    let old_orphan = plant(&s, b"left by a killed upload", HOUR * 2)?;
    let new_orphan = plant(&s, b"an upload in flight", Duration::ZERO)?;
    let stray = s.blobs_dir().join("sha256/zz");
    std::fs::create_dir_all(&stray)?;
    std::fs::write(stray.join("not-a-digest"), b"?")?;

    // fsck sees the old orphan and the stray key; the fresh one is an upload in flight.
    let (out, report) = admin(&s, &["fsck"])?;
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(strings(&report["unreferenced"]), vec![old_orphan.clone()]);
    assert_eq!(strings(&report["stray"]), vec!["sha256/zz/not-a-digest"]);
    assert_eq!(report["checked"], 2, "{report}");

    let (out, report) = admin(&s, &["gc", "--dry-run"])?;
    assert!(out.status.success(), "{report}");
    assert_eq!(strings(&report["removed"]), vec![old_orphan.clone()]);
    assert!(
        blob_file(&s, &old_orphan).exists(),
        "a dry run removes nothing"
    );
    let tables = strings(&report["referring_tables"]);
    for table in ["package_files", "oci_blob_links", "oci_upload_chunks"] {
        assert!(tables.iter().any(|t| t == table), "{tables:?}");
    }

    let (out, report) = admin(&s, &["gc"])?;
    assert!(out.status.success(), "{report}");
    assert_eq!(strings(&report["removed"]), vec![old_orphan.clone()]);
    assert!(!blob_file(&s, &old_orphan).exists());
    assert!(
        blob_file(&s, &new_orphan).exists(),
        "within the grace period"
    );
    assert!(blob_file(&s, &sha256_hex(b"deleted bytes")).exists());
    // The deleted package is restorable with its bytes.
    let (st, _) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/restore"),
            None,
        )
        .await?;
    assert!(st.is_success(), "{st}");
    let (st, bytes) = download(&s, "/acme/dev/raw/gone/1/gone.bin").await?;
    assert_eq!(
        (st, bytes.as_slice()),
        (StatusCode::OK, &b"deleted bytes"[..])
    );

    // With the stray object gone, fsck is clean (the fresh orphan is still in its grace).
    std::fs::remove_dir_all(&stray)?;
    let (out, report) = admin(&s, &["fsck"])?;
    assert!(out.status.success(), "{report}");
    assert_eq!(report["clean"], true);

    // A damaged blob and a missing one are reported with the packages that hold them.
    let kept_sha = sha256_hex(b"kept bytes");
    std::fs::write(blob_file(&s, &kept_sha), b"kept bytez")?;
    std::fs::remove_file(blob_file(&s, &sha256_hex(b"deleted bytes")))?;
    let (out, report) = admin(&s, &["fsck"])?;
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(
        report["corrupt"][0]["sha256"],
        kept_sha.as_str(),
        "{report}"
    );
    assert_eq!(report["corrupt"][0]["packages"][0], kept["slug_perm"]);
    assert_eq!(report["missing"][0]["packages"][0], slug, "{report}");
    Ok(())
}

/// Uploads land on bytes gc is removing at that moment: planted orphans older than the grace
/// period, re-uploaded while gc runs over and over. Every upload must keep its blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_under_concurrent_uploads_never_removes_a_live_blob() -> TestResult {
    const ORPHANS: usize = 60;
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let bodies: Vec<Vec<u8>> = (0..ORPHANS)
        .map(|i| format!("orphan number {i} ").repeat(50).into_bytes())
        .collect();
    for body in &bodies {
        plant(&s, body, HOUR * 2)?;
    }
    let uploads = async {
        let mut results = Vec::new();
        // Every other orphan comes back as a package; the rest stay garbage.
        for (i, body) in bodies.iter().enumerate().step_by(2) {
            let version = i.to_string();
            results.push(
                s.upload_raw_nowait(ADMIN, "acme/dev", "app", &version, "app.bin", body)
                    .await,
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        results
    };
    let collector = async {
        let mut removed = 0;
        let args = ["gc", "--grace-seconds", "600"];
        for _ in 0..6 {
            let mut cmd = tokio::process::Command::from(admin_command(&s.url, &args));
            let (out, report) = report_of(&args, cmd.output().await?)?;
            assert!(out.status.success(), "{report}");
            removed += strings(&report["removed"]).len();
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(removed)
    };
    let (results, removed) = tokio::join!(uploads, collector);
    let removed = removed?;
    for result in results {
        let (st, body) = result?;
        assert_eq!(st, StatusCode::CREATED, "{body}");
    }
    assert!(removed >= ORPHANS / 2, "gc removed {removed}");
    let (out, report) = admin(&s, &["gc", "--grace-seconds", "600"])?;
    assert!(out.status.success(), "{report}");
    for (i, body) in bodies.iter().enumerate() {
        let (st, bytes) = download(&s, &format!("/acme/dev/raw/app/{i}/app.bin")).await?;
        if i % 2 == 0 {
            assert_eq!(st, StatusCode::OK, "upload {i} lost its blob");
            assert_eq!(&bytes, body);
        } else {
            assert!(
                !blob_file(&s, &sha256_hex(body)).exists(),
                "orphan {i} stayed"
            );
        }
    }
    let (out, report) = admin(&s, &["fsck"])?;
    assert!(out.status.success(), "{report}");
    Ok(())
}

/// A rejected upload removes its blob only when nothing refers to it — an image layer linked
/// by the OCI tables counts, not only package files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_upload_keeps_bytes_an_image_layer_holds() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let layer = b"bytes of an image layer, pushed first".to_vec();
    let digest = format!("sha256:{}", sha256_hex(&layer));
    let resp = s
        .req(
            Method::POST,
            &format!("/v2/acme/dev/img/blobs/uploads/?digest={digest}"),
            Some(ADMIN),
        )
        .body(layer.clone())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (st, _) = s
        .upload_raw("acme/dev", "app", "1", "app.bin", b"first")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    // The same identity with other bytes (the layer's) is refused after they were stored.
    let (st, body) = s
        .upload_raw("acme/dev", "app", "1", "app.bin", &layer)
        .await?;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    let resp = s
        .req(
            Method::GET,
            &format!("/v2/acme/dev/img/blobs/{digest}"),
            Some(ADMIN),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await?.as_ref(), layer.as_slice());
    Ok(())
}
