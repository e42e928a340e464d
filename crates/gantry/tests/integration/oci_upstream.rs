//! OCI pull-through: a repository with an OCI upstream (another Gantry on 127.0.0.1, which
//! asks for bearer tokens like any registry) fetches an image it does not hold, stores its
//! whole graph, serves it again with the upstream stopped, and moves a cached tag once the
//! upstream's tag changed and the TTL passed. skopeo pulls through it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{sha256_hex, TestResult, TestServer, ADMIN};
use crate::oci::{gzip_layer, push_layers};

/// Pushes an index of an amd64 and an arm64 image (each of one layer holding `text`) as
/// `name:tag`; the index's digest.
async fn push_index(s: &TestServer, name: &str, tag: &str, text: &str) -> TestResult<String> {
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let layer = gzip_layer(&[("hello.txt", format!("{text} {arch}\n").as_bytes())])?;
        let (digest, size) = push_layers(s, name, None, arch, &[layer]).await?;
        manifests.push(
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size, "platform": {"os": "linux", "architecture": arch}}),
        );
    }
    let index = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests})
    .to_string();
    let resp = s
        .req(
            Method::PUT,
            &format!("/v2/{name}/manifests/{tag}"),
            Some(ADMIN),
        )
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(index.clone())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await?);
    Ok(format!("sha256:{}", sha256_hex(index.as_bytes())))
}

fn add_upstream(s: &TestServer, name: &str, url: &str, extra: &[&str]) -> TestResult<()> {
    let mut args = vec![
        "upstream",
        "oci",
        "create",
        "acme/dev",
        "--name",
        name,
        "--url",
        url,
        "--index-ttl-seconds",
        "1",
    ];
    args.extend_from_slice(extra);
    s.cli_ok(Some(ADMIN), &args)?;
    Ok(())
}

/// The digest the server answers for `reference` of `name`.
async fn served_digest(s: &TestServer, name: &str, reference: &str) -> TestResult<Option<String>> {
    let resp = s
        .req(
            Method::GET,
            &format!("/v2/{name}/manifests/{reference}"),
            Some(ADMIN),
        )
        .header("accept", "application/vnd.oci.image.index.v1+json")
        .send()
        .await?;
    if resp.status() != StatusCode::OK {
        return Ok(None);
    }
    let body = resp.bytes().await?;
    Ok(Some(format!("sha256:{}", sha256_hex(&body))))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_pull_through_caches_images_and_serves_them_with_the_upstream_down() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let up = TestServer::start()?;
    // A public repository (anonymous token flow) and a private one (the upstream's
    // credentials are exchanged for a token).
    up.create_repo("lib", "base", false).await?;
    up.create_repo("lib", "secret", true).await?;
    let first = push_index(&up, "lib/base/app", "1.0", "one").await?;
    let secret_layer = gzip_layer(&[("s.txt", b"secret\n")])?;
    let (secret, _) = push_layers(
        &up,
        "lib/secret/tool",
        Some("2.0"),
        "amd64",
        &[secret_layer],
    )
    .await?;
    let read = up.token("lib/secret", "read").await?;

    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    assert_eq!(served_digest(&s, "acme/dev/app", "1.0").await?, None);
    add_upstream(&s, "base", &format!("{}/lib/base", up.url), &[])?;
    add_upstream(
        &s,
        "secret",
        &format!("{}/lib/secret", up.url),
        &[
            "--priority",
            "2",
            "--username",
            "mirror",
            "--password",
            &read,
        ],
    )?;

    // skopeo pulls the whole index through Gantry: the digests are the upstream's.
    let dir = tempfile::tempdir()?;
    let host = s.url.trim_start_matches("http://").to_owned();
    let creds = format!("ci:{ADMIN}");
    let have_skopeo = crate::oci_tags::have("skopeo");
    if have_skopeo {
        let out = std::process::Command::new("skopeo")
            .args([
                "copy",
                "--all",
                "--preserve-digests",
                "--src-tls-verify=false",
            ])
            .args(["--src-creds", &creds])
            .arg(format!("docker://{host}/acme/dev/app:1.0"))
            .arg(format!("oci:{}:1.0", dir.path().join("out").display()))
            .output()?;
        assert!(out.status.success(), "{out:?}");
        let index: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("out/index.json"))?)?;
        assert_eq!(index["manifests"][0]["digest"], json!(first));
    } else {
        assert_eq!(
            served_digest(&s, "acme/dev/app", "1.0").await?,
            Some(first.clone())
        );
    }
    // Cached as packages of source upstream: the index and its two platform images.
    let (_, listed) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=name:app",
            None,
        )
        .await?;
    let listed = listed.as_array().ok_or("list")?;
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        listed.iter().all(|p| p["source"] == "upstream"),
        "{listed:?}"
    );
    // From the private upstream repository, with its credentials.
    assert_eq!(
        served_digest(&s, "acme/dev/tool", "2.0").await?,
        Some(secret.clone())
    );

    // The upstream's tag moves; after the TTL the cached tag follows.
    let second = push_index(&up, "lib/base/app", "1.0", "two").await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        served_digest(&s, "acme/dev/app", "1.0").await?,
        Some(second.clone())
    );
    // The first index is still there by digest.
    assert_eq!(
        served_digest(&s, "acme/dev/app", &first).await?,
        Some(first.clone())
    );

    // The upstream goes away: everything cached is still served, stale tags included.
    up.stop()?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        served_digest(&s, "acme/dev/app", "1.0").await?,
        Some(second)
    );
    assert_eq!(
        served_digest(&s, "acme/dev/tool", "2.0").await?,
        Some(secret)
    );
    if have_skopeo {
        let out = std::process::Command::new("skopeo")
            .args([
                "copy",
                "--all",
                "--src-tls-verify=false",
                "--src-creds",
                &creds,
            ])
            .arg(format!("docker://{host}/acme/dev/app:{first}").replace(":sha256", "@sha256"))
            .arg(format!("oci:{}:again", dir.path().join("again").display()))
            .output()?;
        assert!(out.status.success(), "{out:?}");
    }
    // Something never cached: the upstream's failure, in the registry's shape.
    let resp = s
        .req(Method::GET, "/v2/acme/dev/other/manifests/1.0", Some(ADMIN))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let body: Value = resp.json().await?;
    assert_eq!(body["errors"][0]["code"], "UNAVAILABLE", "{body}");
    Ok(())
}

/// A CNCF distribution registry (`docker-registry`) on a free loopback port; its process
/// (killed on drop) and address.
struct Distribution {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_distribution() -> TestResult<Distribution> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        ),
    )?;
    let child = std::process::Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let registry = Distribution {
        child,
        addr,
        _dir: dir,
    };
    for _ in 0..100 {
        if reqwest::get(format!("http://{}/v2/", registry.addr))
            .await
            .is_ok()
        {
            return Ok(registry);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("docker-registry did not start".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_pull_through_from_the_cncf_distribution_registry() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    if !crate::oci_tags::have("docker-registry") || !crate::oci_tags::have("skopeo") {
        eprintln!("skipped: docker-registry and skopeo are installed by scripts/test.sh (apt)");
        return Ok(());
    }
    let registry = start_distribution().await?;
    let dir = tempfile::tempdir()?;
    let layout = dir.path().join("layout");
    let digest = crate::oci_tags::layout_image(&layout, "one", &[("a.txt", b"from upstream\n")])?;
    let out = std::process::Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:one", layout.display()))
        .arg(format!("docker://{}/team/app:1.0", registry.addr))
        .output()?;
    assert!(out.status.success(), "{out:?}");

    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "upstream",
            "oci",
            "create",
            "acme/dev",
            "--name",
            "distribution",
            "--url",
            &format!("http://{}/team", registry.addr),
        ],
    )?;
    let host = s.url.trim_start_matches("http://").to_owned();
    let pull = |to: &str| {
        std::process::Command::new("skopeo")
            .args([
                "copy",
                "--src-tls-verify=false",
                "--src-creds",
                &format!("ci:{ADMIN}"),
            ])
            .arg(format!("docker://{host}/acme/dev/app:1.0"))
            .arg(format!("oci:{}:1.0", dir.path().join(to).display()))
            .output()
    };
    let out = pull("first")?;
    assert!(out.status.success(), "{out:?}");
    drop(registry);
    let out = pull("second")?;
    assert!(out.status.success(), "{out:?}");
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("second/index.json"))?)?;
    assert_eq!(index["manifests"][0]["digest"], json!(digest));
    Ok(())
}
