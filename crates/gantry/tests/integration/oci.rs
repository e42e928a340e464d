//! OCI images: the distribution specification's own conformance suite against a test server,
//! and the registry's rules (auth challenge, private repositories, read tokens, quarantine,
//! promotion of an image with its blobs) over plain HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{sha256_hex, TestResult, TestServer, ADMIN};

/// The repository root (the shared tools are checked out next to it).
fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_conformance_suite_passes_every_spec() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let token = s.token("acme", "admin").await?;
    let report = tempfile::tempdir()?;
    let out = std::process::Command::new("../shared/tools/oci-conformance/run.sh")
        .current_dir(repo_root())
        .args([s.url.as_str(), "acme/dev/conformance", "ci"])
        .env("OCI_PASSWORD", &token)
        .env("OCI_CROSSMOUNT_NAMESPACE", "acme/dev/conformance-mount")
        // Mounts need `from`: without it the answer is an upload session (202).
        .env("OCI_AUTOMATIC_CROSSMOUNT", "false")
        .env("OCI_REPORT_DIR", report.path())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("conformance ({}): {stdout}", crate::common::backend());
    let log = std::fs::read_to_string(report.path().join("conformance.log")).unwrap_or_default();
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("[FAIL]") || l.contains("Expected"))
        .take(60)
        .collect();
    assert!(
        out.status.success() && stdout.contains(" 0 failed"),
        "conformance: {stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        failures.join("\n")
    );
    Ok(())
}

/// Pushes a blob monolithically; its digest.
pub(crate) async fn push_blob(
    s: &TestServer,
    name: &str,
    token: &str,
    bytes: &[u8],
) -> TestResult<String> {
    let digest = format!("sha256:{}", sha256_hex(bytes));
    let resp = s
        .req(
            Method::POST,
            &format!("/v2/{name}/blobs/uploads/?digest={digest}"),
            Some(token),
        )
        .body(bytes.to_vec())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await?);
    Ok(digest)
}

/// Pushes a one-layer image under `tag`; the manifest's digest.
async fn push_image(
    s: &TestServer,
    name: &str,
    tag: &str,
    token: &str,
    layer: &[u8],
) -> TestResult<String> {
    let config = json!({"architecture": "amd64", "os": "linux",
        "config": {"Labels": {"org.example.tag": tag}}, "rootfs": {"type": "layers", "diff_ids": []}})
    .to_string();
    let config_digest = push_blob(s, name, token, config.as_bytes()).await?;
    let layer_digest = push_blob(s, name, token, layer).await?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": layer.len()}],
    })
    .to_string();
    let resp = s
        .req(
            Method::PUT,
            &format!("/v2/{name}/manifests/{tag}"),
            Some(token),
        )
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await?);
    Ok(format!("sha256:{}", sha256_hex(manifest.as_bytes())))
}

fn first_error_code(body: &Value) -> &str {
    body["errors"][0]["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_auth_challenge_private_repos_and_read_tokens() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "pub", false).await?;
    s.create_repo("other", "secret", true).await?;
    let write = s.token("acme", "write").await?;
    let read = s.token("acme", "read").await?;
    let outsider = s.token("other", "admin").await?;
    push_image(&s, "acme/dev/app", "1.0", &write, b"private layer").await?;
    push_image(&s, "acme/pub/team/app", "1.0", &write, b"public layer").await?;

    // Anonymous: challenged on /v2/ and on the private image, with the realm and scope.
    let resp = s.req(Method::GET, "/v2/", None).send().await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer realm=\"") && challenge.contains("/v2/token\""),
        "{challenge}"
    );
    let resp = s
        .req(Method::GET, "/v2/acme/dev/app/manifests/1.0", None)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.contains("scope=\"repository:acme/dev/app:pull\""),
        "{challenge}"
    );
    // The same answer for a repository that does not exist: nothing is learned.
    let resp = s
        .req(Method::GET, "/v2/acme/nope/app/manifests/1.0", None)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // The anonymous token reads public images, and only those.
    let (st, tok) = s
        .call(
            Method::GET,
            "/v2/token?service=gantry&scope=repository:acme/pub/team/app:pull",
            None,
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    let anon = tok["token"].as_str().ok_or("token")?.to_owned();
    let resp = s.req(Method::GET, "/v2/", Some(&anon)).send().await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = s
        .req(
            Method::GET,
            "/v2/acme/pub/team/app/manifests/1.0",
            Some(&anon),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = s
        .req(Method::GET, "/v2/acme/dev/app/tags/list", Some(&anon))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Basic credentials at the token endpoint give a bearer token that works.
    let resp = s
        .http
        .get(format!("{}/v2/token?service=gantry", s.url))
        .basic_auth("anyone", Some(&read))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let bearer = resp.json::<Value>().await?["token"]
        .as_str()
        .ok_or("token")?
        .to_owned();
    let (st, tags) = s
        .call(
            Method::GET,
            "/v2/acme/dev/app/tags/list",
            Some(&bearer),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{tags}");
    assert_eq!(tags["tags"], json!(["1.0"]));
    // Basic auth directly on a route works too.
    let resp = s
        .http
        .get(format!("{}/v2/acme/dev/app/manifests/1.0", s.url))
        .basic_auth("anyone", Some(&read))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);

    // An outsider does not see the private repository.
    let (st, body) = s
        .call(
            Method::GET,
            "/v2/acme/dev/app/tags/list",
            Some(&outsider),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(first_error_code(&body), "NAME_UNKNOWN");

    // A mount from a repository the caller cannot read is an ordinary upload session.
    let layer = format!("sha256:{}", sha256_hex(b"private layer"));
    let resp = s
        .req(
            Method::POST,
            &format!("/v2/other/secret/app/blobs/uploads/?mount={layer}&from=acme/dev/app"),
            Some(&outsider),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let (st, _) = s
        .call(
            Method::GET,
            &format!("/v2/other/secret/app/blobs/{layer}"),
            Some(&outsider),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // An entitlement pulls, within its download budget (one per manifest pull).
    let (st, ent) = s
        .admin(
            Method::POST,
            "/api/v1/entitlements/acme/dev",
            Some(json!({"max_downloads": 1})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{ent}");
    let ent = ent["token"].as_str().ok_or("token")?.to_owned();
    let (st, _) = s
        .call(
            Method::GET,
            "/v2/acme/dev/app/manifests/1.0",
            Some(&ent),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    let (st, body) = s
        .call(
            Method::GET,
            "/v2/acme/dev/app/manifests/1.0",
            Some(&ent),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(first_error_code(&body), "DENIED");
    let (st, _) = s
        .call(
            Method::POST,
            "/v2/acme/dev/app/blobs/uploads/",
            Some(&ent),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // A read token cannot push: DENIED.
    let (st, body) = s
        .call(
            Method::POST,
            "/v2/acme/dev/app/blobs/uploads/",
            Some(&read),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(first_error_code(&body), "DENIED");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_images_are_packages_tags_move_and_quarantine_refuses_pulls() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let first = push_image(&s, "acme/dev/team/app", "latest", ADMIN, b"layer one").await?;
    let second = push_image(&s, "acme/dev/team/app", "latest", ADMIN, b"layer two").await?;
    assert_ne!(first, second);
    let (st, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(st, StatusCode::OK);
    let packages = list.as_array().ok_or("array")?;
    let versions: Vec<&str> = packages
        .iter()
        .filter_map(|p| p["version"].as_str())
        .collect();
    assert!(
        versions.contains(&"latest") && versions.contains(&first.as_str()),
        "{versions:?}"
    );
    let latest = packages
        .iter()
        .find(|p| p["version"] == "latest")
        .ok_or("latest")?;
    assert_eq!(latest["format"], "oci");
    assert_eq!(latest["name"], "team/app");
    assert_eq!(latest["files"].as_array().map(Vec::len), Some(3));
    // The moved tag's old manifest is still there by digest.
    let resp = s
        .req(
            Method::GET,
            &format!("/v2/acme/dev/team/app/manifests/{first}"),
            Some(ADMIN),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok()),
        Some(first.as_str())
    );

    // Quarantine refuses the manifest and its blobs.
    let slug = latest["slug_perm"].as_str().ok_or("slug")?;
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/quarantine"),
            Some(json!({})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, body) = s
        .admin(Method::GET, "/v2/acme/dev/team/app/manifests/latest", None)
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(first_error_code(&body), "DENIED");
    let layer = format!("sha256:{}", sha256_hex(b"layer two"));
    let (st, _) = s
        .admin(
            Method::GET,
            &format!("/v2/acme/dev/team/app/blobs/{layer}"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    Ok(())
}

/// The hits of the in-memory cache of derived answers (`/metrics`).
async fn derived_hits(s: &TestServer) -> TestResult<f64> {
    let text = s
        .req(Method::GET, "/metrics", None)
        .send()
        .await?
        .text()
        .await?;
    let hits = "gantry_cache_lookups_total{cache=\"derived\",result=\"hit\"}";
    Ok(text
        .lines()
        .find(|l| l.starts_with(hits))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0))
}

/// A pull of an unchanged manifest or blob is answered from memory (no database work on the hot
/// path), and every change — a tag moved, a quarantine — shows at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_manifest_and_blob_reads_come_from_memory_until_something_changes() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    let get_latest = || async {
        let resp = s
            .req(
                Method::GET,
                "/v2/acme/dev/app/manifests/latest",
                Some(ADMIN),
            )
            .send()
            .await?;
        let digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        TestResult::Ok((resp.status(), digest))
    };
    let first = push_image(&s, "acme/dev/app", "latest", ADMIN, b"layer one").await?;
    // The package's sync writes after the push; read until two reads in a row met no change.
    let mut served_from_memory = false;
    for _ in 0..40 {
        assert_eq!(get_latest().await?, (StatusCode::OK, first.clone()));
        let before = derived_hits(&s).await?;
        for _ in 0..3 {
            assert_eq!(get_latest().await?, (StatusCode::OK, first.clone()));
        }
        if derived_hits(&s).await? >= before + 3.0 {
            served_from_memory = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(served_from_memory, "manifest reads never hit the cache");
    // Blobs alike: three reads of an unchanged layer are three hits.
    let layer = format!("sha256:{}", sha256_hex(b"layer one"));
    let get_layer = || async {
        let resp = s
            .req(
                Method::GET,
                &format!("/v2/acme/dev/app/blobs/{layer}"),
                Some(ADMIN),
            )
            .send()
            .await?;
        TestResult::Ok(resp.status())
    };
    let mut blobs_from_memory = false;
    for _ in 0..40 {
        assert_eq!(get_layer().await?, StatusCode::OK);
        let before = derived_hits(&s).await?;
        for _ in 0..3 {
            assert_eq!(get_layer().await?, StatusCode::OK);
        }
        if derived_hits(&s).await? >= before + 3.0 {
            blobs_from_memory = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(blobs_from_memory, "blob reads never hit the cache");

    let second = push_image(&s, "acme/dev/app", "latest", ADMIN, b"layer two").await?;
    assert_eq!(get_latest().await?, (StatusCode::OK, second));
    let second_layer = format!("sha256:{}", sha256_hex(b"layer two"));
    let get_second_layer = || async {
        let resp = s
            .req(
                Method::GET,
                &format!("/v2/acme/dev/app/blobs/{second_layer}"),
                Some(ADMIN),
            )
            .send()
            .await?;
        TestResult::Ok(resp.status())
    };
    assert_eq!(get_second_layer().await?, StatusCode::OK);
    let (st, list) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=version:latest",
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{list}");
    let slug = list[0]["slug_perm"].as_str().ok_or("slug")?;
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/quarantine"),
            Some(json!({})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(get_latest().await?.0, StatusCode::FORBIDDEN);
    assert_eq!(get_second_layer().await?, StatusCode::FORBIDDEN);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_deleting_an_image_keeps_blobs_other_images_share() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    // Two images share a layer; deleting one leaves the other whole, bytes and all.
    let shared = b"shared layer";
    let one = push_image(&s, "acme/dev/one", "1", ADMIN, shared).await?;
    push_image(&s, "acme/dev/two", "1", ADMIN, shared).await?;
    let (st, _) = s
        .admin(
            Method::DELETE,
            &format!("/v2/acme/dev/one/manifests/{one}"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (st, _) = s
        .admin(Method::GET, "/v2/acme/dev/one/manifests/1", None)
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let digest = format!("sha256:{}", sha256_hex(shared));
    let (st, _) = s
        .admin(
            Method::DELETE,
            &format!("/v2/acme/dev/one/blobs/{digest}"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (st, _) = s
        .admin(
            Method::GET,
            &format!("/v2/acme/dev/one/blobs/{digest}"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let resp = s
        .req(
            Method::GET,
            &format!("/v2/acme/dev/two/blobs/{digest}"),
            Some(ADMIN),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await?.as_ref(), shared);

    // Pushing a tagged manifest again by its digest adds no package.
    let (_, before) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    let manifest = s
        .req(Method::GET, "/v2/acme/dev/two/manifests/1", Some(ADMIN))
        .send()
        .await?
        .bytes()
        .await?;
    let two = format!("sha256:{}", sha256_hex(&manifest));
    let resp = s
        .req(
            Method::PUT,
            &format!("/v2/acme/dev/two/manifests/{two}"),
            Some(ADMIN),
        )
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_vec())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (_, after) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(
        before.as_array().map(Vec::len),
        after.as_array().map(Vec::len)
    );

    // A repository holding images and blob links can be deleted, and made again empty.
    let (st, body) = s
        .admin(Method::DELETE, "/api/v1/repos/acme/dev?force=true", None)
        .await?;
    assert!(st.is_success(), "{st} {body}");
    s.create_repo("acme", "dev", true).await?;
    let (st, tags) = s
        .admin(Method::GET, "/v2/acme/dev/two/tags/list", None)
        .await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(tags["tags"], json!([]));
    let (st, _) = s
        .admin(
            Method::GET,
            &format!("/v2/acme/dev/two/blobs/{digest}"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_index_promotes_with_its_graph_without_copying_bytes() -> TestResult {
    if crate::common::blobs_in_s3() {
        return Ok(());
    }
    let s = TestServer::start()?;
    for repo in ["dev", "staging", "production"] {
        s.create_repo("acme", repo, true).await?;
    }
    let amd = push_image(&s, "acme/dev/app", "amd64", ADMIN, b"amd64 layer").await?;
    let arm = push_image(&s, "acme/dev/app", "arm64", ADMIN, b"arm64 layer").await?;
    let size = |d: &str| -> TestResult<usize> { Ok(d.len()) };
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd, "size": size(&amd)?,
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": size(&arm)?,
             "platform": {"os": "linux", "architecture": "arm64"}},
        ],
    })
    .to_string();
    let resp = s
        .req(Method::PUT, "/v2/acme/dev/app/manifests/1.0", Some(ADMIN))
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(index.clone())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await?);
    let index_digest = format!("sha256:{}", sha256_hex(index.as_bytes()));
    let (_, list) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=version:1.0",
            None,
        )
        .await?;
    let package = list
        .as_array()
        .and_then(|a| a.iter().find(|p| p["version"] == "1.0"))
        .ok_or("index package")?
        .clone();
    // The index, two manifests, two configs, two layers.
    assert_eq!(
        package["files"].as_array().map(Vec::len),
        Some(7),
        "{package}"
    );
    let blobs_before = crate::common::files_under(&s.blobs_dir()).len();
    let slug = package["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let (st, copy) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/copy"),
            Some(json!({"destination": "staging"})),
        )
        .await?;
    assert_eq!(st.as_u16() / 100, 2, "{copy}");
    let staged = copy["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let (st, moved) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/staging/{staged}/move"),
            Some(json!({"destination": "production"})),
        )
        .await?;
    assert_eq!(st.as_u16() / 100, 2, "{moved}");
    for reference in ["1.0", index_digest.as_str(), amd.as_str(), arm.as_str()] {
        let resp = s
            .req(Method::GET, &format!("/v2/acme/production/app/manifests/{reference}"), Some(ADMIN))
            .header("accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::OK, "{reference}");
    }
    let layer = format!("sha256:{}", sha256_hex(b"arm64 layer"));
    let resp = s
        .req(
            Method::GET,
            &format!("/v2/acme/production/app/blobs/{layer}"),
            Some(ADMIN),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await?.as_ref(), b"arm64 layer");
    assert_eq!(
        crate::common::files_under(&s.blobs_dir()).len(),
        blobs_before,
        "no bytes copied"
    );
    // Staging no longer has it; dev still does.
    let (st, _) = s
        .admin(Method::GET, "/v2/acme/staging/app/manifests/1.0", None)
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .admin(Method::GET, "/v2/acme/dev/app/manifests/1.0", None)
        .await?;
    assert_eq!(st, StatusCode::OK);

    // Bulk promotion of every image package of dev (the index and both platform images).
    s.create_repo("acme", "qa", true).await?;
    let (st, done) = s
        .admin(
            Method::POST,
            "/api/v1/promotions",
            Some(json!({"source": "acme/dev", "destination": "qa", "query": "format:oci"})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{done}");
    assert_eq!(done["promoted"], 3, "{done}");
    for reference in ["1.0", "amd64", "arm64", index_digest.as_str()] {
        let (st, _) = s
            .admin(
                Method::GET,
                &format!("/v2/acme/qa/app/manifests/{reference}"),
                None,
            )
            .await?;
        assert_eq!(st, StatusCode::OK, "{reference}");
    }
    assert_eq!(
        crate::common::files_under(&s.blobs_dir()).len(),
        blobs_before
    );
    Ok(())
}

/// An uncompressed tar layer holding `files`.
pub(crate) fn tar_layer(files: &[(&str, &[u8])]) -> TestResult<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, body) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, *body)?;
    }
    Ok(builder.into_inner()?)
}

/// A gzip-compressed tar layer holding `files`.
pub(crate) fn gzip_layer(files: &[(&str, &[u8])]) -> TestResult<Vec<u8>> {
    let tar = tar_layer(files)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar)?;
    Ok(gz.finish()?)
}

/// Pushes an image of `layers` (gzip) for `arch`; its manifest digest and size.
pub(crate) async fn push_layers(
    s: &TestServer,
    name: &str,
    reference: Option<&str>,
    arch: &str,
    layers: &[Vec<u8>],
) -> TestResult<(String, usize)> {
    let config =
        json!({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
            .to_string();
    let config_digest = push_blob(s, name, ADMIN, config.as_bytes()).await?;
    let mut descriptors = Vec::new();
    for layer in layers {
        let digest = push_blob(s, name, ADMIN, layer).await?;
        descriptors.push(
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest, "size": layer.len()}),
        );
    }
    let manifest =
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": config.len()},
        "layers": descriptors})
        .to_string();
    let digest = format!("sha256:{}", sha256_hex(manifest.as_bytes()));
    let resp = s
        .req(
            Method::PUT,
            &format!("/v2/{name}/manifests/{}", reference.unwrap_or(&digest)),
            Some(ADMIN),
        )
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await?);
    Ok((digest, manifest.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_image_scan_reports_the_python_packages_its_layers_install() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let osv = crate::scanning::shared("osv/PyPI");
    s.cli_ok(
        Some(ADMIN),
        &["vulndb", "import", &osv.display().to_string()],
    )?;
    // urllib3 1.24.1 in the first layer; a second layer removes an old requests with a whiteout.
    let site = "usr/lib/python3/dist-packages";
    let metadata = b"Metadata-Version: 2.1\nName: urllib3\nVersion: 1.24.1\n\n";
    let base = gzip_layer(&[
        (
            &format!("{site}/urllib3-1.24.1.dist-info/METADATA"),
            metadata,
        ),
        (
            &format!("{site}/requests-2.0.0.dist-info/METADATA"),
            b"Name: requests\nVersion: 2.0.0\n",
        ),
    ])?;
    let top = gzip_layer(&[(&format!("{site}/.wh.requests-2.0.0.dist-info"), b"")])?;
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let (digest, size) =
            push_layers(&s, "acme/dev/py", None, arch, &[base.clone(), top.clone()]).await?;
        children.push(
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
            "size": size, "platform": {"os": "linux", "architecture": arch}}),
        );
    }
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": children})
    .to_string();
    let resp = s
        .req(Method::PUT, "/v2/acme/dev/py/manifests/1.0", Some(ADMIN))
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(index)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (_, list) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=version:1.0",
            None,
        )
        .await?;
    let slug = list
        .as_array()
        .and_then(|a| a.iter().find(|p| p["version"] == "1.0"))
        .and_then(|p| p["slug_perm"].as_str())
        .ok_or("package")?
        .to_owned();
    let p = crate::scanning::wait_scanned(&s, "acme/dev", &slug).await?;
    // What the shared OSV data gives for urllib3 1.24.1 (fixtures/MANIFEST.tsv), each once
    // although both platforms install it.
    let expected: std::collections::BTreeSet<String> = crate::scanning::manifest_rows("python")?
        .into_iter()
        .find(|cols| cols[2] == "urllib3" && cols[3] == "1.24.1")
        .ok_or("urllib3 row")?[7]
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(p["security_scan_status"], "vulnerabilities_found", "{p}");
    assert_eq!(p["num_vulnerabilities"], expected.len(), "{p}");
    let (_, report) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/vulnerabilities"),
            None,
        )
        .await?;
    let vulns = report["vulnerabilities"].as_array().ok_or("array")?;
    let found: std::collections::BTreeSet<String> = vulns
        .iter()
        .filter_map(|v| v["advisory_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(found, expected, "{report}");
    let base_digest = format!("sha256:{}", sha256_hex(&base));
    let component = &vulns[0]["components"][0];
    assert_eq!(component["name"], "urllib3", "{report}");
    assert_eq!(component["location"]["layer"], json!(base_digest));
    assert_eq!(
        component["location"]["path"],
        json!(format!("{site}/urllib3-1.24.1.dist-info/METADATA"))
    );
    assert!(
        !report.to_string().contains("requests"),
        "the whiteout removed requests"
    );
    Ok(())
}
