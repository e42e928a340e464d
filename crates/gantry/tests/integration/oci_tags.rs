//! OCI tags and pulls beyond the specification: immutable tags (skopeo shows Gantry's
//! refusal), entitlement budgets counted per body served (manifests and blobs), and
//! `gantry push oci` of an image layout directory.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{sha256_hex, TestResult, TestServer, ADMIN};
use crate::oci::gzip_layer;

/// Whether `tool` is installed (scripts/test.sh installs the OCI clients with apt).
pub(crate) fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Writes `bytes` into an image layout's blob directory; its digest.
fn put_blob(layout: &std::path::Path, bytes: &[u8]) -> TestResult<String> {
    let hex = sha256_hex(bytes);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(&hex), bytes)?;
    Ok(format!("sha256:{hex}"))
}

/// Adds an image of one layer holding `files` to the OCI image layout at `layout` (created
/// when missing) under `tag`; the manifest's digest.
pub(crate) fn layout_image(
    layout: &std::path::Path,
    tag: &str,
    files: &[(&str, &[u8])],
) -> TestResult<String> {
    std::fs::create_dir_all(layout)?;
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    let layer = gzip_layer(files)?;
    let layer_digest = put_blob(layout, &layer)?;
    let config = json!({"architecture": "amd64", "os": "linux",
        "config": {"Labels": {"org.example.tag": tag}},
        "rootfs": {"type": "layers", "diff_ids": []}})
    .to_string();
    let config_digest = put_blob(layout, config.as_bytes())?;
    let manifest = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": layer.len()}]})
    .to_string();
    let digest = put_blob(layout, manifest.as_bytes())?;
    let index_path = layout.join("index.json");
    let mut index: Value = match std::fs::read(&index_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(_) => json!({"schemaVersion": 2, "manifests": []}),
    };
    index["manifests"].as_array_mut().ok_or("manifests")?.push(
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag}}),
    );
    std::fs::write(&index_path, index.to_string())?;
    Ok(digest)
}

fn skopeo_copy(source: &str, dest: &str, creds: &str) -> TestResult<std::process::Output> {
    Ok(std::process::Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--dest-creds", creds])
        .args([source, dest])
        .output()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_immutable_tags_refuse_a_moved_tag_and_skopeo_shows_why() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    if !have("skopeo") {
        eprintln!("skipped: skopeo is not installed (scripts/test.sh installs it with apt)");
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let updated = s.cli_ok(
        Some(ADMIN),
        &[
            "repos",
            "update",
            "acme/dev",
            "--immutable-tags",
            "true",
            "-F",
            "json",
        ],
    )?;
    assert_eq!(
        serde_json::from_str::<Value>(&updated)?["immutable_tags"],
        true
    );
    let token = s.token("acme/dev", "write").await?;
    let creds = format!("ci:{token}");
    let dir = tempfile::tempdir()?;
    let layout = dir.path().join("layout");
    let first = layout_image(&layout, "one", &[("a.txt", b"one\n")])?;
    layout_image(&layout, "two", &[("a.txt", b"two\n")])?;
    let host = s.url.trim_start_matches("http://").to_owned();
    let dest = format!("docker://{host}/acme/dev/app:1.0");
    let src = |tag: &str| format!("oci:{}:{tag}", layout.display());
    let out = skopeo_copy(&src("one"), &dest, &creds)?;
    assert!(out.status.success(), "{out:?}");
    // The same content again is no change, and allowed.
    let out = skopeo_copy(&src("one"), &dest, &creds)?;
    assert!(out.status.success(), "{out:?}");
    // Other content under the tag: refused, with Gantry's message on skopeo's stderr.
    let out = skopeo_copy(&src("two"), &dest, &creds)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("tag 1.0 of acme/dev/app is immutable"),
        "{stderr}"
    );
    // The protocol answer: 409 in the specification's error shape; the tag still names the
    // first manifest.
    let resp = s
        .req(Method::HEAD, "/v2/acme/dev/app/manifests/1.0", Some(ADMIN))
        .send()
        .await?;
    assert_eq!(
        resp.headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok()),
        Some(first.as_str())
    );
    let manifest = std::fs::read(layout.join("blobs/sha256").join(
        layout_image(&layout, "three", &[("a.txt", b"three\n")])?.trim_start_matches("sha256:"),
    ))?;
    // Push the third image's blobs through skopeo under another tag, then its manifest by hand.
    let out = skopeo_copy(
        &src("three"),
        &format!("docker://{host}/acme/dev/app:scratch"),
        &creds,
    )?;
    assert!(out.status.success(), "{out:?}");
    let resp = s
        .req(Method::PUT, "/v2/acme/dev/app/manifests/1.0", Some(&token))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let body: Value = resp.json().await?;
    assert_eq!(body["errors"][0]["code"], "DENIED", "{body}");
    // Promotion does not replace a tag of an immutable repository either, even with republish.
    s.create_repo("acme", "staging", true).await?;
    let (status, listed) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=version:scratch",
            None,
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    let scratch = listed[0]["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let (status, _) = s
        .admin(
            Method::PATCH,
            "/api/v1/repos/acme/staging",
            Some(json!({"immutable_tags": true})),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    let (status, copied) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{scratch}/copy"),
            Some(json!({"destination": "staging"})),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{copied}");
    let (status, again) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{scratch}/copy"),
            Some(json!({"destination": "staging", "republish": true})),
        )
        .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("immutable")),
        "{again}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_entitlement_budgets_count_blob_pulls_too() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "prod", true).await?;
    let layer = gzip_layer(&[("hello.txt", b"hello\n")])?;
    let (digest, _) = crate::oci::push_layers(
        &s,
        "acme/prod/app",
        Some("1.0"),
        "amd64",
        std::slice::from_ref(&layer),
    )
    .await?;
    let layer_digest = format!("sha256:{}", sha256_hex(&layer));
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "entitlements",
            "create",
            "acme/prod",
            "--max-downloads",
            "3",
            "-F",
            "json",
        ],
    )?;
    let token = serde_json::from_str::<Value>(&out)?["token"]
        .as_str()
        .ok_or("token")?
        .to_owned();
    let get = |method: Method, path: String| {
        s.http
            .request(method, format!("{}{path}", s.url))
            .basic_auth("customer", Some(&token))
            .send()
    };
    // HEAD requests send no body and cost nothing.
    for _ in 0..3 {
        let resp = get(
            Method::HEAD,
            format!("/v2/acme/prod/app/manifests/{digest}"),
        )
        .await?;
        assert_eq!(resp.status(), StatusCode::OK);
        let resp = get(
            Method::HEAD,
            format!("/v2/acme/prod/app/blobs/{layer_digest}"),
        )
        .await?;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let resp = get(Method::GET, "/v2/acme/prod/app/manifests/1.0".into()).await?;
    assert_eq!(resp.status(), StatusCode::OK);
    for _ in 0..2 {
        let resp = get(
            Method::GET,
            format!("/v2/acme/prod/app/blobs/{layer_digest}"),
        )
        .await?;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.bytes().await?.as_ref(), layer.as_slice());
    }
    // The budget of three bodies is spent: the next blob is refused in the registry's shape.
    let resp = get(
        Method::GET,
        format!("/v2/acme/prod/app/blobs/{layer_digest}"),
    )
    .await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body: Value = resp.json().await?;
    assert_eq!(body["errors"][0]["code"], "DENIED", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("used its 3 downloads")),
        "{body}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_gantry_push_uploads_an_image_layout_through_the_registry_api() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let dir = tempfile::tempdir()?;
    let layout = dir.path().join("app");
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let digest = layout_image(&layout, arch, &[("arch.txt", arch.as_bytes())])?;
        let size = std::fs::metadata(
            layout
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )?
        .len();
        manifests.push(
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size, "platform": {"os": "linux", "architecture": arch}}),
        );
    }
    let index = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests})
    .to_string();
    let index_digest = put_blob(&layout, index.as_bytes())?;
    let index_path = layout.join("index.json");
    let mut top: Value = serde_json::from_slice(&std::fs::read(&index_path)?)?;
    top["manifests"].as_array_mut().ok_or("manifests")?.push(
        json!({"mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index_digest, "size": index.len(),
            "annotations": {"org.opencontainers.image.ref.name": "multi"}}),
    );
    std::fs::write(&index_path, top.to_string())?;

    let spec = format!("{}:multi", layout.display());
    let out = s.cli_ok(
        Some(ADMIN),
        &["push", "oci", "acme/dev", &spec, "-F", "json"],
    )?;
    let package: Value = serde_json::from_str(&out)?;
    assert_eq!(package["name"], "app", "named by the directory: {package}");
    assert_eq!(package["version"], "multi");
    let resp = s
        .req(
            Method::HEAD,
            "/v2/acme/dev/app/manifests/multi",
            Some(ADMIN),
        )
        .header("accept", "application/vnd.oci.image.index.v1+json")
        .send()
        .await?;
    assert_eq!(
        resp.headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok()),
        Some(index_digest.as_str())
    );
    // The index and both platform images are packages; pushing again changes nothing.
    let slug = s.cli_ok(
        Some(ADMIN),
        &["push", "oci", "acme/dev", &spec, "--name", "team/app"],
    )?;
    assert_eq!(slug.len(), 12, "{slug}");
    let (_, listed) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=format:oci",
            None,
        )
        .await?;
    assert_eq!(listed.as_array().map(Vec::len), Some(6), "{listed}");
    let again = s.cli_ok(Some(ADMIN), &["push", "oci", "acme/dev", &spec])?;
    assert_eq!(again, package["slug_perm"].as_str().unwrap_or_default());

    // A read token is refused, and the CLI prints the registry's message.
    let read = s.token("acme/dev", "read").await?;
    let out = s.cli(
        Some(&read),
        &["push", "oci", "acme/dev", &spec, "--name", "other"],
    )?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DENIED") || stderr.contains("denied"),
        "{stderr}"
    );
    // A layout whose documents point outside it, or a missing tag: refused before any upload.
    let out = s.cli(
        Some(ADMIN),
        &[
            "push",
            "oci",
            "acme/dev",
            &format!("{}:nope", layout.display()),
        ],
    )?;
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no tag 'nope'"));
    Ok(())
}
