//! Python packages with the real clients: twine, pip and uv against a server of the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{assert_error, TestResult, TestServer, ADMIN};

/// A client tool from the test venv (`GANTRY_TEST_TOOLS`, set by scripts/test.sh) or PATH.
pub(crate) fn tool(name: &str) -> TestResult<PathBuf> {
    if let Ok(dir) = std::env::var("GANTRY_TEST_TOOLS") {
        let path = Path::new(&dir).join(name);
        if path.exists() {
            return Ok(path);
        }
    }
    let found = std::env::var_os("PATH").map(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.exists())
    });
    found.flatten().ok_or_else(|| {
        format!("{name} is not installed; run scripts/test.sh, which installs it into target/test-tools").into()
    })
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/python")
        .join(name)
}

pub(crate) fn run(cmd: &mut Command) -> TestResult<Output> {
    let out = cmd
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .output()?;
    Ok(out)
}

pub(crate) fn ok(out: &Output, what: &str) -> TestResult {
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .into())
}

pub(crate) fn twine(
    s: &TestServer,
    repo: &str,
    token: &str,
    files: &[PathBuf],
    extra: &[&str],
) -> TestResult<Output> {
    run(Command::new(tool("twine")?)
        .arg("upload")
        .arg("--non-interactive")
        .arg("--disable-progress-bar")
        .args(["--repository-url", &format!("{}/{repo}/python/", s.url)])
        .args(["-u", "__token__", "-p", token])
        .args(extra)
        .args(files))
}

pub(crate) fn index_url(s: &TestServer, repo: &str, token: Option<&str>) -> String {
    let host = s.url.trim_start_matches("http://");
    match token {
        Some(t) => format!("http://__token__:{t}@{host}/{repo}/python/simple/"),
        None => format!("http://{host}/{repo}/python/simple/"),
    }
}

pub(crate) fn pip(args: &[&str], index: &str, target: &Path) -> TestResult<Output> {
    run(Command::new(tool("pip")?)
        .args([
            "install",
            "--no-cache-dir",
            "--no-deps",
            "--index-url",
            index,
            "--target",
        ])
        .arg(target)
        .args(args))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twine_uploads_and_pip_and_uv_install() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let write = s.token("acme", "write").await?;
    let read = s.token("acme", "read").await?;
    let files = [
        fixture("six-1.16.0-py2.py3-none-any.whl"),
        fixture("idna-3.7-py3-none-any.whl"),
        fixture("typing_extensions-4.7.1-py3-none-any.whl"),
        fixture("PyYAML-5.3.tar.gz"),
        fixture("zope.interface-5.4.0.tar.gz"),
    ];
    ok(&twine(&s, "acme/dev", &write, &files, &[])?, "twine upload")?;
    // Uploading the same files again changes nothing and succeeds (what --skip-existing
    // relies on; twine itself offers that flag only for the public index).
    ok(
        &twine(&s, "acme/dev", &write, &files, &[])?,
        "identical re-upload",
    )?;
    let (_, list) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=format:python",
            None,
        )
        .await?;
    assert_eq!(list.as_array().map(Vec::len), Some(5), "{list}");
    let six = list
        .as_array()
        .and_then(|l| l.iter().find(|p| p["name"] == "six"))
        .cloned()
        .ok_or("six missing")?;
    assert_eq!(six["version"], "1.16.0");
    assert_eq!(
        six["metadata"]["requires_python"],
        ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*"
    );
    assert_eq!(
        six["metadata"]["summary"],
        "Python 2 and 3 compatibility utilities"
    );
    assert_eq!(six["metadata"]["license"], "MIT");
    let zope = list
        .as_array()
        .and_then(|l| l.iter().find(|p| p["name"] == "zope.interface"))
        .cloned()
        .ok_or("zope missing")?;
    assert!(zope["metadata"]["requires_python"]
        .as_str()
        .is_some_and(|r| r.starts_with(">=2.7")));

    let dir = tempfile::tempdir()?;
    let target = dir.path().join("pip");
    ok(
        &pip(
            &["six==1.16.0", "idna", "typing-extensions"],
            &index_url(&s, "acme/dev", Some(&read)),
            &target,
        )?,
        "pip install",
    )?;
    assert!(target.join("six.py").exists() && target.join("idna").exists());
    let out = run(Command::new(tool("pip")?)
        .args([
            "download",
            "--no-cache-dir",
            "--no-deps",
            "--index-url",
            &index_url(&s, "acme/dev", Some(&read)),
            "-d",
        ])
        .arg(dir.path().join("dl"))
        .arg("idna==3.7"))?;
    ok(&out, "pip download")?;
    assert!(dir.path().join("dl/idna-3.7-py3-none-any.whl").exists());

    // --require-hashes: the index's hashes are the real ones, and a wrong one is refused.
    let reqs = dir.path().join("requirements.txt");
    std::fs::write(
        &reqs,
        "six==1.16.0 --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254\n",
    )?;
    let hashed = pip(
        &["--require-hashes", "-r", &reqs.display().to_string()],
        &index_url(&s, "acme/dev", Some(&read)),
        &dir.path().join("h1"),
    )?;
    ok(&hashed, "pip --require-hashes")?;
    std::fs::write(&reqs, "six==1.16.0 --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\n")?;
    let wrong = pip(
        &["--require-hashes", "-r", &reqs.display().to_string()],
        &index_url(&s, "acme/dev", Some(&read)),
        &dir.path().join("h2"),
    )?;
    assert!(!wrong.status.success(), "a wrong hash must fail");

    let uv_target = dir.path().join("uv");
    let out = run(Command::new(tool("uv")?)
        .args([
            "pip",
            "install",
            "--no-cache",
            "--no-deps",
            "--index-url",
            &index_url(&s, "acme/dev", Some(&read)),
            "--target",
        ])
        .arg(&uv_target)
        .arg("typing-extensions==4.7.1"))?;
    ok(&out, "uv pip install")?;
    assert!(uv_target.join("typing_extensions.py").exists());

    // Without credentials the private index does not exist; a read token cannot publish.
    let anon = pip(
        &["six"],
        &index_url(&s, "acme/dev", None),
        &dir.path().join("anon"),
    )?;
    assert!(!anon.status.success());
    let denied = twine(
        &s,
        "acme/dev",
        &read,
        &[fixture("six-1.16.0-py2.py3-none-any.whl")],
        &[],
    )?;
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("403")
            || String::from_utf8_lossy(&denied.stdout).contains("403")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simple_api_speaks_pep_503_691_658_and_592() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    let wheel = fixture("six-1.16.0-py2.py3-none-any.whl");
    let slug = s.cli_ok(
        Some(ADMIN),
        &["push", "python", "acme/dev", &wheel.display().to_string()],
    )?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "push",
            "python",
            "acme/dev",
            &fixture("Jinja2-2.10-py2.py3-none-any.whl")
                .display()
                .to_string(),
        ],
    )?;

    let html = s
        .http
        .get(format!("{}/acme/dev/python/simple/six/", s.url))
        .send()
        .await?;
    assert_eq!(html.headers()["content-type"], "text/html; charset=utf-8");
    let html = html.text().await?;
    assert!(
        html.contains("#sha256=8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"),
        "{html}"
    );
    assert!(
        html.contains("data-requires-python=\"&gt;=2.7, !=3.0.*, !=3.1.*, !=3.2.*\""),
        "{html}"
    );
    assert!(html.contains("data-core-metadata=\"sha256="), "{html}");

    let resp = s
        .http
        .get(format!("{}/acme/dev/python/simple/six/", s.url))
        .header(
            "accept",
            "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.1",
        )
        .send()
        .await?;
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.pypi.simple.v1+json"
    );
    let page: Value = resp.json().await?;
    assert_eq!(page["meta"]["api-version"], "1.1");
    assert_eq!(page["name"], "six");
    let file = &page["files"][0];
    assert_eq!(
        file["hashes"]["sha256"],
        "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"
    );
    assert_eq!(file["size"], 11053);
    assert_eq!(file["yanked"], false);

    // PEP 658: the metadata file is served beside the wheel and its hash matches.
    let url = file["url"].as_str().ok_or("url")?;
    let metadata = s
        .http
        .get(format!("{url}.metadata"))
        .send()
        .await?
        .bytes()
        .await?;
    assert!(metadata.starts_with(b"Metadata-Version"));
    assert_eq!(
        crate::common::sha256_hex(&metadata),
        file["core-metadata"]["sha256"].as_str().unwrap_or_default()
    );
    let body = s.http.get(url).send().await?.bytes().await?;
    assert_eq!(body.len(), 11053);

    // Names are normalised by redirect; the project list links every project.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let moved = client
        .get(format!("{}/acme/dev/python/simple/Jinja2/", s.url))
        .send()
        .await?;
    assert_eq!(moved.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        moved.headers()["location"],
        "/acme/dev/python/simple/jinja2/"
    );
    let slashless = client
        .get(format!("{}/acme/dev/python/simple/six", s.url))
        .send()
        .await?;
    assert_eq!(slashless.status(), StatusCode::MOVED_PERMANENTLY);
    let projects = s
        .http
        .get(format!("{}/acme/dev/python/simple/", s.url))
        .header("accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .await?
        .json::<Value>()
        .await?;
    assert_eq!(
        projects["projects"],
        json!([{"name": "Jinja2"}, {"name": "six"}])
    );

    // PEP 592: a yanked file is marked, with its reason.
    s.cli_ok(
        Some(ADMIN),
        &[
            "yank",
            &format!("acme/dev/{slug}"),
            "--reason",
            "broken build",
        ],
    )?;
    let html = s
        .http
        .get(format!("{}/acme/dev/python/simple/six/", s.url))
        .send()
        .await?
        .text()
        .await?;
    assert!(html.contains("data-yanked=\"broken build\""), "{html}");
    let dir = tempfile::tempdir()?;
    let unpinned = pip(
        &["six"],
        &index_url(&s, "acme/dev", None),
        &dir.path().join("a"),
    )?;
    assert!(
        !unpinned.status.success(),
        "pip skips a yanked file unless pinned"
    );
    let pinned = pip(
        &["six==1.16.0"],
        &index_url(&s, "acme/dev", None),
        &dir.path().join("b"),
    )?;
    ok(&pinned, "pip install of a pinned yanked version")?;
    s.cli_ok(
        Some(ADMIN),
        &["yank", &format!("acme/dev/{slug}"), "--undo"],
    )?;
    let html = s
        .http
        .get(format!("{}/acme/dev/python/simple/six/", s.url))
        .send()
        .await?
        .text()
        .await?;
    assert!(!html.contains("data-yanked"), "{html}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_delete_and_move_change_what_installs() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    s.create_repo("acme", "staging", false).await?;
    let slug = s.cli_ok(
        Some(ADMIN),
        &[
            "push",
            "python",
            "acme/dev",
            &fixture("six-1.16.0-py2.py3-none-any.whl")
                .display()
                .to_string(),
        ],
    )?;
    let dir = tempfile::tempdir()?;
    let (_, p) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}"),
            None,
        )
        .await?;
    let url = p["files"][0]["download_url"]
        .as_str()
        .ok_or("url")?
        .to_owned();

    s.cli_ok(
        Some(ADMIN),
        &[
            "quarantine",
            "add",
            &format!("acme/dev/{slug}"),
            "--reason",
            "CVE under review",
        ],
    )?;
    let html = s
        .http
        .get(format!("{}/acme/dev/python/simple/", s.url))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        !html.contains("six"),
        "quarantined packages vanish from the index"
    );
    let resp = s.http.get(&url).send().await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body: Value = resp.json().await?;
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("CVE under review")));
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/copy"),
            Some(json!({"destination": "staging"})),
        )
        .await?;
    assert_error(st, &body, StatusCode::CONFLICT, "conflict");
    s.cli_ok(
        Some(ADMIN),
        &["quarantine", "remove", &format!("acme/dev/{slug}")],
    )?;
    ok(
        &pip(
            &["six==1.16.0"],
            &index_url(&s, "acme/dev", None),
            &dir.path().join("a"),
        )?,
        "pip after release",
    )?;

    // After a move the package installs from its new repository and not from the old one.
    s.cli_ok(Some(ADMIN), &["mv", &format!("acme/dev/{slug}"), "staging"])?;
    ok(
        &pip(
            &["six==1.16.0"],
            &index_url(&s, "acme/staging", None),
            &dir.path().join("b"),
        )?,
        "pip from staging",
    )?;
    let old = pip(
        &["six==1.16.0"],
        &index_url(&s, "acme/dev", None),
        &dir.path().join("c"),
    )?;
    assert!(!old.status.success(), "nothing left in dev");
    let resp = s.http.get(&url).send().await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // A copy installs from both; a delete takes it out of the index.
    let copy = s.cli_ok(Some(ADMIN), &["cp", &format!("acme/staging/{slug}"), "dev"])?;
    ok(
        &pip(
            &["six==1.16.0"],
            &index_url(&s, "acme/dev", None),
            &dir.path().join("d"),
        )?,
        "pip of a copy",
    )?;
    s.cli_ok(Some(ADMIN), &["delete", &format!("acme/dev/{copy}")])?;
    let gone = pip(
        &["six==1.16.0"],
        &index_url(&s, "acme/dev", None),
        &dir.path().join("e"),
    )?;
    assert!(!gone.status.success());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_distributions_get_clear_errors() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let dir = tempfile::tempdir()?;
    let push = |name: &str, bytes: &[u8]| -> TestResult<Output> {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes)?;
        s.cli(
            Some(ADMIN),
            &["push", "python", "acme/dev", &path.display().to_string()],
        )
    };
    let six = std::fs::read(fixture("six-1.16.0-py2.py3-none-any.whl"))?;
    for (name, bytes, why) in [
        (
            "broken-1.0-py3-none-any.whl",
            b"not a zip at all".to_vec(),
            "not a valid zip",
        ),
        (
            "six-2.0.0-py2.py3-none-any.whl",
            six.clone(),
            "filename says version",
        ),
        (
            "other-1.16.0-py2.py3-none-any.whl",
            six.clone(),
            "filename says project",
        ),
        ("six.exe", six.clone(), "not a valid distribution filename"),
        (
            "broken-1.0.tar.gz",
            b"\x1f\x8b\x08\x00garbage".to_vec(),
            "tar.gz",
        ),
    ] {
        let out = push(name, &bytes)?;
        assert!(!out.status.success(), "{name} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(why) && stderr.contains("400"),
            "{name}: {stderr}"
        );
    }
    // A form that disagrees with the artifact is refused.
    let form = reqwest::multipart::Form::new()
        .text(":action", "file_upload")
        .text("name", "not-six")
        .text("version", "1.16.0")
        .part(
            "content",
            reqwest::multipart::Part::bytes(six.clone())
                .file_name("six-1.16.0-py2.py3-none-any.whl"),
        );
    let resp = s
        .http
        .post(format!("{}/acme/dev/python/", s.url))
        .basic_auth("__token__", Some(ADMIN))
        .multipart(form)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await?;
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("disagrees")),
        "{body}"
    );
    // Different bytes under an existing filename: 409.
    ok(
        &twine(
            &s,
            "acme/dev",
            ADMIN,
            &[fixture("six-1.16.0-py2.py3-none-any.whl")],
            &[],
        )?,
        "twine",
    )?;
    let mut tampered = six;
    tampered.extend_from_slice(b"trailing junk after the zip");
    let form = reqwest::multipart::Form::new()
        .text(":action", "file_upload")
        .part(
            "content",
            reqwest::multipart::Part::bytes(tampered).file_name("six-1.16.0-py2.py3-none-any.whl"),
        );
    let resp = s
        .http
        .post(format!("{}/acme/dev/python/", s.url))
        .basic_auth("__token__", Some(ADMIN))
        .multipart(form)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    Ok(())
}

/// Project pages are reused while their packages are unchanged (ETag, 304) and rendered anew
/// after any change to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_pages_are_cached_until_their_packages_change() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let slug = s.cli_ok(
        Some(ADMIN),
        &[
            "push",
            "python",
            "acme/dev",
            &fixture("six-1.16.0-py2.py3-none-any.whl")
                .display()
                .to_string(),
        ],
    )?;
    let page = |etag: Option<String>| {
        let mut req = s.req(Method::GET, "/acme/dev/python/simple/six/", Some(ADMIN));
        if let Some(tag) = etag {
            req = req.header("if-none-match", tag);
        }
        req.send()
    };
    let first = page(None).await?;
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .ok_or("no etag")?
        .to_owned();
    let first_body = first.text().await?;
    assert!(!first_body.contains("data-yanked"));
    let again = page(None).await?;
    assert_eq!(again.text().await?, first_body);
    assert_eq!(
        page(Some(etag.clone())).await?.status(),
        StatusCode::NOT_MODIFIED
    );

    let (st, _) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/yank"),
            Some(json!({"yanked": true, "reason": "broken"})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    let changed = page(Some(etag.clone())).await?;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(
        changed.headers().get("etag").and_then(|v| v.to_str().ok()),
        Some(etag.as_str())
    );
    assert!(changed.text().await?.contains("data-yanked=\"broken\""));

    s.cli_ok(
        Some(ADMIN),
        &[
            "quarantine",
            "add",
            &format!("acme/dev/{slug}"),
            "--reason",
            "held",
        ],
    )?;
    assert_eq!(page(None).await?.status(), StatusCode::NOT_FOUND);
    Ok(())
}
