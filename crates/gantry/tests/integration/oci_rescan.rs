//! Image scanning of zstd-compressed and uncompressed layers, and rescans of images when an
//! advisory import touches a package their layers install.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{sha256_hex, TestResult, TestServer, ADMIN};
use crate::oci::{push_blob, tar_layer as tar};

/// Pushes an image of `layers` (bytes and media type) as `name:1.0`; the package's slug.
async fn push_image(s: &TestServer, name: &str, layers: &[(Vec<u8>, &str)]) -> TestResult<String> {
    let config = json!({"architecture": "amd64", "os": "linux"}).to_string();
    let config_digest = push_blob(s, name, ADMIN, config.as_bytes()).await?;
    let mut descriptors = Vec::new();
    for (bytes, media_type) in layers {
        let digest = push_blob(s, name, ADMIN, bytes).await?;
        descriptors.push(json!({"mediaType": media_type, "digest": digest, "size": bytes.len()}));
    }
    let manifest = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config.len()},
        "layers": descriptors})
    .to_string();
    let resp = s
        .req(
            Method::PUT,
            &format!("/v2/{name}/manifests/1.0"),
            Some(ADMIN),
        )
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await?);
    let (_, list) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=version:1.0",
            None,
        )
        .await?;
    Ok(list[0]["slug_perm"].as_str().ok_or("slug")?.to_owned())
}

/// An OSV record with one `ECOSYSTEM` range `[0, fixed)`.
fn record(id: &str, ecosystem: &str, name: &str, fixed: &str) -> Value {
    json!({
        "id": id, "modified": "2024-01-01T00:00:00Z", "summary": format!("{name} is unsafe"),
        "affected": [{
            "package": {"ecosystem": ecosystem, "name": name},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }],
        "database_specific": {"severity": "HIGH"}
    })
}

fn import(s: &TestServer, records: &[Value]) -> TestResult<()> {
    let dir = tempfile::tempdir()?;
    for r in records {
        let id = r["id"].as_str().ok_or("id")?;
        std::fs::write(dir.path().join(format!("{id}.json")), r.to_string())?;
    }
    s.cli_ok(
        Some(ADMIN),
        &["vulndb", "import", &dir.path().display().to_string()],
    )?;
    Ok(())
}

/// Advisory id → the layer each of its components was found in.
async fn findings(s: &TestServer, slug: &str) -> TestResult<Vec<(String, String)>> {
    let (status, report) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/vulnerabilities"),
            None,
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{report}");
    let mut out = Vec::new();
    for v in report["vulnerabilities"].as_array().ok_or("array")? {
        for c in v["components"].as_array().ok_or("components")? {
            out.push((
                v["advisory_id"].as_str().unwrap_or_default().to_owned(),
                c["location"]["layer"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
    }
    out.sort();
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_zstd_and_plain_layers_are_scanned_and_imports_rescan_images() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let site = "usr/lib/python3/dist-packages";
    let zstd_layer = zstd::encode_all(
        tar(&[(
            &format!("{site}/Some_Lib-1.0.dist-info/METADATA"),
            b"Metadata-Version: 2.1\nName: Some_Lib\nVersion: 1.0\n\n",
        )])?
        .as_slice(),
        3,
    )?;
    let plain_layer = tar(&[(
        "app/node_modules/left-pad/package.json",
        br#"{"name": "left-pad", "version": "1.0.0"}"#,
    )])?;
    let zstd_digest = format!("sha256:{}", sha256_hex(&zstd_layer));
    let plain_digest = format!("sha256:{}", sha256_hex(&plain_layer));
    let slug = push_image(
        &s,
        "acme/dev/app",
        &[
            (zstd_layer, "application/vnd.oci.image.layer.v1.tar+zstd"),
            (plain_layer, "application/vnd.oci.image.layer.v1.tar"),
        ],
    )
    .await?;
    let scanned = crate::scanning::wait_scanned(&s, "acme/dev", &slug).await?;
    assert_eq!(
        scanned["security_scan_status"], "no_vulnerabilities",
        "{scanned}"
    );

    // Advisories arrive later: the import rescans the image that holds those packages (the
    // PyPI name as OSV spells it, not as the dist-info does).
    import(
        &s,
        &[
            record("GHSA-zstd-0000-0001", "PyPI", "some-lib", "2.0"),
            record("GHSA-tar0-0000-0001", "npm", "left-pad", "1.3.0"),
        ],
    )?;
    let scanned = crate::scanning::wait_scanned(&s, "acme/dev", &slug).await?;
    assert_eq!(
        scanned["security_scan_status"], "vulnerabilities_found",
        "{scanned}"
    );
    assert_eq!(
        findings(&s, &slug).await?,
        vec![
            ("GHSA-tar0-0000-0001".to_owned(), plain_digest),
            ("GHSA-zstd-0000-0001".to_owned(), zstd_digest),
        ]
    );
    Ok(())
}
