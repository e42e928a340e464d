//! npm upstreams: verdaccio (configured with no uplinks, so it never reaches out) and a
//! second Gantry as upstreams of a repository, with npm as the client. Merged packuments
//! with local versions winning, caching of first downloads as packages, `npm ci` from the
//! cache while the upstream is down, priorities, and local-name protection.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};
use crate::npm::{package_dir, registry, NpmClient};

/// The verdaccio binary: `GANTRY_TEST_VERDACCIO`, or where scripts/test.sh installs it.
fn verdaccio_bin() -> TestResult<PathBuf> {
    if let Ok(path) = std::env::var("GANTRY_TEST_VERDACCIO") {
        return Ok(PathBuf::from(path));
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-tools/npm/node_modules/.bin/verdaccio");
    if local.exists() {
        return Ok(local);
    }
    Err("verdaccio is not installed; run scripts/test.sh, which installs it into target/test-tools/npm".into())
}

/// verdaccio on a free port with its storage in a temporary directory; stopped on drop.
pub(crate) struct Verdaccio {
    pub(crate) url: String,
    pub(crate) token: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Verdaccio {
    pub(crate) async fn start() -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let config = format!(
            "storage: {storage}\nauth:\n  htpasswd:\n    file: {htpasswd}\n    max_users: 100\n\
             uplinks: {{}}\npackages:\n  '@*/*':\n    access: $all\n    publish: $authenticated\n\
             \x20 '**':\n    access: $all\n    publish: $authenticated\n\
             log: {{ type: stdout, format: pretty, level: error }}\n",
            storage = dir.path().join("storage").display(),
            htpasswd = dir.path().join("htpasswd").display(),
        );
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, config)?;
        let child = Command::new(verdaccio_bin()?)
            .arg("--config")
            .arg(&config_path)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if reqwest::get(format!("{url}/-/ping"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            if Instant::now() > deadline {
                return Err("verdaccio did not start".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let user: Value = reqwest::Client::new()
            .put(format!("{url}/-/user/org.couchdb.user:alice"))
            .json(&json!({"name": "alice", "password": "verdaccio-secret"}))
            .send()
            .await?
            .json()
            .await?;
        let token = user["token"]
            .as_str()
            .ok_or(format!("no token: {user}"))?
            .to_owned();
        Ok(Self {
            url,
            token,
            child,
            _dir: dir,
        })
    }

    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Verdaccio {
    fn drop(&mut self) {
        self.stop();
    }
}

fn manifest(name: &str, version: &str, marker: &str) -> Value {
    json!({"name": name, "version": version, "description": marker, "license": "MIT"})
}

async fn add_upstream(s: &TestServer, repo: &str, body: Value) -> TestResult<i64> {
    let (st, up) = s
        .admin(
            Method::POST,
            &format!("/api/v1/repos/{repo}/upstreams"),
            Some(body),
        )
        .await?;
    assert_eq!(st, reqwest::StatusCode::CREATED, "{up}");
    Ok(up["id"].as_i64().ok_or("id")?)
}

async fn full(s: &TestServer, repo: &str, name: &str) -> TestResult<Value> {
    let (st, doc) = s
        .call(
            Method::GET,
            &format!("/{repo}/npm/{}", name.replace('/', "%2f")),
            Some(ADMIN),
            None,
        )
        .await?;
    assert_eq!(st, reqwest::StatusCode::OK, "{doc}");
    Ok(doc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_verdaccio_upstream_merges_caches_and_survives_an_outage() -> TestResult {
    let mut upstream = Verdaccio::start().await?;
    let work = tempfile::tempdir()?;
    let remote = NpmClient::new(&format!("{}/", upstream.url), Some(&upstream.token.clone()))?;
    for (name, version) in [
        ("shared-name", "1.0.0"),
        ("shared-name", "2.0.0"),
        ("@up/remote-only", "1.0.0"),
    ] {
        remote.ok(
            &package_dir(work.path(), &manifest(name, version, "from upstream"))?,
            &["publish"],
        )?;
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "proxy", true).await?;
    let write = s.token("acme/proxy", "write").await?;
    let local = NpmClient::new(&registry(&s, "acme/proxy"), Some(&write))?;
    let local_dir = work.path().join("local");
    std::fs::create_dir_all(&local_dir)?;
    local.ok(
        &package_dir(&local_dir, &manifest("shared-name", "1.0.0", "local"))?,
        &["publish"],
    )?;

    // npm checks the packument before publishing, so the local version goes first.
    let up_id = add_upstream(
        &s,
        "acme/proxy",
        json!({"format": "npm", "name": "verdaccio", "url": upstream.url, "mode": "cache",
               "index_ttl_seconds": 1}),
    )
    .await?;
    // Merged: the local 1.0.0 wins over the upstream's; 2.0.0 comes from the upstream.
    let doc = full(&s, "acme/proxy", "shared-name").await?;
    assert_eq!(doc["versions"]["1.0.0"]["description"], "local");
    let local_tarball = doc["versions"]["1.0.0"]["dist"]["tarball"]
        .as_str()
        .unwrap_or_default();
    assert!(local_tarball.contains("/acme/proxy/npm/files/"), "{doc}");
    let remote_tarball = doc["versions"]["2.0.0"]["dist"]["tarball"]
        .as_str()
        .unwrap_or_default();
    assert!(
        remote_tarball.contains(&format!("/acme/proxy/npm/-/upstream/{up_id}/")),
        "{doc}"
    );
    assert!(doc["versions"]["2.0.0"]["dist"]["integrity"].is_string());
    assert_eq!(doc["dist-tags"]["latest"], "1.0.0", "the local latest wins");

    // First install streams from the upstream and caches the tarballs as packages.
    let read = s.token("acme/proxy", "read").await?;
    let consumer = NpmClient::new(&registry(&s, "acme/proxy"), Some(&read))?;
    let app = work.path().join("app");
    std::fs::create_dir_all(&app)?;
    std::fs::write(
        app.join("package.json"),
        serde_json::to_vec(&json!({"name": "app", "version": "1.0.0", "private": true,
            "dependencies": {"@up/remote-only": "1.0.0", "shared-name": "2.0.0"}}))?,
    )?;
    consumer.ok(&app, &["install"])?;
    assert!(app.join("node_modules/@up/remote-only/index.js").exists());
    let deadline = Instant::now() + Duration::from_secs(20);
    let cached = loop {
        let (_, listing) = s
            .admin(
                Method::GET,
                "/api/v1/packages/acme/proxy?query=name:%40up%2Fremote-only",
                None,
            )
            .await?;
        if let Some(p) = listing.as_array().and_then(|l| l.first()).cloned() {
            break p;
        }
        if Instant::now() > deadline {
            return Err("the upstream tarball was never cached".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(cached["source"], "upstream", "{cached}");
    assert_eq!(cached["format"], "npm");

    // The upstream goes away: npm ci still installs, from the cache (stale packuments too).
    upstream.stop();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/proxy?query=name:shared-name",
            None,
        )
        .await?
        .1
        .as_array()
        .map_or(0, Vec::len)
        < 2
    {
        if Instant::now() > deadline {
            return Err("shared-name 2.0.0 was never cached".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::remove_dir_all(app.join("node_modules"))?;
    let fresh = NpmClient::new(&registry(&s, "acme/proxy"), Some(&read))?;
    fresh.ok(&app, &["ci"])?;
    assert!(app.join("node_modules/@up/remote-only/index.js").exists());
    assert!(app.join("node_modules/shared-name/index.js").exists());
    let doc = full(&s, "acme/proxy", "@up/remote-only").await?;
    assert!(doc["versions"]["1.0.0"].is_object(), "{doc}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_upstream_priority_and_local_names_only() -> TestResult {
    let verdaccio = Verdaccio::start().await?;
    let work = tempfile::tempdir()?;
    let remote = NpmClient::new(
        &format!("{}/", verdaccio.url),
        Some(&verdaccio.token.clone()),
    )?;
    remote.ok(
        &package_dir(work.path(), &manifest("dup", "1.0.0", "verdaccio"))?,
        &["publish"],
    )?;
    remote.ok(
        &package_dir(work.path(), &manifest("guarded", "5.0.0", "verdaccio"))?,
        &["publish"],
    )?;
    // A second Gantry, public, as the other upstream.
    let other = TestServer::start()?;
    other.create_repo("up", "pub", false).await?;
    let other_dir = work.path().join("other");
    std::fs::create_dir_all(&other_dir)?;
    NpmClient::new(&registry(&other, "up/pub"), Some(ADMIN))?.ok(
        &package_dir(&other_dir, &manifest("dup", "1.0.0", "gantry"))?,
        &["publish"],
    )?;

    let s = TestServer::start()?;
    s.create_repo("acme", "mix", true).await?;
    add_upstream(&s, "acme/mix", json!({"format": "npm", "name": "verdaccio", "url": verdaccio.url, "priority": 2, "mode": "proxy"})).await?;
    add_upstream(&s, "acme/mix", json!({"format": "npm", "name": "gantry", "url": format!("{}/up/pub/npm/", other.url), "priority": 1})).await?;
    let doc = full(&s, "acme/mix", "dup").await?;
    assert_eq!(
        doc["versions"]["1.0.0"]["description"], "gantry",
        "priority 1 wins: {doc}"
    );
    let consumer = NpmClient::new(&registry(&s, "acme/mix"), Some(ADMIN))?;
    let app = work.path().join("app");
    std::fs::create_dir_all(&app)?;
    std::fs::write(
        app.join("package.json"),
        serde_json::to_vec(&json!({"name": "app", "version": "1.0.0", "private": true,
            "dependencies": {"dup": "1.0.0"}}))?,
    )?;
    consumer.ok(&app, &["install"])?;
    let installed: Value =
        serde_json::from_slice(&std::fs::read(app.join("node_modules/dup/package.json"))?)?;
    assert_eq!(installed["description"], "gantry");

    // Against dependency confusion: a name held locally is served from local versions only.
    s.create_repo("acme", "guard", true).await?;
    let guard_dir = work.path().join("guard");
    std::fs::create_dir_all(&guard_dir)?;
    NpmClient::new(&registry(&s, "acme/guard"), Some(ADMIN))?.ok(
        &package_dir(&guard_dir, &manifest("guarded", "1.0.0", "ours"))?,
        &["publish"],
    )?;
    let doc = full(&s, "acme/guard", "guarded").await?;
    let versions: Vec<&String> = doc["versions"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(versions, ["1.0.0"], "{doc}");
    assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
    Ok(())
}
