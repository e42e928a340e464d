//! Issue 14, point 7: what rejected and killed uploads leave in the blob store.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;

use crate::common::{files_under, TestResult, TestServer, ADMIN};

fn blobs(s: &TestServer) -> Vec<std::path::PathBuf> {
    files_under(&s.blobs_dir().join("sha256"))
}

async fn python_upload(s: &TestServer, filename: &str, bytes: Vec<u8>) -> TestResult<StatusCode> {
    let form = reqwest::multipart::Form::new()
        .text(":action", "file_upload")
        .part(
            "content",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()),
        );
    Ok(s.http
        .post(format!("{}/acme/dev/python/", s.url))
        .basic_auth("__token__", Some(ADMIN))
        .multipart(form)
        .send()
        .await?
        .status())
}

/// A rejected upload leaves no blob behind, unless the same bytes belong to a package.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_uploads_leave_no_blob() -> TestResult {
    if crate::common::blobs_in_s3() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    let before = blobs(&s).len();
    let st = python_upload(
        &s,
        "junk-1.0-py3-none-any.whl",
        b"not a zip at all".to_vec(),
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(blobs(&s).len(), before, "the rejected upload's blob stayed");

    // The same bytes as a live package: the rejection must not take its blob.
    let (st, _) = s
        .upload_raw("acme/dev", "keep", "1", "keep.whl", b"not a zip either")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    let with_package = blobs(&s).len();
    let st = python_upload(
        &s,
        "keep-1.0-py3-none-any.whl",
        b"not a zip either".to_vec(),
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(blobs(&s).len(), with_package, "a shared blob was removed");
    Ok(())
}

/// Temporary files of uploads killed mid-way are removed at start once older than the upload
/// timeout; younger ones (another replica's live upload) stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_temporary_upload_files_are_swept_at_start() -> TestResult {
    if crate::common::blobs_in_s3() {
        return Ok(());
    }
    let s = TestServer::start()?;
    let tmp = s.blobs_dir().join("tmp");
    let stopped = s.shutdown()?;
    std::fs::create_dir_all(&tmp)?;
    let old = tmp.join("0b3f-killed-upload#1");
    let young = tmp.join("5e1d-live-upload#1");
    std::fs::write(&old, b"half an upload")?;
    std::fs::write(&young, b"a live upload")?;
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&old)?
        .set_modified(two_hours_ago)?;
    let _s = TestServer::builder()
        .arg("--upload-timeout-seconds")
        .arg("3600")
        .restart_of(stopped)
        .start()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while old.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!old.exists(), "a stale temporary file survived the restart");
    assert!(young.exists(), "a young temporary file was removed");
    Ok(())
}
