//! OCI images with the real clients, against a test server: skopeo and umoci (a
//! multi-platform index built from local files, in and out with identical digests), buildah
//! and podman, and oras-py with a referrer. No image comes from the internet.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{sha256_hex, TestResult, TestServer};

/// Whether `tool` is installed (scripts/test.sh installs the OCI clients with apt).
fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut std::process::Command) -> TestResult<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// An OCI layout in `dir` with an image per platform (built by umoci from local files) and a
/// hand-written index of both under the tag `multi`; the index's digest.
fn build_multi_platform_layout(dir: &std::path::Path) -> TestResult<String> {
    let layout = dir.join("layout");
    let l = layout.display().to_string();
    run(std::process::Command::new("umoci").args(["init", "--layout", &l]))?;
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let image = format!("{l}:{arch}");
        let bundle = dir.join(format!("bundle-{arch}"));
        run(std::process::Command::new("umoci").args(["new", "--image", &image]))?;
        run(std::process::Command::new("umoci")
            .args(["unpack", "--rootless", "--image", &image])
            .arg(&bundle))?;
        std::fs::write(
            bundle.join("rootfs/hello.txt"),
            format!("hello from {arch}\n"),
        )?;
        run(std::process::Command::new("umoci")
            .args(["repack", "--image", &image])
            .arg(&bundle))?;
        run(std::process::Command::new("umoci").args([
            "config",
            "--image",
            &image,
            "--os",
            "linux",
            "--architecture",
            arch,
            "--config.label",
            &format!("org.example.arch={arch}"),
        ]))?;
    }
    let index_path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&index_path)?)?;
    for m in index["manifests"].as_array().ok_or("manifests")? {
        let arch = m["annotations"]["org.opencontainers.image.ref.name"].clone();
        manifests.push(
            json!({"mediaType": m["mediaType"], "digest": m["digest"], "size": m["size"],
            "platform": {"os": "linux", "architecture": arch}}),
        );
    }
    let multi = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests})
    .to_string();
    let hex = sha256_hex(multi.as_bytes());
    std::fs::write(layout.join("blobs/sha256").join(&hex), &multi)?;
    index["manifests"].as_array_mut().ok_or("manifests")?.push(
        json!({"mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": format!("sha256:{hex}"), "size": multi.len(),
            "annotations": {"org.opencontainers.image.ref.name": "multi"}}),
    );
    std::fs::write(&index_path, index.to_string())?;
    Ok(format!("sha256:{hex}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_skopeo_copies_a_multi_platform_index_in_and_out_with_identical_digests() -> TestResult
{
    if !have("skopeo") || !have("umoci") {
        eprintln!(
            "skipped: skopeo and umoci are not installed (scripts/test.sh installs them with apt)"
        );
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let token = s.token("acme", "admin").await?;
    let dir = tempfile::tempdir()?;
    let digest = build_multi_platform_layout(dir.path())?;
    let host = s.url.trim_start_matches("http://").to_owned();
    let image = format!("docker://{host}/acme/dev/team/app");
    let creds = format!("ci:{token}");
    let layout = format!("oci:{}:multi", dir.path().join("layout").display());
    run(std::process::Command::new("skopeo").args([
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
        &layout,
        &format!("{image}:1.0"),
    ]))?;
    let common = ["--tls-verify=false", "--creds", &creds];
    let raw = run(std::process::Command::new("skopeo")
        .args(["inspect", "--raw"])
        .args(common)
        .arg(format!("{image}:1.0")))?;
    assert_eq!(format!("sha256:{}", sha256_hex(raw.as_bytes())), digest);
    let inspected: Value = serde_json::from_str(&run(std::process::Command::new("skopeo")
        .args(["inspect", "--override-arch", "arm64"])
        .args(common)
        .arg(format!("{image}:1.0")))?)?;
    assert_eq!(
        inspected["Labels"]["org.example.arch"], "arm64",
        "{inspected}"
    );
    let tags: Value = serde_json::from_str(&run(std::process::Command::new("skopeo")
        .arg("list-tags")
        .args(common)
        .arg(&image))?)?;
    assert_eq!(tags["Tags"], json!(["1.0"]));
    // Out again into a new layout: the same index digest.
    let out = dir.path().join("out");
    run(std::process::Command::new("skopeo").args([
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--src-creds",
        &creds,
        &format!("{image}:1.0"),
        &format!("oci:{}:multi", out.display()),
    ]))?;
    let index: Value = serde_json::from_slice(&std::fs::read(out.join("index.json"))?)?;
    assert_eq!(index["manifests"][0]["digest"], json!(digest));
    let hello = std::fs::read_dir(out.join("blobs/sha256"))?.count();
    assert_eq!(hello, 7, "index, 2 manifests, 2 configs, 2 layers");
    // The package JSON describes the image.
    let (_, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    let package = list
        .as_array()
        .and_then(|a| a.iter().find(|p| p["version"] == "1.0"))
        .ok_or("package 1.0")?;
    assert_eq!(package["name"], "team/app");
    assert_eq!(
        package["metadata"]["platforms"].as_array().map(Vec::len),
        Some(2),
        "{package}"
    );
    // Delete by tag (skopeo resolves it to the digest): gone.
    run(std::process::Command::new("skopeo")
        .arg("delete")
        .args(common)
        .arg(format!("{image}:1.0")))?;
    let gone = std::process::Command::new("skopeo")
        .args(["inspect", "--raw"])
        .args(common)
        .arg(format!("{image}:1.0"))
        .output()?;
    assert!(!gone.status.success());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_buildah_builds_from_scratch_and_podman_logs_in_pulls_and_pushes() -> TestResult {
    if !have("podman") || !have("buildah") {
        eprintln!("skipped: podman and buildah are not installed (scripts/test.sh installs them with apt)");
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let token = s.token("acme", "write").await?;
    let dir = tempfile::tempdir()?;
    let d = dir.path().display().to_string();
    let host = s.url.trim_start_matches("http://").to_owned();
    let storage = |tool: &str| -> std::process::Command {
        let mut cmd = std::process::Command::new(tool);
        cmd.args([
            "--root",
            &format!("{d}/{tool}-root"),
            "--runroot",
            &format!("{d}/{tool}-run"),
        ])
        .args(["--storage-driver", "vfs"])
        .env("REGISTRY_AUTH_FILE", format!("{d}/auth.json"));
        cmd
    };
    // podman login: wrong token refused, the right one accepted and used afterwards.
    let refused = storage("podman")
        .args([
            "login",
            "--tls-verify=false",
            "-u",
            "ci",
            "-p",
            "gty_wrong",
            &host,
        ])
        .output()?;
    assert!(!refused.status.success());
    run(storage("podman").args([
        "login",
        "--tls-verify=false",
        "-u",
        "ci",
        "-p",
        &token,
        &host,
    ]))?;
    // buildah: from scratch, a file, a label, commit, push.
    let container = run(storage("buildah").args(["from", "scratch"]))?;
    let container = container
        .trim()
        .lines()
        .last()
        .ok_or("container")?
        .to_owned();
    std::fs::write(dir.path().join("hello.txt"), "hello from buildah\n")?;
    run(storage("buildah").args(["copy", &container, &format!("{d}/hello.txt"), "/hello.txt"]))?;
    run(storage("buildah").args(["config", "--label", "org.example.built=yes", &container]))?;
    let image = format!("{host}/acme/dev/built:1");
    run(storage("buildah").args(["commit", &container, &image]))?;
    run(storage("buildah").args(["push", "--tls-verify=false", &image]))?;
    // podman pulls it, and pushes it again as a Docker schema 2 image under another name.
    run(storage("podman").args(["pull", "--tls-verify=false", &image]))?;
    let docker = format!("{host}/acme/dev/team/docker:v2s2");
    run(storage("podman").args([
        "push",
        "--tls-verify=false",
        "--format",
        "v2s2",
        &image,
        &docker,
    ]))?;
    let resp = s
        .req(
            Method::GET,
            "/v2/acme/dev/team/docker/manifests/v2s2",
            Some(&token),
        )
        .header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/vnd.docker.distribution.manifest.v2+json")
    );
    let (_, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    let built = list
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "built"))
        .ok_or("built")?;
    assert_eq!(
        built["metadata"]["config"]["labels"]["org.example.built"], "yes",
        "{built}"
    );
    Ok(())
}

/// oras-py pushes a file artifact, then an SBOM artifact whose `subject` is the first.
const ORAS_SCRIPT: &str = r#"
import sys, oras.provider, oras.oci
host, token, auth, workdir = sys.argv[1:5]
import os; os.chdir(workdir)
open("a.txt", "w").write("hello\n")
open("sbom.json", "w").write("{\"sbom\": true}\n")
open("cfg.json", "w").write("{}")
reg = oras.provider.Registry(hostname=host, insecure=True)
reg.login("ci", token, tls_verify=False, hostname=host, config_path=auth)
r = reg.push(target=f"{host}/acme/dev/app:1.0", files=["a.txt"])
assert r.status_code == 201, r.text
subject = oras.oci.Subject.from_manifest(reg.get_manifest(f"{host}/acme/dev/app:1.0"))
r = reg.push(target=f"{host}/acme/dev/app:sbom", files=["sbom.json"], subject=subject,
             manifest_config="cfg.json:application/vnd.example.sbom.v1")
assert r.status_code == 201, r.text
assert r.headers.get("OCI-Subject") == subject.digest, r.headers
print(subject.digest)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_oras_artifact_with_a_referrer_is_found_by_the_referrers_api() -> TestResult {
    let Ok(python) = crate::python::tool("python") else {
        eprintln!("skipped: no python in the test tools");
        return Ok(());
    };
    let has_oras = std::process::Command::new(&python)
        .args(["-c", "import oras"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_oras {
        eprintln!("skipped: oras-py is not installed (scripts/test.sh installs it into target/test-tools)");
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let token = s.token("acme", "write").await?;
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("push.py");
    std::fs::write(&script, ORAS_SCRIPT)?;
    let host = s.url.trim_start_matches("http://").to_owned();
    let subject = run(std::process::Command::new(&python).arg(&script).args([
        host.as_str(),
        token.as_str(),
        &dir.path().join("auth.json").display().to_string(),
        &dir.path().display().to_string(),
    ]))?;
    let subject = subject.trim();
    let path = format!("/v2/acme/dev/app/referrers/{subject}");
    let resp = s
        .req(
            Method::GET,
            &format!("{path}?artifactType=application/vnd.example.sbom.v1"),
            Some(&token),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()
            .get("oci-filters-applied")
            .and_then(|v| v.to_str().ok()),
        Some("artifactType")
    );
    let index: Value = resp.json().await?;
    assert_eq!(
        index["manifests"].as_array().map(Vec::len),
        Some(1),
        "{index}"
    );
    assert_eq!(
        index["manifests"][0]["artifactType"],
        "application/vnd.example.sbom.v1"
    );
    let (_, other) = s
        .call(
            Method::GET,
            &format!("{path}?artifactType=application/x-none"),
            Some(&token),
            None,
        )
        .await?;
    assert_eq!(other["manifests"], json!([]));
    Ok(())
}
