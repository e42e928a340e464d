//! The npm registry API with the real npm client: publish (scoped and not, `--tag`),
//! install and ci against the lockfile's integrity, view, dist-tag, deprecate, unpublish,
//! whoami; packuments over HTTP; publish documents that disagree with their tarball; access
//! for read tokens and strangers; and the scan of the shared npm fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};

/// A private npm configuration (user config, cache and HOME) for one registry and token.
pub(crate) struct NpmClient {
    dir: tempfile::TempDir,
}

impl NpmClient {
    /// `registry` is a URL ending in `/`; `token` goes into the user config for it.
    pub(crate) fn new(registry: &str, token: Option<&str>) -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let mut rc = format!("registry={registry}\n");
        if let Some(token) = token {
            let host_path = registry
                .trim_start_matches("http://")
                .trim_start_matches("https://");
            rc.push_str(&format!("//{host_path}:_authToken={token}\n"));
        }
        std::fs::write(dir.path().join(".npmrc"), rc)?;
        std::fs::create_dir_all(dir.path().join("cache"))?;
        Ok(Self { dir })
    }

    /// Runs npm in `cwd`, with nothing from the environment's npm settings.
    pub(crate) fn run(&self, cwd: &Path, args: &[&str]) -> TestResult<Output> {
        let mut cmd = Command::new("npm");
        for (key, _) in std::env::vars_os() {
            if key
                .to_string_lossy()
                .to_ascii_lowercase()
                .starts_with("npm_config_")
            {
                cmd.env_remove(key);
            }
        }
        let home = self.dir.path();
        Ok(cmd
            .args(args)
            .current_dir(cwd)
            .env("HOME", home)
            .env("npm_config_userconfig", home.join(".npmrc"))
            .env("npm_config_cache", home.join("cache"))
            .env("npm_config_audit", "false")
            .env("npm_config_fund", "false")
            .env("npm_config_update_notifier", "false")
            .env("npm_config_loglevel", "warn")
            .env("npm_config_fetch_retries", "0")
            .output()?)
    }

    pub(crate) fn ok(&self, cwd: &Path, args: &[&str]) -> TestResult<String> {
        let out = self.run(cwd, args)?;
        if !out.status.success() {
            return Err(format!(
                "npm {args:?} failed: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Writes a package directory with a `package.json` and one file; returns its path.
pub(crate) fn package_dir(root: &Path, manifest: &Value) -> TestResult<PathBuf> {
    let name = manifest["name"].as_str().ok_or("name")?.replace('/', "_");
    let version = manifest["version"].as_str().ok_or("version")?;
    let dir = root.join(format!("{name}-{version}"));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("package.json"),
        serde_json::to_vec_pretty(manifest)?,
    )?;
    std::fs::write(
        dir.join("index.js"),
        format!("module.exports = {:?};\n", format!("{name}@{version}")),
    )?;
    std::fs::write(
        dir.join("cli.js"),
        "#!/usr/bin/env node\nconsole.log('hi')\n",
    )?;
    Ok(dir)
}

pub(crate) fn registry(s: &TestServer, repo: &str) -> String {
    format!("{}/{repo}/npm/", s.url)
}

/// A gzip-compressed tarball with `package/package.json` and `package/index.js`.
pub(crate) fn tarball(manifest: &Value) -> TestResult<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, body) in [
        ("package/package.json", serde_json::to_vec(manifest)?),
        ("package/index.js", b"module.exports = 1;\n".to_vec()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, body.as_slice())?;
    }
    let tar = builder.into_inner()?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar)?;
    Ok(gz.finish()?)
}

/// A publish document as npm sends it, for `manifest` and `tgz`.
fn publish_doc(manifest: &Value, tgz: &[u8]) -> Value {
    let name = manifest["name"].as_str().unwrap_or_default();
    let version = manifest["version"].as_str().unwrap_or_default();
    let mut version_doc = manifest.clone();
    version_doc["dist"] = json!({});
    json!({
        "_id": name,
        "name": name,
        "dist-tags": {"latest": version},
        "versions": {version: version_doc},
        "_attachments": {format!("{name}-{version}.tgz"): {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(tgz),
            "length": tgz.len(),
        }},
    })
}

async fn packument(
    s: &TestServer,
    path: &str,
    token: Option<&str>,
    abbreviated: bool,
) -> TestResult<(StatusCode, Value)> {
    let mut req = s.req(Method::GET, path, token);
    if abbreviated {
        req = req.header(
            "accept",
            "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*",
        );
    }
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_publish_install_ci_view_dist_tag_deprecate_unpublish() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let write = s.token("acme/dev", "write").await?;
    let read = s.token("acme/dev", "read").await?;
    let reg = registry(&s, "acme/dev");
    let work = tempfile::tempdir()?;
    let publisher = NpmClient::new(&reg, Some(&write))?;

    // Scoped with a bin, then a prerelease under --tag beta, and an unscoped package.
    let hello = |version: &str| {
        json!({"name": "@acme/hello", "version": version, "description": "says hi",
               "license": "MIT", "bin": "cli.js", "dependencies": {"plain": "^1.0.0"}})
    };
    let plain = json!({"name": "plain", "version": "1.0.0", "license": "ISC",
                       "scripts": {"postinstall": "node index.js"}});
    publisher.ok(&package_dir(work.path(), &plain)?, &["publish"])?;
    publisher.ok(&package_dir(work.path(), &hello("1.0.0"))?, &["publish"])?;
    publisher.ok(
        &package_dir(work.path(), &hello("1.1.0-beta.1"))?,
        &["publish", "--tag", "beta"],
    )?;
    assert_eq!(
        publisher
            .ok(work.path(), &["view", "@acme/hello", "dist-tags", "--json"])?
            .parse::<Value>()?,
        json!({"latest": "1.0.0", "beta": "1.1.0-beta.1"})
    );
    assert_eq!(
        publisher
            .ok(work.path(), &["view", "@acme/hello", "version"])?
            .trim(),
        "1.0.0"
    );
    assert!(publisher.ok(work.path(), &["whoami"])?.trim().len() > 3);

    // Packuments over HTTP: full and abbreviated, the scope encoded or not, with ETags.
    let (st, full) = packument(&s, "/acme/dev/npm/@acme%2fhello", Some(&read), false).await?;
    assert_eq!(st, StatusCode::OK, "{full}");
    let v1 = &full["versions"]["1.0.0"];
    assert!(
        v1["dist"]["tarball"]
            .as_str()
            .is_some_and(|t| t.starts_with(&s.url)),
        "{v1}"
    );
    assert!(v1["dist"]["integrity"]
        .as_str()
        .is_some_and(|i| i.starts_with("sha512-")));
    assert_eq!(v1["dist"]["shasum"].as_str().map(str::len), Some(40));
    assert_eq!(v1["bin"], json!({"hello": "cli.js"}));
    assert_eq!(v1["description"], "says hi");
    assert!(full["time"]["1.0.0"].is_string() && full["time"]["created"].is_string());
    assert!(full["_rev"].is_string());
    let (st, plain_doc) = packument(&s, "/acme/dev/npm/plain", Some(&read), true).await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(plain_doc["versions"]["1.0.0"]["hasInstallScript"], true);
    let (_, abbrev) = packument(&s, "/acme/dev/npm/@acme/hello", Some(&read), true).await?;
    assert!(abbrev.get("time").is_none() && abbrev["modified"].is_string());
    assert!(abbrev["versions"]["1.0.0"].get("description").is_none());
    assert_eq!(abbrev["versions"]["1.0.0"]["dist"], v1["dist"]);
    let resp = s
        .req(Method::GET, "/acme/dev/npm/@acme%2fhello", Some(&read))
        .send()
        .await?;
    let etag = resp
        .headers()
        .get("etag")
        .ok_or("etag")?
        .to_str()?
        .to_owned();
    let again = s
        .req(Method::GET, "/acme/dev/npm/@acme%2fhello", Some(&read))
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // dist-tag add, ls, rm.
    publisher.ok(
        work.path(),
        &["dist-tag", "add", "@acme/hello@1.1.0-beta.1", "next"],
    )?;
    let ls = publisher.ok(work.path(), &["dist-tag", "ls", "@acme/hello"])?;
    assert!(ls.contains("next: 1.1.0-beta.1"), "{ls}");
    // Rendered again (the tag changed it) from the version documents stored by the first
    // render: the same versions.
    let (_, again) = packument(&s, "/acme/dev/npm/@acme%2fhello", Some(&read), false).await?;
    assert_eq!(again["versions"], full["versions"]);
    assert_eq!(again["description"], "says hi");
    assert_eq!(again["dist-tags"]["next"], "1.1.0-beta.1");
    let (_, abbrev_again) = packument(&s, "/acme/dev/npm/@acme/hello", Some(&read), true).await?;
    assert_eq!(abbrev_again["versions"], abbrev["versions"]);
    publisher.ok(work.path(), &["dist-tag", "rm", "@acme/hello", "next"])?;
    let ls = publisher.ok(work.path(), &["dist-tag", "ls", "@acme/hello"])?;
    assert!(!ls.contains("next"), "{ls}");

    // A consumer with a read token: install, then ci against the lockfile.
    let consumer = NpmClient::new(&reg, Some(&read))?;
    let app = work.path().join("app");
    std::fs::create_dir_all(&app)?;
    std::fs::write(
        app.join("package.json"),
        serde_json::to_vec(&json!({"name": "app", "version": "1.0.0", "private": true,
            "dependencies": {"@acme/hello": "^1.0.0"}}))?,
    )?;
    consumer.ok(&app, &["install"])?;
    assert!(app.join("node_modules/.bin/hello").exists());
    assert!(app.join("node_modules/plain/index.js").exists());
    let lock: Value = serde_json::from_slice(&std::fs::read(app.join("package-lock.json"))?)?;
    let locked = &lock["packages"]["node_modules/@acme/hello"];
    assert_eq!(locked["version"], "1.0.0");
    assert_eq!(locked["integrity"], v1["dist"]["integrity"]);
    std::fs::remove_dir_all(app.join("node_modules"))?;
    consumer.ok(&app, &["ci"])?;
    assert!(app.join("node_modules/@acme/hello/index.js").exists());
    // A lockfile whose integrity does not match the served tarball fails ci.
    let mut bad = lock.clone();
    bad["packages"]["node_modules/@acme/hello"]["integrity"] = json!(format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 64])
    ));
    std::fs::write(app.join("package-lock.json"), serde_json::to_vec(&bad)?)?;
    std::fs::remove_dir_all(app.join("node_modules"))?;
    let fresh = NpmClient::new(&reg, Some(&read))?;
    let out = fresh.run(&app, &["ci"])?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EINTEGRITY"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // deprecate: shown in packuments and warned about at install.
    publisher.ok(work.path(), &["deprecate", "@acme/hello@1.0.0", "use 2.x"])?;
    let (_, full) = packument(&s, "/acme/dev/npm/@acme%2fhello", Some(&read), false).await?;
    assert_eq!(full["versions"]["1.0.0"]["deprecated"], "use 2.x");
    assert!(full["versions"]["1.1.0-beta.1"].get("deprecated").is_none());
    publisher.ok(work.path(), &["deprecate", "@acme/hello@1.0.0", ""])?;
    let (_, full) = packument(&s, "/acme/dev/npm/@acme%2fhello", Some(&read), false).await?;
    assert!(
        full["versions"]["1.0.0"].get("deprecated").is_none(),
        "{}",
        full["versions"]["1.0.0"]
    );

    // A read token cannot publish, tag or deprecate; strangers see nothing.
    let out = consumer.run(&package_dir(work.path(), &hello("9.9.9"))?, &["publish"])?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!consumer
        .run(work.path(), &["dist-tag", "add", "@acme/hello@1.0.0", "x"])?
        .status
        .success());
    let stranger = NpmClient::new(&reg, None)?;
    let out = stranger.run(work.path(), &["view", "@acme/hello"])?;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("404"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (st, _) = packument(&s, "/acme/dev/npm/@acme%2fhello", None, false).await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // unpublish name@version (repository admins by default): a soft delete with an event.
    let admin = NpmClient::new(&reg, Some(&s.token("acme/dev", "admin").await?))?;
    let out = publisher.run(work.path(), &["unpublish", "@acme/hello@1.1.0-beta.1"])?;
    assert!(
        !out.status.success(),
        "write tokens may not unpublish by default"
    );
    admin.ok(work.path(), &["unpublish", "@acme/hello@1.1.0-beta.1"])?;
    let (_, full) = packument(&s, "/acme/dev/npm/@acme%2fhello", Some(&read), false).await?;
    assert!(full["versions"].get("1.1.0-beta.1").is_none(), "{full}");
    assert!(full["dist-tags"].get("beta").is_none(), "{full}");
    assert_eq!(full["dist-tags"]["latest"], "1.0.0");
    let (_, listing) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=state:deleted",
            None,
        )
        .await?;
    let gone = listing
        .as_array()
        .and_then(|l| l.iter().find(|p| p["version"] == "1.1.0-beta.1"))
        .cloned()
        .ok_or(format!("no deleted package: {listing}"))?;
    assert_eq!(gone["state"], "deleted");
    let (_, trail) = s
        .admin(
            Method::GET,
            &format!(
                "/api/v1/packages/acme/dev/{}/events",
                gone["slug_perm"].as_str().unwrap_or("")
            ),
            None,
        )
        .await?;
    assert!(
        trail.as_array().is_some_and(|t| t
            .iter()
            .any(|e| e["event"] == "package.deleted" && e["context"]["reason"] == "npm unpublish")),
        "{trail}"
    );
    // Unpublishing the whole package.
    admin.ok(work.path(), &["unpublish", "plain", "--force"])?;
    let (st, _) = packument(&s, "/acme/dev/npm/plain", Some(&read), false).await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_publish_documents_must_agree_with_their_tarball() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let put = |name: &str, doc: Value| {
        s.req(Method::PUT, &format!("/acme/dev/npm/{name}"), Some(ADMIN))
            .json(&doc)
            .send()
    };
    let manifest = json!({"name": "agree", "version": "1.0.0", "dependencies": {"a": "1"}});
    let tgz = tarball(&manifest)?;

    let mut doc = publish_doc(&manifest, &tgz);
    doc["versions"] = json!({"2.0.0": manifest});
    let resp = put("agree", doc).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await?.contains("2.0.0"));

    let mut doc = publish_doc(&manifest, &tgz);
    doc["versions"]["1.0.0"]["dependencies"] = json!({"evil": "*"});
    let resp = put("agree", doc).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await?.contains("dependencies"));

    let resp = put(
        "other",
        publish_doc(&json!({"name": "other", "version": "1.0.0"}), &tgz),
    )
    .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await?.contains("agree"));

    let resp = put("agree", publish_doc(&manifest, b"this is not a tarball")).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await?.contains("not a valid npm tarball"));

    let mut doc = publish_doc(&manifest, &tgz);
    doc["versions"]["1.0.0"]["dist"]["integrity"] = json!(format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode([1u8; 64])
    ));
    let resp = put("agree", doc).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let resp = s
        .req(Method::PUT, "/acme/dev/npm/agree", Some(ADMIN))
        .header("content-type", "application/json")
        .body("{\"name\":\"agree\",\"_attachments\":{\"x\":{\"data\":\"AAAA")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let resp = put("agree", publish_doc(&manifest, &tgz)).await?;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await?);
    let resp = put("agree", publish_doc(&manifest, &tgz)).await?;
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "a version is published once"
    );
    Ok(())
}

fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_fixtures_report_exactly_the_manifest_advisories() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.cli_ok(
        Some(ADMIN),
        &["vulndb", "import", &shared("osv/npm").display().to_string()],
    )?;
    let rows = crate::scanning::manifest_rows("npm")?;
    for row in &rows {
        let cols: Vec<&str> = row.iter().map(String::as_str).collect();
        crate::scanning::push_and_check_fixture(&s, "acme/dev", &cols).await?;
    }
    assert_eq!(rows.len(), 7);
    Ok(())
}

/// A repository whose npm packages carry dist-tags can be deleted (the format's tables are
/// cleared with it), and one of the same name made again starts empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_with_dist_tags_can_be_deleted_and_made_again() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let manifest = json!({"name": "tagged", "version": "1.0.0"});
    let tgz = tarball(&manifest)?;
    let resp = s
        .req(Method::PUT, "/acme/dev/npm/tagged", Some(ADMIN))
        .json(&publish_doc(&manifest, &tgz))
        .send()
        .await?;
    assert!(resp.status().is_success(), "{}", resp.text().await?);
    let (st, body) = s
        .admin(Method::DELETE, "/api/v1/repos/acme/dev?force=true", None)
        .await?;
    assert!(st.is_success(), "{st} {body}");
    s.create_repo("acme", "dev", true).await?;
    let (st, _) = packument(&s, "/acme/dev/npm/tagged", Some(ADMIN), false).await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    Ok(())
}
