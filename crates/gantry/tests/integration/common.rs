//! Test harness: starts a real `gantry server` process on 127.0.0.1 with a fresh data
//! directory and, when `GANTRY_TEST_DATABASE_URL` names a PostgreSQL server, a fresh database
//! on it; talks to it over real HTTP and through the real CLI.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub const ADMIN: &str = "gty_test_admin_token_0123456789";

/// The outbound allow list test servers get: their peers listen on loopback.
pub const LOOPBACK: &str = "127.0.0.0/8";

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_gantry")
}

/// Which metadata backend the suite runs on.
pub fn backend() -> &'static str {
    if std::env::var("GANTRY_TEST_DATABASE_URL").is_ok() {
        "postgres"
    } else {
        "sqlite"
    }
}

/// Native-client format suites (real pip, npm, mvn, go, gem, … against a format's protocol) run
/// on one backend, SQLite: what they add over the database-facing suite is the protocol, and
/// running them twice would only lengthen CI. Call at the top of such a test; true means return.
pub fn native_client_suite_skipped() -> bool {
    if backend() == "sqlite" {
        return false;
    }
    eprintln!("native-client suite: runs on SQLite only");
    true
}

pub fn fresh_postgres_database(base: &str) -> TestResult<String> {
    let name = format!(
        "gantry_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        gantry_core::ids::random_base62(6).to_lowercase()
    );
    let base = base.trim_end_matches('/');
    let out = Command::new("psql")
        .arg(format!("{base}/postgres"))
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()?;
    if !out.status.success() {
        return Err(format!("createdb failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(format!("{base}/{name}"))
}

pub struct ServerBuilder {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    admin_token: Option<String>,
    data_dir: Option<tempfile::TempDir>,
    database_url: Option<String>,
    storage: Option<Storage>,
}

/// Where a test server keeps its blobs when the suite runs with blobs in S3: the storage URL
/// and the environment the server (and its workers) need for the bucket.
pub type Storage = Vec<(String, String)>;

/// The S3-compatible endpoint and bucket the whole suite keeps its blobs in, when set
/// (`scripts/test.sh` runs the suite once more on PostgreSQL with blobs in moto's server).
fn suite_bucket() -> Option<(String, String)> {
    let endpoint = std::env::var("GANTRY_TEST_S3_ENDPOINT").ok()?;
    let bucket = std::env::var("GANTRY_TEST_S3_BUCKET").ok()?;
    Some((endpoint, bucket))
}

/// Whether servers keep their blobs in S3 in this run. Tests that look at blob files on
/// disk (a server's `blobs_dir`) do not apply then and return early.
pub fn blobs_in_s3() -> bool {
    if suite_bucket().is_some() {
        eprintln!("blobs are in S3 in this run: the blob-directory checks do not apply");
        return true;
    }
    false
}

/// A prefix of its own in the suite's bucket, for one new server.
fn suite_storage() -> Option<Storage> {
    let (endpoint, bucket) = suite_bucket()?;
    let prefix = format!(
        "t{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    Some(vec![
        (
            "GANTRY_STORAGE_URL".into(),
            format!("s3://{bucket}/{prefix}"),
        ),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ENDPOINT_URL".into(), endpoint),
    ])
}

impl ServerBuilder {
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Start without `GANTRY_ADMIN_TOKEN` (first-start bootstrap).
    pub fn without_admin_token(mut self) -> Self {
        self.admin_token = None;
        self
    }

    /// Reuse a data directory (restart scenarios).
    pub fn data_dir(mut self, dir: tempfile::TempDir) -> Self {
        self.data_dir = Some(dir);
        self
    }

    /// Use this database instead of a fresh one.
    pub fn database_url(mut self, url: String) -> Self {
        self.database_url = Some(url);
        self
    }

    /// A second server on the database and blob store of a running one, as a replica behind
    /// the same load balancer would be (SQLite: two processes on one file).
    pub fn replica_of(mut self, server: &TestServer) -> Self {
        let url = server.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                server.data_dir.path().join("gantry.db").display()
            )
        });
        self.database_url = Some(url);
        match &server.storage {
            Some(storage) => self.storage = Some(storage.clone()),
            None => {
                self.args.push("--storage-url".into());
                self.args.push(server.blobs_dir().display().to_string());
            }
        }
        self
    }

    /// Restart on the data (directory and database) of a stopped server.
    pub fn restart_of(mut self, stopped: Stopped) -> Self {
        self.data_dir = Some(stopped.data_dir);
        self.database_url = stopped.database_url;
        self.storage = stopped.storage;
        self
    }

    pub fn start(self) -> TestResult<TestServer> {
        let handed_a_dir = self.data_dir.is_some();
        let data_dir = match self.data_dir {
            Some(d) => d,
            None => tempfile::tempdir()?,
        };
        let database_url = match (self.database_url, std::env::var("GANTRY_TEST_DATABASE_URL")) {
            (Some(url), _) => Some(url),
            (None, Ok(base)) => Some(fresh_postgres_database(&base)?),
            (None, Err(_)) => None,
        };
        // A test that chose its own storage keeps it, and so does one handing over a data
        // directory (a snapshot or a backup, blobs included); every other server of an S3 run
        // gets a prefix of its own in the suite's bucket.
        let chooses_storage = self.args.iter().any(|a| a == "--storage-url")
            || self.envs.iter().any(|(k, _)| k == "GANTRY_STORAGE_URL")
            || handed_a_dir;
        let storage = match self.storage {
            Some(storage) => Some(storage),
            None if chooses_storage => None,
            None => suite_storage(),
        };
        TestServer::spawn(
            data_dir,
            database_url,
            self.args,
            self.envs,
            self.admin_token,
            storage,
        )
    }
}

/// What a stopped server leaves behind for a restart.
pub struct Stopped {
    pub data_dir: tempfile::TempDir,
    pub database_url: Option<String>,
    pub storage: Option<Storage>,
}

pub struct TestServer {
    pub url: String,
    pub data_dir: tempfile::TempDir,
    pub database_url: Option<String>,
    pub admin_token: Option<String>,
    /// Blobs in the suite's bucket (an S3 run), else in `data_dir/blobs`.
    pub storage: Option<Storage>,
    pub child: Child,
    pub stdout_lines: Vec<String>,
    pub http: reqwest::Client,
}

impl TestServer {
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            args: Vec::new(),
            envs: Vec::new(),
            admin_token: Some(ADMIN.to_owned()),
            data_dir: None,
            database_url: None,
            storage: None,
        }
    }

    pub fn start() -> TestResult<Self> {
        Self::builder().start()
    }

    fn spawn(
        data_dir: tempfile::TempDir,
        database_url: Option<String>,
        args: Vec<String>,
        envs: Vec<(String, String)>,
        admin_token: Option<String>,
        storage: Option<Storage>,
    ) -> TestResult<Self> {
        let mut cmd = Command::new(bin());
        cmd.arg("server")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(&args)
            .env_remove("GANTRY_ADMIN_TOKEN")
            .env_remove("GANTRY_DATABASE_URL")
            .env("GANTRY_LOG", "warn")
            // Peers (receivers, upstream indexes) run on loopback; a test of the default
            // outbound rules sets this to "".
            .env("GANTRY_OUTBOUND_ALLOW_NETWORKS", LOOPBACK)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = &database_url {
            cmd.arg("--database-url").arg(url);
        }
        if let Some(token) = &admin_token {
            cmd.env("GANTRY_ADMIN_TOKEN", token);
        }
        for (k, v) in storage.iter().flatten().chain(&envs) {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut lines = Vec::new();
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    return Err(format!("server did not start; stdout: {lines:?}").into());
                }
            };
            if let Some(url) = line.strip_prefix("gantry listening on ") {
                break url.trim().to_owned();
            }
            lines.push(line);
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Ok(Self {
            url,
            data_dir,
            database_url,
            admin_token,
            storage,
            child,
            stdout_lines: lines,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
        })
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> TestResult<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err("server did not stop after SIGTERM".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server and hands back its data directory.
    pub fn stop(self) -> TestResult<tempfile::TempDir> {
        Ok(self.shutdown()?.data_dir)
    }

    /// Stops the server (SIGTERM) and hands back its data for a restart.
    pub fn shutdown(mut self) -> TestResult<Stopped> {
        self.terminate()?;
        self.into_stopped()
    }

    /// Kills the server with SIGKILL, as a crash would, and hands back its data.
    pub fn crash(mut self) -> TestResult<Stopped> {
        self.child.kill()?;
        self.child.wait()?;
        self.into_stopped()
    }

    fn into_stopped(mut self) -> TestResult<Stopped> {
        let dir = tempfile::tempdir()?;
        Ok(Stopped {
            data_dir: std::mem::replace(&mut self.data_dir, dir),
            database_url: self.database_url.take(),
            storage: self.storage.take(),
        })
    }

    /// Starts `gantry worker` against this server's database and storage.
    pub fn spawn_worker(&self, envs: &[(&str, &str)]) -> TestResult<Child> {
        let mut cmd = Command::new(bin());
        cmd.arg("worker")
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .arg("--public-url")
            .arg(&self.url)
            .env_remove("GANTRY_DATABASE_URL")
            .env("GANTRY_LOG", "warn")
            .env("GANTRY_OUTBOUND_ALLOW_NETWORKS", LOOPBACK)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        for (k, v) in self.storage.iter().flatten() {
            cmd.env(k, v);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Ok(cmd.spawn()?)
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.data_dir.path().join("blobs")
    }

    /// A request with an optional bearer token.
    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let b = self.http.request(method, format!("{}{path}", self.url));
        match token {
            Some(t) => b.bearer_auth(t),
            None => b,
        }
    }

    /// Sends a request and returns the status and the JSON body (Null when not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> TestResult<(StatusCode, Value)> {
        let mut b = self.req(method, path, token);
        if let Some(body) = body {
            b = b.json(&body);
        }
        let resp = b.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok((status, json))
    }

    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> TestResult<(StatusCode, Value)> {
        self.call(method, path, Some(ADMIN), body).await
    }

    pub async fn create_repo(&self, owner: &str, name: &str, private: bool) -> TestResult<Value> {
        let (status, body) = self
            .admin(
                Method::POST,
                &format!("/api/v1/repos/{owner}"),
                Some(serde_json::json!({ "name": name, "private": private })),
            )
            .await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Ok(body)
    }

    /// Uploads `body` through the REST upload API of `format` with `token`, as a CI job
    /// would (`query`: `filename=…` and more): the status and the answer (its JSON, or its
    /// text as a string).
    pub async fn upload_format(
        &self,
        token: &str,
        repo: &str,
        format: &str,
        query: &str,
        body: Vec<u8>,
    ) -> TestResult<(StatusCode, Value)> {
        let resp = self
            .req(
                Method::POST,
                &format!("/api/v1/packages/{repo}/upload/{format}?{query}"),
                Some(token),
            )
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Uploads bytes as a raw package with the admin token.
    pub async fn upload_raw(
        &self,
        repo: &str,
        name: &str,
        version: &str,
        filename: &str,
        bytes: &[u8],
    ) -> TestResult<(StatusCode, Value)> {
        self.upload_raw_as(ADMIN, repo, name, version, filename, bytes)
            .await
    }

    /// Uploads, and when the upload was accepted waits for its sync to finish; returns the
    /// package as it is then.
    pub async fn upload_raw_as(
        &self,
        token: &str,
        repo: &str,
        name: &str,
        version: &str,
        filename: &str,
        bytes: &[u8],
    ) -> TestResult<(StatusCode, Value)> {
        let (status, body) = self
            .upload_raw_nowait(token, repo, name, version, filename, bytes)
            .await?;
        if status != StatusCode::CREATED {
            return Ok((status, body));
        }
        let slug = body["slug_perm"].as_str().ok_or("no slug")?;
        Ok((status, self.wait_for_sync(repo, slug).await?))
    }

    /// Polls a package until its sync completed or failed (at most 30 s).
    pub async fn wait_for_sync(&self, repo: &str, slug: &str) -> TestResult<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, package) = self
                .admin(
                    Method::GET,
                    &format!("/api/v1/packages/{repo}/{slug}"),
                    None,
                )
                .await?;
            if status != StatusCode::OK {
                return Err(format!("package {slug}: {status} {package}").into());
            }
            if matches!(
                package["sync_status"].as_str(),
                Some("completed" | "failed")
            ) {
                return Ok(package);
            }
            if Instant::now() > deadline {
                return Err(format!("package {slug} did not finish syncing: {package}").into());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Uploads without waiting for sync.
    pub async fn upload_raw_nowait(
        &self,
        token: &str,
        repo: &str,
        name: &str,
        version: &str,
        filename: &str,
        bytes: &[u8],
    ) -> TestResult<(StatusCode, Value)> {
        let resp = self
            .req(
                Method::POST,
                &format!("/api/v1/packages/{repo}/upload/raw"),
                Some(token),
            )
            .query(&[("name", name), ("version", version), ("filename", filename)])
            .body(bytes.to_vec())
            .send()
            .await?;
        let status = resp.status();
        let json = resp.json().await.unwrap_or(Value::Null);
        Ok((status, json))
    }

    pub async fn token(&self, scope: &str, privilege: &str) -> TestResult<String> {
        let (status, body) = self
            .admin(
                Method::POST,
                "/api/v1/tokens",
                Some(serde_json::json!({ "scope": scope, "privilege": privilege })),
            )
            .await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Ok(body["token"].as_str().ok_or("no token")?.to_owned())
    }

    /// Runs the CLI against this server with `token`.
    pub fn cli(&self, token: Option<&str>, args: &[&str]) -> TestResult<Output> {
        let config_dir = self.data_dir.path().join("client-config");
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env("GANTRY_URL", &self.url)
            .env("GANTRY_CLIENT_CONFIG", config_dir.join("config.toml"))
            .env_remove("GANTRY_TOKEN");
        if let Some(t) = token {
            cmd.env("GANTRY_TOKEN", t);
        }
        Ok(cmd.output()?)
    }

    /// Runs the CLI with extra environment variables.
    pub fn cli_with_env(
        &self,
        token: Option<&str>,
        envs: &[(&str, &str)],
        args: &[&str],
    ) -> TestResult<Output> {
        let config_dir = self.data_dir.path().join("client-config");
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env("GANTRY_URL", &self.url)
            .env("GANTRY_CLIENT_CONFIG", config_dir.join("config.toml"))
            .env_remove("GANTRY_TOKEN");
        if let Some(t) = token {
            cmd.env("GANTRY_TOKEN", t);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Ok(cmd.output()?)
    }

    /// Runs the CLI and returns its trimmed stdout, failing the test when it exits non-zero.
    pub fn cli_ok(&self, token: Option<&str>, args: &[&str]) -> TestResult<String> {
        let out = self.cli(token, args)?;
        if !out.status.success() {
            return Err(format!(
                "gantry {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Asserts an error envelope with `status` and `code`.
pub fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// The jobs of an admin jobs listing but the periodic ones every server keeps scheduled (the
/// web-session sweep), which are not work a package left behind.
pub(crate) fn package_work(listing: &serde_json::Value) -> Vec<serde_json::Value> {
    listing
        .as_array()
        .into_iter()
        .flatten()
        .filter(|j| j["kind"] != "web.sessions_sweep")
        .cloned()
        .collect()
}
