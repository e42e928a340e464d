//! Cargo crates with the real client: `cargo publish`, `cargo build` of a crate depending on
//! a published one, `cargo yank [--undo]`, `cargo owner --list` and `cargo search` against a
//! private repository of the test's server; the sparse index's format, caching headers and
//! errors over HTTP; promotion between repositories; the real crates of ../shared scanned.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};

pub(crate) fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(path)
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    shared("fixtures/cargo").join(name)
}

/// A cargo of its own: a fresh `CARGO_HOME` whose only registry is the test server's, and a
/// target directory shared by the crates of one test.
pub(crate) struct CargoClient {
    pub(crate) home: tempfile::TempDir,
    pub(crate) target: tempfile::TempDir,
    pub(crate) work: tempfile::TempDir,
}

impl CargoClient {
    pub(crate) fn new(index: &str) -> TestResult<Self> {
        let home = tempfile::tempdir()?;
        std::fs::write(
            home.path().join("config.toml"),
            format!(
                "[registry]\nglobal-credential-providers = [\"cargo:token\"]\n\n\
                 [registries.gantry]\nindex = \"sparse+{index}\"\n\n\
                 [net]\nretry = 0\n\n[term]\ncolor = \"never\"\nprogress.when = \"never\"\n"
            ),
        )?;
        Ok(Self {
            home,
            target: tempfile::tempdir()?,
            work: tempfile::tempdir()?,
        })
    }

    /// `cargo ARGS` in `dir` with `token` for the registry (and nothing inherited from the
    /// cargo running the tests).
    pub(crate) fn run(&self, dir: &Path, token: Option<&str>, args: &[&str]) -> TestResult<Output> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.env_clear();
        for key in ["PATH", "HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "TMPDIR"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        cmd.current_dir(dir)
            .env("CARGO_HOME", self.home.path())
            .env("CARGO_TARGET_DIR", self.target.path())
            .env("CARGO_INCREMENTAL", "0")
            .args(args);
        if let Some(t) = token {
            cmd.env("CARGO_REGISTRIES_GANTRY_TOKEN", t);
        }
        Ok(cmd.output()?)
    }

    pub(crate) fn ok(&self, dir: &Path, token: Option<&str>, args: &[&str]) -> TestResult<String> {
        let out = self.run(dir, token, args)?;
        if !out.status.success() {
            return Err(format!(
                "cargo {args:?} failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A library crate `name` `version` whose one function returns `value`.
    pub(crate) fn lib(&self, name: &str, version: &str, value: u32) -> TestResult<PathBuf> {
        let dir = self.work.path().join(format!("{name}-{version}"));
        std::fs::create_dir_all(dir.join("src"))?;
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
                 description = \"a test crate\"\nlicense = \"MIT\"\nrust-version = \"1.60\"\n\n\
                 [features]\ndefault = []\nextra = []\n"
            ),
        )?;
        std::fs::write(
            dir.join("src/lib.rs"),
            format!("pub fn value() -> u32 {{\n    {value}\n}}\n"),
        )?;
        Ok(dir)
    }

    /// A binary crate depending on `dep` `req` from the registry.
    pub(crate) fn app(&self, name: &str, dep: &str, req: &str) -> TestResult<PathBuf> {
        let dir = self.work.path().join(name);
        std::fs::create_dir_all(dir.join("src"))?;
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
                 [dependencies]\n{dep} = {{ version = \"{req}\", registry = \"gantry\" }}\n"
            ),
        )?;
        let krate = dep.replace('-', "_");
        std::fs::write(
            dir.join("src/main.rs"),
            format!("fn main() {{\n    println!(\"{{}}\", {krate}::value());\n}}\n"),
        )?;
        Ok(dir)
    }
}

fn locked_version(app: &Path, dep: &str) -> TestResult<String> {
    let lock = std::fs::read_to_string(app.join("Cargo.lock"))?;
    let lock: toml::Table = lock.parse()?;
    let version = lock["package"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"].as_str() == Some(dep)))
        .and_then(|p| p["version"].as_str())
        .ok_or("dependency not in Cargo.lock")?;
    Ok(version.to_owned())
}

async fn index_lines(s: &TestServer, repo: &str, path: &str) -> TestResult<Vec<Value>> {
    let resp = s
        .req(Method::GET, &format!("/{repo}/cargo/index/{path}"), None)
        .header("authorization", ADMIN)
        .send()
        .await?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Ok(Vec::new());
    }
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await?;
    Ok(text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cargo_publish_build_yank_and_promote_with_the_real_client() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "staging", true).await?;
    let write = s.token("acme", "write").await?;
    let read = s.token("acme", "read").await?;
    let client = CargoClient::new(&format!("{}/acme/dev/cargo/index/", s.url))?;

    // Anonymous cargo is asked for its token (cargo's auth-required dance); config.json
    // tells it to send it everywhere.
    let (st, _) = s
        .call(Method::GET, "/acme/dev/cargo/index/config.json", None, None)
        .await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let config: Value = s
        .req(Method::GET, "/acme/dev/cargo/index/config.json", None)
        .header("authorization", read.as_str())
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(config["auth-required"], true);
    assert_eq!(config["api"], format!("{}/acme/dev/cargo", s.url));

    for (version, value) in [("0.1.0", 1), ("0.1.1", 2)] {
        let lib = client.lib("gantry-demo", version, value)?;
        client.ok(
            &lib,
            Some(&write),
            &[
                "publish",
                "--registry",
                "gantry",
                "--no-verify",
                "--allow-dirty",
            ],
        )?;
    }
    // A read token cannot publish; cargo shows the server's reason.
    let lib = client.lib("gantry-demo", "0.2.0", 3)?;
    let out = client.run(
        &lib,
        Some(&read),
        &[
            "publish",
            "--registry",
            "gantry",
            "--no-verify",
            "--allow-dirty",
        ],
    )?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("403") || err.contains("privilege"), "{err}");
    // The same version again is refused, and so is another spelling of the name.
    let again = client.lib("gantry-demo", "0.1.1", 9)?;
    std::fs::write(again.join("src/lib.rs"), "pub fn value() -> u32 { 9 }\n")?;
    let out = client.run(
        &again,
        Some(&write),
        &[
            "publish",
            "--registry",
            "gantry",
            "--no-verify",
            "--allow-dirty",
        ],
    )?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = client.lib("Gantry_Demo", "0.3.0", 9)?;
    let out = client.run(
        &other,
        Some(&write),
        &[
            "publish",
            "--registry",
            "gantry",
            "--no-verify",
            "--allow-dirty",
        ],
    )?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate"));
    // `gantry push cargo` keeps the same rule.
    let out = client.run(&other, None, &["package", "--no-verify", "--allow-dirty"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packaged = client.target.path().join("package/Gantry_Demo-0.3.0.crate");
    let out = s.cli(
        Some(ADMIN),
        &["push", "cargo", "acme/dev", &packaged.display().to_string()],
    )?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("duplicate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let lines = index_lines(&s, "acme/dev", "ga/nt/gantry-demo").await?;
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["vers"], "0.1.0");
    assert_eq!(lines[1]["rust_version"], "1.60");
    assert_eq!(lines[1]["features"]["extra"], json!([]));

    // A crate with an optional, renamed registry dependency and a `dep:` feature: its
    // publish metadata is checked against its manifest, and the feature goes to features2.
    let extra = client.work.path().join("gantry-extra");
    std::fs::create_dir_all(extra.join("src"))?;
    std::fs::write(
        extra.join("Cargo.toml"),
        "[package]\nname = \"gantry-extra\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\
         description = \"extra\"\nlicense = \"MIT\"\nlinks = \"gantryextra\"\nbuild = \"build.rs\"\n\n\
         [dependencies]\ndemo = { package = \"gantry-demo\", version = \"0.1\", registry = \"gantry\", optional = true }\n\n\
         [features]\nmore = [\"dep:demo\"]\n",
    )?;
    std::fs::write(extra.join("src/lib.rs"), "")?;
    std::fs::write(extra.join("build.rs"), "fn main() {}\n")?;
    client.ok(
        &extra,
        Some(&write),
        &[
            "publish",
            "--registry",
            "gantry",
            "--no-verify",
            "--allow-dirty",
        ],
    )?;
    let lines = index_lines(&s, "acme/dev", "ga/nt/gantry-extra").await?;
    assert_eq!(lines[0]["features2"]["more"], json!(["dep:demo"]));
    assert_eq!(lines[0]["v"], 2);
    assert_eq!(lines[0]["links"], "gantryextra");
    assert_eq!(lines[0]["deps"][0]["name"], "demo");
    assert_eq!(lines[0]["deps"][0]["package"], "gantry-demo");
    assert_eq!(lines[0]["deps"][0]["optional"], true);

    // Yanked versions are not chosen for a new lockfile.
    let out = client.ok(
        client.work.path(),
        Some(&write),
        &[
            "yank",
            "--registry",
            "gantry",
            "--version",
            "0.1.1",
            "gantry-demo",
        ],
    );
    out?;
    let app = client.app("consumer", "gantry-demo", "0.1")?;
    client.ok(&app, Some(&read), &["generate-lockfile"])?;
    assert_eq!(locked_version(&app, "gantry-demo")?, "0.1.0");
    client.ok(&app, Some(&read), &["build", "-q"])?;
    let printed = client.ok(&app, Some(&read), &["run", "-q"])?;
    assert_eq!(printed.trim(), "1");
    client.ok(
        client.work.path(),
        Some(&write),
        &[
            "yank",
            "--registry",
            "gantry",
            "--undo",
            "--version",
            "0.1.1",
            "gantry-demo",
        ],
    )?;
    client.ok(&app, Some(&read), &["update"])?;
    assert_eq!(locked_version(&app, "gantry-demo")?, "0.1.1");
    let printed = client.ok(&app, Some(&read), &["run", "-q"])?;
    assert_eq!(printed.trim(), "2");

    let owners = client.ok(
        client.work.path(),
        Some(&read),
        &["owner", "--registry", "gantry", "--list", "gantry-demo"],
    )?;
    assert!(!owners.trim().is_empty());
    let found = client.ok(
        client.work.path(),
        Some(&read),
        &["search", "--registry", "gantry", "demo"],
    )?;
    assert!(found.contains("gantry-demo = \"0.1.1\""), "{found}");

    // Copy 0.1.0 and move 0.1.1 to staging: both indexes change at once.
    let (_, listing) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=format:cargo",
            None,
        )
        .await?;
    let slug_of = |v: &str| {
        listing["results"]
            .as_array()
            .or(listing.as_array())
            .and_then(|a| a.iter().find(|p| p["version"] == v))
            .and_then(|p| p["slug_perm"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("no package {v}: {listing}"))
    };
    let (old, new) = (slug_of("0.1.0")?, slug_of("0.1.1")?);
    s.cli_ok(Some(ADMIN), &["cp", &format!("acme/dev/{old}"), "staging"])?;
    s.cli_ok(Some(ADMIN), &["mv", &format!("acme/dev/{new}"), "staging"])?;
    let dev: Vec<Value> = index_lines(&s, "acme/dev", "ga/nt/gantry-demo").await?;
    let staging = index_lines(&s, "acme/staging", "ga/nt/gantry-demo").await?;
    let versions = |lines: &[Value]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l["vers"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(versions(&dev), ["0.1.0"]);
    assert_eq!(versions(&staging), ["0.1.0", "0.1.1"]);
    assert_eq!(dev[0]["cksum"], staging[0]["cksum"]);
    // And cargo builds from staging what moved there.
    let staged = CargoClient::new(&format!("{}/acme/staging/cargo/index/", s.url))?;
    let app = staged.app("consumer", "gantry-demo", "=0.1.1")?;
    let printed = staged.ok(&app, Some(&read), &["run", "-q"])?;
    assert_eq!(printed.trim(), "2");
    Ok(())
}

/// A publish body as cargo frames it.
fn publish_body(meta: &Value, krate: &[u8]) -> Vec<u8> {
    let meta = meta.to_string();
    let mut body = Vec::new();
    body.extend_from_slice(&u32::try_from(meta.len()).unwrap_or(0).to_le_bytes());
    body.extend_from_slice(meta.as_bytes());
    body.extend_from_slice(&u32::try_from(krate.len()).unwrap_or(0).to_le_bytes());
    body.extend_from_slice(krate);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cargo_index_entries_caching_and_errors() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "pub", false).await?;
    for file in [
        "serde_json-1.0.100.crate",
        "itoa-1.0.11.crate",
        "hyper-0.14.9.crate",
    ] {
        let path = fixture(file).display().to_string();
        s.cli_ok(Some(ADMIN), &["push", "cargo", "acme/pub", &path])?;
    }
    // Public: anonymous cargo reads without a token.
    let (st, config) = s
        .call(Method::GET, "/acme/pub/cargo/index/config.json", None, None)
        .await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(config["auth-required"], false);
    assert_eq!(
        config["dl"],
        format!(
            "{}/acme/pub/cargo/api/v1/crates/{{crate}}/{{version}}/download",
            s.url
        )
    );
    let resp = s
        .req(Method::GET, "/acme/pub/cargo/index/se/rd/serde_json", None)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let etag = resp.headers()["etag"].to_str()?.to_owned();
    let modified = resp.headers()["last-modified"].to_str()?.to_owned();
    let text = resp.text().await?;
    let entry: Value = serde_json::from_str(text.trim())?;
    assert_eq!(entry["name"], "serde_json");
    assert_eq!(entry["vers"], "1.0.100");
    assert_eq!(
        entry["cksum"],
        "0f1e14e89be7aa4c4b78bdbdc9eb5bf8517829a600ae8eaa39a6e1d960b5185c"
    );
    assert_eq!(entry["yanked"], false);
    assert_eq!(entry["rust_version"], "1.36");
    let deps = entry["deps"].as_array().ok_or("deps")?;
    let dep = |n: &str| {
        deps.iter()
            .find(|d| d["name"] == n)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(dep("indexmap")["optional"], true);
    assert_eq!(dep("itoa")["kind"], "normal");
    assert_eq!(dep("serde_derive")["kind"], "dev");
    for key in [
        "kind",
        "target",
        "optional",
        "default_features",
        "package",
        "registry",
        "features",
        "req",
    ] {
        assert!(dep("itoa").get(key).is_some(), "{key} missing");
    }
    assert_eq!(entry["features"]["std"], json!(["serde/std"]));
    assert_eq!(
        entry["features"]["preserve_order"],
        json!(["indexmap", "std"])
    );
    assert!(entry.get("features2").is_none(), "{entry}");
    assert_eq!(entry["v"], 1);
    let hyper = index_lines(&s, "acme/pub", "hy/pe/hyper").await?;
    let hdeps = hyper[0]["deps"].as_array().ok_or("deps")?;
    assert!(hdeps.iter().any(|d| d["target"].is_string()), "{hyper:?}");
    // Another spelling of the name reaches the same crate.
    let (st, _) = s
        .call(
            Method::GET,
            "/acme/pub/cargo/index/se/rd/serde-json",
            None,
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    // A path that does not belong to the name is not found.
    let (st, _) = s
        .call(
            Method::GET,
            "/acme/pub/cargo/index/xx/yy/serde_json",
            None,
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Conditional requests.
    let resp = s
        .req(Method::GET, "/acme/pub/cargo/index/se/rd/serde_json", None)
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    let resp = s
        .req(Method::GET, "/acme/pub/cargo/index/se/rd/serde_json", None)
        .header("if-modified-since", &modified)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    // Downloads serve the very bytes.
    let bytes = s
        .req(
            Method::GET,
            "/acme/pub/cargo/api/v1/crates/itoa/1.0.11/download",
            None,
        )
        .send()
        .await?
        .bytes()
        .await?;
    assert_eq!(
        bytes.as_ref(),
        std::fs::read(fixture("itoa-1.0.11.crate"))?.as_slice()
    );
    let (st, _) = s
        .call(
            Method::GET,
            "/acme/pub/cargo/api/v1/crates/itoa/9.9.9/download",
            None,
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Ownership is not managed per crate.
    let (st, _) = s
        .call(
            Method::PUT,
            "/acme/pub/cargo/api/v1/crates/itoa/owners",
            Some(ADMIN),
            Some(json!({"users": ["x"]})),
        )
        .await?;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    // The package JSON links the cargo download.
    let (_, listing) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/pub?query=name:itoa",
            None,
        )
        .await?;
    let url = listing[0]["files"][0]["download_url"]
        .as_str()
        .unwrap_or_default();
    assert!(
        url.ends_with("/acme/pub/cargo/api/v1/crates/itoa/1.0.11/download"),
        "{listing}"
    );

    // Publish bodies that disagree with their crate, or are malformed, get cargo's errors.
    let krate = std::fs::read(fixture("itoa-1.0.11.crate"))?;
    let publish = |body: Vec<u8>| {
        s.req(Method::PUT, "/acme/pub/cargo/api/v1/crates/new", None)
            .header("authorization", ADMIN)
            .body(body)
            .send()
    };
    let meta = json!({"name": "itoa", "vers": "1.0.12", "deps": [], "features": {}, "links": null});
    let resp = publish(publish_body(&meta, &krate)).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await?;
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("version")),
        "{body}"
    );
    assert_eq!(body["error"]["code"], "bad_request");
    let resp = publish(vec![1, 2]).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let mut short = publish_body(&meta, &krate);
    short.truncate(short.len() - 10);
    assert_eq!(publish(short).await?.status(), StatusCode::BAD_REQUEST);
    let hostile = json!({"name": "../etc", "vers": "1.0.0"});
    assert_eq!(
        publish(publish_body(&hostile, b"x")).await?.status(),
        StatusCode::BAD_REQUEST
    );
    // itoa 1.0.11 is there already (pushed by the CLI).
    let meta = json!({"name": "itoa", "vers": "1.0.11", "deps": [], "features": {"no-panic": []}, "links": null});
    assert_eq!(
        publish(publish_body(&meta, &krate)).await?.status(),
        StatusCode::CONFLICT
    );
    // A .crate that is not one.
    let path = client_tmp_file(b"not a crate")?;
    let out = s.cli(
        Some(ADMIN),
        &["push", "cargo", "acme/pub", &path.1.display().to_string()],
    )?;
    assert!(!out.status.success());
    Ok(())
}

fn client_tmp_file(bytes: &[u8]) -> TestResult<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("broken-1.0.0.crate");
    std::fs::write(&path, bytes)?;
    Ok((dir, path))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cargo_fixtures_report_exactly_the_manifest_advisories() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "vulndb",
            "import",
            &shared("osv/crates.io").display().to_string(),
        ],
    )?;
    let rows = crate::scanning::manifest_rows("cargo")?;
    for row in &rows {
        let cols: Vec<&str> = row.iter().map(String::as_str).collect();
        crate::scanning::push_and_check_fixture(&s, "acme/dev", &cols).await?;
    }
    assert_eq!(rows.len(), 5);
    Ok(())
}
