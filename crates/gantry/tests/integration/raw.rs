//! Raw packages: streamed upload, content-addressed storage, downloads, listing.

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_NONE_MATCH, RANGE};
use reqwest::{Method, StatusCode};

use crate::common::{assert_error, files_under, sha256_hex, TestResult, TestServer, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_records_every_checksum_and_the_contract_fields() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let bytes = b"hello gantry\n";
    let (status, p) = s
        .upload_raw("acme/dev", "app", "1.0.0", "app.txt", bytes)
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    for field in [
        "slug_perm",
        "format",
        "name",
        "version",
        "repository",
        "origin_repository",
        "sync_status",
        "state",
        "status_reason",
        "size",
        "checksum_sha256",
        "checksum_md5",
        "checksum_sha1",
        "checksum_sha512",
        "files",
        "tags",
        "uploader",
        "uploaded_at",
        "security_scan_status",
        "max_severity",
        "num_vulnerabilities",
        "vulnerability_scan_results_url",
    ] {
        assert!(p.get(field).is_some(), "package JSON lacks {field}: {p}");
    }
    assert_eq!(p["slug_perm"].as_str().map(str::len), Some(12));
    assert_eq!(p["format"], "raw");
    assert_eq!(p["repository"], "acme/dev");
    assert_eq!(p["origin_repository"], "acme/dev");
    assert_eq!(p["sync_status"], "completed");
    assert_eq!(p["state"], "available");
    assert_eq!(p["size"], bytes.len());
    assert_eq!(p["checksum_sha256"], sha256_hex(bytes));
    assert_eq!(p["checksum_md5"], "284998543fe15ba6a5e2a65dc97266da");
    assert_eq!(p["checksum_sha1"].as_str().map(str::len), Some(40));
    assert_eq!(p["checksum_sha512"].as_str().map(str::len), Some(128));
    assert_eq!(p["files"][0]["filename"], "app.txt");
    assert_eq!(p["files"][0]["content_type"], "text/plain");
    assert_eq!(
        p["security_scan_status"], "not_supported",
        "raw files are not scanned"
    );

    let slug = p["slug_perm"].as_str().ok_or("slug")?;
    let (status, got) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}"),
            None,
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["checksum_sha256"], p["checksum_sha256"]);
    let (status, st) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/status"),
            None,
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(st["sync_status"], "completed");
    assert_eq!(st["is_sync_completed"], true);
    let url = p["vulnerability_scan_results_url"].as_str().ok_or("url")?;
    let report: serde_json::Value = s
        .http
        .get(url)
        .bearer_auth(ADMIN)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(report["security_scan_status"], "not_supported");
    assert_eq!(report["vulnerabilities"], serde_json::json!([]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_bytes_are_stored_once() -> TestResult {
    if crate::common::blobs_in_s3() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let bytes = vec![7u8; 100_000];
    for version in ["1", "2", "3"] {
        let (status, _) = s
            .upload_raw("acme/dev", "app", version, "app.bin", &bytes)
            .await?;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, _) = s
        .upload_raw("acme/dev", "other", "1", "o.bin", b"different")
        .await?;
    assert_eq!(status, StatusCode::CREATED);
    let blobs = files_under(&s.blobs_dir().join("sha256"));
    assert_eq!(blobs.len(), 2, "{blobs:?}");
    let expected = s.blobs_dir().join("sha256").join(&sha256_hex(&bytes)[0..2]);
    assert!(
        blobs.iter().any(|b| b.starts_with(&expected)),
        "content address: {blobs:?}"
    );
    assert!(
        files_under(&s.blobs_dir().join("tmp")).is_empty(),
        "no temporary leftovers"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_support_etag_range_and_head() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let (status, _) = s
        .upload_raw("acme/dev", "app", "1.0", "app.bin", &bytes)
        .await?;
    assert_eq!(status, StatusCode::CREATED);
    let path = "/acme/dev/raw/app/1.0/app.bin";
    let etag = format!("\"{}\"", sha256_hex(&bytes));

    let resp = s.req(Method::GET, path, Some(ADMIN)).send().await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CONTENT_LENGTH], "10000");
    assert_eq!(resp.headers()[ETAG].to_str()?, etag);
    assert_eq!(resp.bytes().await?.as_ref(), bytes.as_slice());

    let resp = s
        .req(Method::GET, path, Some(ADMIN))
        .header(RANGE, "bytes=100-199")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()[CONTENT_RANGE], "bytes 100-199/10000");
    assert_eq!(resp.bytes().await?.as_ref(), &bytes[100..200]);

    let resp = s
        .req(Method::GET, path, Some(ADMIN))
        .header(RANGE, "bytes=-10")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await?.as_ref(), &bytes[9990..]);

    let resp = s
        .req(Method::GET, path, Some(ADMIN))
        .header(RANGE, "bytes=20000-")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(resp.headers()[CONTENT_RANGE], "bytes */10000");
    assert_eq!(resp.headers()["content-type"], "application/json");

    let resp = s.req(Method::HEAD, path, Some(ADMIN)).send().await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CONTENT_LENGTH], "10000");
    assert_eq!(resp.headers()[ETAG].to_str()?, etag);
    assert!(resp.bytes().await?.is_empty());

    let resp = s
        .req(Method::GET, path, Some(ADMIN))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    let (status, body) = s
        .call(
            Method::GET,
            "/acme/dev/raw/app/1.0/nope.bin",
            Some(ADMIN),
            None,
        )
        .await?;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_get_clear_errors_and_leave_nothing() -> TestResult {
    if crate::common::blobs_in_s3() {
        return Ok(());
    }
    let s = TestServer::builder()
        .arg("--max-upload-size")
        .arg("1000")
        .start()?;
    s.create_repo("acme", "dev", true).await?;
    let upload = |query: &'static str, body: Vec<u8>| {
        let req = s
            .req(
                Method::POST,
                &format!("/api/v1/packages/acme/dev/upload/raw?{query}"),
                Some(ADMIN),
            )
            .body(body);
        async move {
            let resp = req.send().await?;
            let status = resp.status();
            let json: serde_json::Value = resp.json().await?;
            TestResult::Ok((status, json))
        }
    };
    let (st, b) = upload("name=a&version=1&filename=a.bin", vec![0; 1001]).await?;
    assert_error(st, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let (st, b) = upload("name=a&filename=a.bin", vec![1]).await?;
    assert_error(st, &b, StatusCode::BAD_REQUEST, "bad_request");
    let (st, b) = upload("name=a&version=1&filename=..%2F..%2Fetc%2Fpasswd", vec![1]).await?;
    assert_error(st, &b, StatusCode::BAD_REQUEST, "bad_request");
    let (st, b) = upload("name=a&version=1", vec![1]).await?;
    assert_error(st, &b, StatusCode::BAD_REQUEST, "bad_request");
    // A declared checksum that the bytes do not match fails the package's sync.
    let (st, b) = upload(
        "name=a&version=1&filename=a.bin&checksum_sha256=0000000000000000000000000000000000000000000000000000000000000000",
        vec![1],
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let slug = b["slug_perm"].as_str().ok_or("slug")?;
    let failed = s.wait_for_sync("acme/dev", slug).await?;
    assert_eq!(failed["sync_status"], "failed");
    assert!(
        failed["status_reason"]
            .as_str()
            .is_some_and(|r| r.contains("sha256 checksum mismatch")),
        "{failed}"
    );
    let (st, _) = s
        .call(Method::GET, "/acme/dev/raw/a/1/a.bin", Some(ADMIN), None)
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND, "a failed package is not served");
    s.admin(
        Method::DELETE,
        &format!("/api/v1/packages/acme/dev/{slug}"),
        None,
    )
    .await?;
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/nosuchformat?filename=a",
            Some(ADMIN),
        )
        .body("x")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // The oversize body was refused while streaming (no Content-Length): same answer.
    let stream = futures::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![0u8; 100])));
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/raw?name=a&version=1&filename=s.bin",
            Some(ADMIN),
        )
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let (status, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(0),
        "no package was created"
    );
    assert!(
        files_under(&s.blobs_dir().join("tmp")).is_empty(),
        "no temporary leftovers"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_identity_conflicts_unless_republished() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let (st, first) = s
        .upload_raw("acme/dev", "app", "1", "app.bin", b"one")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    let (st, body) = s
        .upload_raw("acme/dev", "app", "1", "app.bin", b"two")
        .await?;
    assert_error(st, &body, StatusCode::CONFLICT, "conflict");
    // Another filename under the same name and version is another package.
    let (st, _) = s
        .upload_raw("acme/dev", "app", "1", "app.sig", b"sig")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/raw",
            Some(ADMIN),
        )
        .query(&[
            ("name", "app"),
            ("version", "1"),
            ("filename", "app.bin"),
            ("republish", "true"),
        ])
        .body("two")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let new: serde_json::Value = resp.json().await?;
    s.wait_for_sync("acme/dev", new["slug_perm"].as_str().ok_or("slug")?)
        .await?;
    let bytes = s
        .req(Method::GET, "/acme/dev/raw/app/1/app.bin", Some(ADMIN))
        .send()
        .await?
        .bytes()
        .await?;
    assert_eq!(bytes.as_ref(), b"two");
    let old = first["slug_perm"].as_str().ok_or("slug")?;
    let (_, old) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{old}"),
            None,
        )
        .await?;
    assert_eq!(old["state"], "deleted");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_and_queries() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    for i in 0..7 {
        let resp = s
            .req(
                Method::POST,
                "/api/v1/packages/acme/dev/upload/raw",
                Some(ADMIN),
            )
            .query(&[
                ("name", if i % 2 == 0 { "libfoo" } else { "app" }),
                ("version", &format!("1.{i}")),
                ("filename", "f.bin"),
                ("tags", if i == 3 { "tested,qa" } else { "" }),
            ])
            .body(format!("content {i}"))
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let resp = s
        .req(
            Method::GET,
            "/api/v1/packages/acme/dev?page=2&page_size=3",
            Some(ADMIN),
        )
        .send()
        .await?;
    assert_eq!(resp.headers()["x-pagination-count"], "7");
    assert_eq!(resp.headers()["x-pagination-page"], "2");
    assert_eq!(resp.headers()["x-pagination-pagetotal"], "3");
    let page: serde_json::Value = resp.json().await?;
    let versions: Vec<_> = page
        .as_array()
        .ok_or("array")?
        .iter()
        .map(|p| p["version"].clone())
        .collect();
    assert_eq!(versions, ["1.3", "1.2", "1.1"], "newest first");

    let count = |q: &'static str| {
        let req = s
            .req(Method::GET, "/api/v1/packages/acme/dev", Some(ADMIN))
            .query(&[("query", q)]);
        async move {
            let resp = req.send().await?;
            let n: usize = resp.headers()["x-pagination-count"].to_str()?.parse()?;
            let list: serde_json::Value = resp.json().await?;
            assert_eq!(list.as_array().map(Vec::len), Some(n.min(30)));
            TestResult::Ok(n)
        }
    };
    assert_eq!(count("name:libfoo").await?, 4);
    assert_eq!(count("name:app version:1.3").await?, 1);
    assert_eq!(count("tag:tested").await?, 1);
    assert_eq!(count("format:raw").await?, 7);
    assert_eq!(count("format:python").await?, 0);
    assert_eq!(count("foo").await?, 4);

    for bad in ["colour:red", "name:", "state:gone"] {
        let (st, body) = s
            .admin(
                Method::GET,
                &format!("/api/v1/packages/acme/dev?query={bad}"),
                None,
            )
            .await?;
        assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
    }
    for bad in ["page=0", "page_size=0", "page_size=5000", "page=abc"] {
        let (st, body) = s
            .admin(
                Method::GET,
                &format!("/api/v1/packages/acme/dev?{bad}"),
                None,
            )
            .await?;
        assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_delete_and_restore() -> TestResult {
    if crate::common::blobs_in_s3() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let (_, p) = s
        .upload_raw("acme/dev", "app", "1", "a.bin", b"abc")
        .await?;
    let slug = p["slug_perm"].as_str().ok_or("slug")?;
    let (st, _) = s
        .admin(
            Method::DELETE,
            &format!("/api/v1/packages/acme/dev/{slug}"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(list.as_array().map(Vec::len), Some(0));
    let (_, deleted) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=state:deleted",
            None,
        )
        .await?;
    assert_eq!(deleted[0]["slug_perm"], slug);
    let (st, _) = s
        .call(Method::GET, "/acme/dev/raw/app/1/a.bin", Some(ADMIN), None)
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // The blob stays until garbage collection.
    assert_eq!(files_under(&s.blobs_dir().join("sha256")).len(), 1);

    let (st, restored) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/restore"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{restored}");
    assert_eq!(restored["state"], "available");
    let bytes = s
        .req(Method::GET, "/acme/dev/raw/app/1/a.bin", Some(ADMIN))
        .send()
        .await?
        .bytes()
        .await?;
    assert_eq!(bytes.as_ref(), b"abc");

    // Restoring is refused while another live package holds the identity.
    s.admin(
        Method::DELETE,
        &format!("/api/v1/packages/acme/dev/{slug}"),
        None,
    )
    .await?;
    let (st, _) = s
        .upload_raw("acme/dev", "app", "1", "a.bin", b"new")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/restore"),
            None,
        )
        .await?;
    assert_error(st, &body, StatusCode::CONFLICT, "conflict");

    let events = s.cli_ok(
        Some(ADMIN),
        &["events", &format!("acme/dev/{slug}"), "-F", "json"],
    )?;
    let events: serde_json::Value = serde_json::from_str(&events)?;
    let kinds: Vec<_> = events
        .as_array()
        .ok_or("array")?
        .iter()
        .map(|e| e["event"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            "package.created",
            "package.syncing",
            "package.synced",
            "package.deleted",
            "package.restored",
            "package.deleted"
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_push_and_list() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("tool.tar.gz");
    std::fs::write(&file, b"\x1f\x8b\x08\x00fake gzip")?;
    let file = file.display().to_string();
    let slug = s.cli_ok(
        Some(ADMIN),
        &[
            "push",
            "raw",
            "acme/dev",
            &file,
            "--name",
            "tool",
            "--version",
            "2.0",
            "--tags",
            "ci,nightly",
        ],
    )?;
    assert_eq!(slug.len(), 12, "push prints the slug_perm: {slug}");
    let json = s.cli_ok(
        Some(ADMIN),
        &["status", &format!("acme/dev/{slug}"), "-F", "json"],
    )?;
    let p: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(p["slug_perm"], slug);
    assert_eq!(p["files"][0]["content_type"], "application/gzip");
    assert_eq!(p["tags"], serde_json::json!(["ci", "nightly"]));
    let out = s.cli(
        Some(ADMIN),
        &[
            "push",
            "raw",
            "acme/dev",
            &file,
            "--name",
            "tool",
            "--version",
            "2.0",
        ],
    )?;
    assert!(
        !out.status.success(),
        "a second push of the same identity fails"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let json = s.cli_ok(
        Some(ADMIN),
        &[
            "push",
            "raw",
            "acme/dev",
            &file,
            "--name",
            "tool",
            "--version",
            "2.0",
            "--republish",
            "-F",
            "json",
        ],
    )?;
    let p: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(p["sync_status"], "completed");
    let list = s.cli_ok(
        Some(ADMIN),
        &["ls", "pkgs", "acme/dev", "-q", "tag:nightly", "-F", "json"],
    )?;
    let list: serde_json::Value = serde_json::from_str(&list)?;
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(0),
        "republished package got no tags"
    );
    let list = s.cli_ok(Some(ADMIN), &["ls", "pkgs", "acme/dev", "-F", "json"])?;
    let list: serde_json::Value = serde_json::from_str(&list)?;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    Ok(())
}
