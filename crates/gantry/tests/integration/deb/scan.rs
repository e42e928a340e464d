//! Scanning `.deb`s: matched by their source package in the Debian release their
//! distribution names (bookworm → `Debian:12`), with dpkg version ordering. With no Debian
//! advisories imported, or listed only in distributions that are no Debian release, a
//! package has nothing to be matched against and is `not_supported`; importing Debian
//! advisories later rescans the `.deb`s they name.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{tiny_deb, upload_deb};
use crate::common::{TestResult, TestServer, ADMIN};

fn control(name: &str, version: &str) -> String {
    format!("Package: {name}\nSource: hello-src\nVersion: {version}\nArchitecture: amd64\n")
}

/// Imports one `Debian:12` record: `hello-src` affected before `1.0-2`.
fn import_record(s: &TestServer) -> TestResult {
    let dir = tempfile::tempdir()?;
    let record = json!({
        "id": "DSA-9999-1", "modified": "2024-01-01T00:00:00Z", "summary": "hello-src is unsafe",
        "affected": [{
            "package": {"ecosystem": "Debian:12", "name": "hello-src"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0-2"}]}]
        }],
        "database_specific": {"severity": "HIGH"}
    });
    std::fs::write(dir.path().join("DSA-9999-1.json"), record.to_string())?;
    s.cli_ok(
        Some(ADMIN),
        &["vulndb", "import", &dir.path().display().to_string()],
    )?;
    Ok(())
}

/// Uploads a `.deb` and waits for its scan; its slug and status.
async fn upload_scanned(
    s: &TestServer,
    name: &str,
    version: &str,
    distribution: &str,
) -> TestResult<(String, Value)> {
    let (status, body) = upload_deb(
        s,
        "acme/dev",
        tiny_deb(&control(name, version), &[]),
        &format!("&distribution={distribution}"),
        Some(ADMIN),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let slug = body["slug_perm"].as_str().unwrap_or_default().to_owned();
    let p = crate::scanning::wait_scanned(s, "acme/dev", &slug).await?;
    Ok((slug, p["security_scan_status"].clone()))
}

#[tokio::test]
async fn debs_are_scanned_by_source_in_their_debian_release() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    import_record(&s)?;
    let cases = [
        (
            "hello-old",
            "1.0-1~deb12u1",
            "bookworm",
            "vulnerabilities_found",
        ),
        ("hello-new", "1.0-2", "bookworm", "no_vulnerabilities"),
        ("hello-elsewhere", "1.0-1", "stable", "not_supported"),
        ("hello-internal", "1.0-1", "internal", "not_supported"),
    ];
    for (name, version, distribution, want) in cases {
        let (_, status) = upload_scanned(&s, name, version, distribution).await?;
        assert_eq!(status, want, "{name}");
    }
    Ok(())
}

/// Before any Debian advisory is imported a `.deb` is `not_supported`; the import of a
/// `Debian:12` record naming its source package rescans it, and it shows the finding.
#[tokio::test]
async fn a_debian_advisory_import_rescans_debs_that_were_not_supported() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let (slug, status) = upload_scanned(&s, "hello-old", "1.0-1", "bookworm").await?;
    assert_eq!(status, "not_supported");
    import_record(&s)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while crate::scanning::wait_scanned(&s, "acme/dev", &slug).await?["security_scan_status"]
        != "vulnerabilities_found"
    {
        if Instant::now() > deadline {
            return Err(format!("the import did not rescan {slug}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let found = crate::scanning::advisory_ids(&s, "acme/dev", &slug).await?;
    assert_eq!(found, ["DSA-9999-1"]);
    Ok(())
}
