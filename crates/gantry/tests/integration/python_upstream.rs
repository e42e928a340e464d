//! Python upstreams: pypiserver and a second Gantry as upstreams, caching, outages,
//! priorities and local-name protection, with pip as the client.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};
use crate::python::{fixture, index_url, ok, pip, tool};

/// pypiserver on a free port, serving a directory; stopped on drop.
struct PypiServer {
    url: String,
    child: Child,
}

impl PypiServer {
    async fn start(dir: &Path) -> TestResult<Self> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        // --disable-fallback: never redirect unknown names to the public index.
        let child = Command::new(tool("pypi-server")?)
            .args([
                "run",
                "-p",
                &port.to_string(),
                "-i",
                "127.0.0.1",
                "--disable-fallback",
                "-a",
                ".",
                "-P",
                ".",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if reqwest::get(format!("{url}/simple/"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            if Instant::now() > deadline {
                return Err("pypiserver did not start".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self { url, child })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PypiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal wheel `NAME-VERSION-py3-none-any.whl` with a module and METADATA.
fn tiny_wheel(dir: &Path, name: &str, version: &str) -> TestResult<std::path::PathBuf> {
    let path = dir.join(format!("{name}-{version}-py3-none-any.whl"));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path)?);
    let dist = format!("{name}-{version}.dist-info");
    for (entry, body) in [
        (
            format!("{name}/__init__.py"),
            format!("__version__ = '{version}'\n"),
        ),
        (
            format!("{dist}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
        ),
        (
            format!("{dist}/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_owned(),
        ),
        (format!("{dist}/RECORD"), String::new()),
    ] {
        zip.start_file(entry, zip::write::SimpleFileOptions::default())?;
        zip.write_all(body.as_bytes())?;
    }
    zip.finish()?;
    Ok(path)
}

async fn add_upstream(s: &TestServer, repo: &str, body: Value) -> TestResult<Value> {
    let (st, u) = s
        .admin(
            Method::POST,
            &format!("/api/v1/repos/{repo}/upstreams"),
            Some(body),
        )
        .await?;
    assert_eq!(st, reqwest::StatusCode::CREATED, "{u}");
    Ok(u)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_upstream_stores_what_it_serves_and_survives_an_outage() -> TestResult {
    let pkgs = tempfile::tempdir()?;
    for f in [
        "six-1.16.0-py2.py3-none-any.whl",
        "idna-3.7-py3-none-any.whl",
    ] {
        std::fs::copy(fixture(f), pkgs.path().join(f))?;
    }
    let mut upstream = PypiServer::start(pkgs.path()).await?;
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "upstream",
            "python",
            "create",
            "acme/dev",
            "--name",
            "pypiserver",
            "--url",
            &format!("{}/simple/", upstream.url),
            "--mode",
            "cache",
            "--index-ttl-seconds",
            "1",
            "-F",
            "json",
        ],
    )?;
    let created: Value = serde_json::from_str(&out)?;
    assert_eq!(created["mode"], "cache");

    let dir = tempfile::tempdir()?;
    ok(
        &pip(
            &["six"],
            &index_url(&s, "acme/dev", None),
            &dir.path().join("a"),
        )?,
        "pip through the upstream",
    )?;
    // The file was stored while it streamed: it is now a package of the repository.
    let mut cached = Value::Null;
    for _ in 0..100 {
        let (_, list) = s
            .admin(
                Method::GET,
                "/api/v1/packages/acme/dev?query=name:six",
                None,
            )
            .await?;
        if list.as_array().is_some_and(|l| !l.is_empty()) {
            cached = list[0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cached["source"], "upstream", "{cached}");
    assert_eq!(cached["upstream"], "pypiserver");
    assert_eq!(cached["sync_status"], "completed");
    assert_eq!(
        cached["checksum_sha256"],
        "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"
    );
    let slug = cached["slug_perm"].as_str().ok_or("slug")?;
    let (_, trail) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/events"),
            None,
        )
        .await?;
    assert_eq!(trail[0]["event"], "package.created");
    assert_eq!(trail[0]["actor"], "upstream:pypiserver");
    assert_eq!(trail[0]["context"]["upstream"], "pypiserver");
    // Look at idna's page (so it is cached) but do not download it.
    let page = s
        .http
        .get(format!("{}/acme/dev/python/simple/idna/", s.url))
        .send()
        .await?
        .text()
        .await?;
    assert!(page.contains("idna-3.7-py3-none-any.whl"));

    upstream.stop();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ok(
        &pip(
            &["six"],
            &index_url(&s, "acme/dev", None),
            &dir.path().join("b"),
        )?,
        "pip during the outage",
    )?;
    // The stale page still lists idna, but its file was never cached: a clear 502.
    let page = s
        .http
        .get(format!("{}/acme/dev/python/simple/idna/", s.url))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        page.contains("idna-3.7-py3-none-any.whl"),
        "stale pages are served during an outage"
    );
    let resp = s
        .http
        .get(format!(
            "{}/acme/dev/python/upstream/{}/idna-3.7-py3-none-any.whl",
            s.url, created["id"]
        ))
        .send()
        .await?;
    assert_eq!(resp.status(), reqwest::StatusCode::BAD_GATEWAY);
    let metrics = s
        .http
        .get(format!("{}/metrics", s.url))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("gantry_upstream_failures_total{upstream=\"pypiserver\"}"),
        "{metrics}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_gantry_is_an_upstream_with_credentials_and_priority() -> TestResult {
    let far = TestServer::start()?;
    far.create_repo("remote", "primary", true).await?;
    far.create_repo("remote", "secondary", true).await?;
    let six = fixture("six-1.16.0-py2.py3-none-any.whl")
        .display()
        .to_string();
    far.cli_ok(Some(ADMIN), &["push", "python", "remote/primary", &six])?;
    far.cli_ok(Some(ADMIN), &["push", "python", "remote/secondary", &six])?;
    let read = far.token("remote", "read").await?;

    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    let low = add_upstream(
        &s,
        "acme/dev",
        json!({"format": "python", "name": "secondary", "url": format!("{}/remote/secondary/python/simple/", far.url),
               "priority": 5, "mode": "proxy", "username": "__token__", "password": read}),
    )
    .await?;
    let high = add_upstream(
        &s,
        "acme/dev",
        json!({"format": "python", "name": "primary", "url": format!("{}/remote/primary/python/simple/", far.url),
               "priority": 1, "mode": "proxy", "username": "__token__", "password": read}),
    )
    .await?;
    let listed = s.cli_ok(Some(ADMIN), &["upstream", "python", "ls", "acme/dev"])?;
    assert!(
        listed.find("primary").unwrap_or(usize::MAX) < listed.find("secondary").unwrap_or(0),
        "{listed}"
    );
    let (_, shown) = s
        .admin(Method::GET, "/api/v1/repos/acme/dev/upstreams", None)
        .await?;
    assert!(
        !shown.to_string().contains(&read),
        "passwords are never shown"
    );

    let page = s
        .http
        .get(format!("{}/acme/dev/python/simple/six/", s.url))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        page.contains(&format!("/upstream/{}/", high["id"])),
        "the higher priority wins: {page}"
    );
    assert!(
        !page.contains(&format!("/upstream/{}/", low["id"])),
        "{page}"
    );
    let dir = tempfile::tempdir()?;
    ok(
        &pip(
            &["six==1.16.0"],
            &index_url(&s, "acme/dev", None),
            &dir.path().join("a"),
        )?,
        "pip through a private upstream",
    )?;
    // Proxy mode stores nothing.
    let (_, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(list, json!([]));
    // Without credentials the far repository is invisible, so nothing resolves.
    s.admin(
        Method::DELETE,
        &format!("/api/v1/repos/acme/dev/upstreams/{}", high["id"]),
        None,
    )
    .await?;
    s.admin(
        Method::DELETE,
        &format!("/api/v1/repos/acme/dev/upstreams/{}", low["id"]),
        None,
    )
    .await?;
    add_upstream(
        &s,
        "acme/dev",
        json!({"format": "python", "name": "anonymous", "url": format!("{}/remote/primary/python/simple/", far.url), "mode": "proxy"}),
    )
    .await?;
    let failed = pip(
        &["six==1.16.0"],
        &index_url(&s, "acme/dev", None),
        &dir.path().join("b"),
    )?;
    assert!(!failed.status.success());
    // A repository with upstreams can be deleted.
    let (st, body) = s
        .admin(Method::DELETE, "/api/v1/repos/acme/dev?force=true", None)
        .await?;
    assert_eq!(st, reqwest::StatusCode::NO_CONTENT, "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_versions_win_and_local_names_can_be_protected() -> TestResult {
    let pkgs = tempfile::tempdir()?;
    std::fs::copy(
        fixture("idna-3.7-py3-none-any.whl"),
        pkgs.path().join("idna-3.7-py3-none-any.whl"),
    )?;
    tiny_wheel(pkgs.path(), "idna", "3.6")?;
    let upstream = PypiServer::start(pkgs.path()).await?;
    let s = TestServer::start()?;
    for repo in ["open", "guarded"] {
        s.create_repo("acme", repo, false).await?;
        s.cli_ok(
            Some(ADMIN),
            &[
                "push",
                "python",
                &format!("acme/{repo}"),
                &fixture("idna-3.7-py3-none-any.whl").display().to_string(),
            ],
        )?;
    }
    add_upstream(
        &s,
        "acme/open",
        json!({"format": "python", "name": "up", "url": format!("{}/simple/", upstream.url)}),
    )
    .await?;
    add_upstream(
        &s,
        "acme/guarded",
        json!({"format": "python", "name": "up", "url": format!("{}/simple/", upstream.url), "local_names_only": true}),
    )
    .await?;
    let open = s
        .http
        .get(format!("{}/acme/open/python/simple/idna/", s.url))
        .send()
        .await?
        .text()
        .await?;
    // 3.7 exists locally: the local file is listed (once) and the upstream's 3.6 beside it.
    assert_eq!(
        open.matches("idna-3.7-py3-none-any.whl<").count(),
        1,
        "{open}"
    );
    assert!(open.contains("/acme/open/python/files/"), "{open}");
    assert!(open.contains("idna-3.6-py3-none-any.whl"), "{open}");
    let guarded = s
        .http
        .get(format!("{}/acme/guarded/python/simple/idna/", s.url))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        !guarded.contains("idna-3.6"),
        "local names are served only from local files: {guarded}"
    );
    let dir = tempfile::tempdir()?;
    ok(
        &pip(
            &["idna==3.6"],
            &index_url(&s, "acme/open", None),
            &dir.path().join("a"),
        )?,
        "pip of the upstream-only version",
    )?;
    let refused = pip(
        &["idna==3.6"],
        &index_url(&s, "acme/guarded", None),
        &dir.path().join("b"),
    )?;
    assert!(!refused.status.success());
    Ok(())
}
