//! The real composer (Debian's 2.5) with a private home and cache per run, and the helpers
//! the Composer suites share: package directories and zips, uploads, and projects that
//! require packages from one Gantry repository with Composer's default public repository
//! switched off.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer};

pub(crate) struct ComposerClient {
    pub(crate) work: tempfile::TempDir,
    /// The repository's URL (`…/OWNER/REPO/composer`).
    repository: String,
    /// `COMPOSER_AUTH`, when credentials are sent.
    auth: Option<String>,
}

impl ComposerClient {
    pub(crate) fn new(repository: &str) -> TestResult<Self> {
        Ok(Self {
            work: tempfile::tempdir()?,
            repository: repository.to_owned(),
            auth: None,
        })
    }

    /// Sends `token` as the http-basic password for the repository's host and port.
    pub(crate) fn with_token(mut self, token: &str) -> Self {
        let origin = self
            .repository
            .split_once("://")
            .and_then(|(_, rest)| rest.split('/').next())
            .unwrap_or_default()
            .to_owned();
        self.auth = Some(
            json!({"http-basic": {origin: {"username": "token", "password": token}}}).to_string(),
        );
        self
    }

    /// A project in a new directory requiring `packages` (name → constraint) from the
    /// repository only.
    pub(crate) fn project(&self, dir: &str, packages: &[(&str, &str)]) -> TestResult<PathBuf> {
        let path = self.work.path().join(dir);
        std::fs::create_dir_all(&path)?;
        let require: serde_json::Map<String, Value> = packages
            .iter()
            .map(|(n, c)| ((*n).to_owned(), json!(c)))
            .collect();
        let manifest = json!({
            "name": "acme/app",
            "repositories": [
                {"type": "composer", "url": self.repository},
                {"packagist": false}
            ],
            "require": require,
            "config": {"secure-http": false}
        });
        std::fs::write(path.join("composer.json"), manifest.to_string())?;
        Ok(path)
    }

    /// `composer ARGS` in `dir`, with the cache named `cache` (a new name is an empty cache).
    pub(crate) fn run(&self, dir: &Path, cache: &str, args: &[&str]) -> TestResult<Output> {
        let composer = std::env::var("GANTRY_TEST_COMPOSER").unwrap_or_else(|_| "composer".into());
        let home = self.work.path();
        let mut cmd = Command::new(composer);
        cmd.env_clear();
        for key in ["PATH", "TMPDIR"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        cmd.current_dir(dir)
            .env("HOME", home)
            .env("COMPOSER_HOME", home.join("composer-home"))
            .env("COMPOSER_CACHE_DIR", home.join(format!("cache-{cache}")))
            .env("COMPOSER_NO_INTERACTION", "1")
            .env("COMPOSER_DISABLE_NETWORK", "0")
            .env("COMPOSER_ALLOW_SUPERUSER", "1")
            .args(args)
            .args(["--no-interaction", "--no-ansi", "--no-progress"]);
        if let Some(auth) = &self.auth {
            cmd.env("COMPOSER_AUTH", auth);
        }
        Ok(cmd.output()?)
    }

    /// `composer ARGS` that must succeed; its stderr (where composer reports).
    pub(crate) fn ok(&self, dir: &Path, cache: &str, args: &[&str]) -> TestResult<String> {
        let out = self.run(dir, cache, args)?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            return Err(format!(
                "composer {args:?} failed:\n{}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
            .into());
        }
        Ok(stderr)
    }

    /// `composer ARGS` that must fail; its output.
    pub(crate) fn fails(&self, dir: &Path, cache: &str, args: &[&str]) -> TestResult<String> {
        let out = self.run(dir, cache, args)?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            return Err(
                format!("composer {args:?} succeeded, and should not have:\n{text}").into(),
            );
        }
        Ok(text)
    }
}

/// What a package's `Greeter::greet()` returns, printed by [`run_php`].
pub(crate) fn greeter(class_ns: &str, greeting: &str) -> String {
    format!(
        "<?php\nnamespace {class_ns};\n\nclass Greeter\n{{\n    public static function greet(): string {{ return {greeting:?}; }}\n}}\n"
    )
}

/// A package directory: `composer.json` for `name` (with `extra` fields merged in) and a
/// PSR-4 `Greeter` class.
pub(crate) fn package_dir(
    root: &Path,
    name: &str,
    class_ns: &str,
    greeting: &str,
    extra: Value,
) -> TestResult<PathBuf> {
    let dir = root.join(name.replace('/', "-"));
    std::fs::create_dir_all(dir.join("src"))?;
    let mut manifest = json!({
        "name": name,
        "license": "MIT",
        "autoload": {"psr-4": {format!("{class_ns}\\"): "src/"}},
    });
    if let (Some(m), Value::Object(extra)) = (manifest.as_object_mut(), extra) {
        m.extend(extra);
    }
    std::fs::write(dir.join("composer.json"), manifest.to_string())?;
    std::fs::write(dir.join("src/Greeter.php"), greeter(class_ns, greeting))?;
    Ok(dir)
}

/// A zip holding `files`.
pub(crate) fn zip_of(files: &[(&str, &[u8])]) -> TestResult<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for (name, body) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())?;
        zip.write_all(body)?;
    }
    zip.finish()?;
    Ok(out.into_inner())
}

/// Uploads a dist zip through the REST API, as a CI job would (`version` optional).
pub(crate) async fn upload_zip(
    s: &TestServer,
    repo: &str,
    token: &str,
    zip: Vec<u8>,
    version: Option<&str>,
) -> TestResult<(StatusCode, Value)> {
    let version = version.map(|v| format!("&version={v}")).unwrap_or_default();
    s.upload_format(
        token,
        repo,
        "composer",
        &format!("filename=pkg.zip{version}"),
        zip,
    )
    .await
}

/// GETs a repository path as JSON (anonymously).
pub(crate) async fn get_json(s: &TestServer, path: &str) -> TestResult<(StatusCode, Value)> {
    let resp = s.req(Method::GET, path, None).send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// The versions a metadata file lists.
pub(crate) async fn listed(s: &TestServer, path: &str, name: &str) -> TestResult<Vec<String>> {
    let (st, doc) = get_json(s, path).await?;
    if st == StatusCode::NOT_FOUND {
        return Ok(Vec::new());
    }
    assert_eq!(st, StatusCode::OK, "{doc}");
    Ok(doc["packages"][name]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["version"].as_str().map(str::to_owned))
        .collect())
}

/// Runs PHP in `dir` with the project's autoloader, printing what `code` echoes.
pub(crate) fn run_php(dir: &Path, code: &str) -> TestResult<String> {
    let out = Command::new("php")
        .current_dir(dir)
        .args(["-r", &format!("require 'vendor/autoload.php'; {code}")])
        .output()?;
    if !out.status.success() {
        return Err(format!("php failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}
