//! The real go command (Debian's 1.19) with a private GOPATH, build cache and module cache,
//! and the helpers the Go suites share: module directories, module zips, uploads, and an
//! HTTPS front (nginx) for the private-repository tests, since go sends `.netrc`
//! credentials over HTTPS only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{TestResult, TestServer};

pub(crate) struct GoClient {
    pub(crate) work: tempfile::TempDir,
    pub(crate) proxy: String,
    netrc: Option<PathBuf>,
    cert: Option<PathBuf>,
}

impl GoClient {
    /// A go whose `GOPROXY` is `proxy` (a comma-separated list is passed as is).
    pub(crate) fn new(proxy: &str) -> TestResult<Self> {
        Ok(Self {
            work: tempfile::tempdir()?,
            proxy: proxy.to_owned(),
            netrc: None,
            cert: None,
        })
    }

    /// Sends `token` as the password for 127.0.0.1 (a `.netrc` entry), trusting `cert`.
    pub(crate) fn with_credentials(mut self, token: &str, cert: &Path) -> TestResult<Self> {
        let netrc = self.work.path().join("netrc");
        std::fs::write(
            &netrc,
            format!("machine 127.0.0.1\nlogin go\npassword {token}\n"),
        )?;
        self.netrc = Some(netrc);
        self.cert = Some(cert.to_path_buf());
        Ok(self)
    }

    /// `go ARGS` in `dir`, with a fresh module cache when `cache` names a new one.
    pub(crate) fn run(&self, dir: &Path, cache: &str, args: &[&str]) -> TestResult<Output> {
        let go = std::env::var("GANTRY_TEST_GO").unwrap_or_else(|_| "go".into());
        let home = self.work.path();
        let mut cmd = Command::new(go);
        cmd.env_clear();
        for key in ["PATH", "TMPDIR"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        cmd.current_dir(dir)
            .env("HOME", home)
            .env("GOENV", "off")
            .env("GOPATH", home.join("gopath"))
            .env("GOCACHE", home.join("gocache"))
            .env("GOMODCACHE", home.join(format!("modcache-{cache}")))
            .env("GOPROXY", &self.proxy)
            .env("GOSUMDB", "off")
            .env("GOFLAGS", "-mod=mod")
            .env("CGO_ENABLED", "0")
            .env(
                "NETRC",
                self.netrc.as_deref().unwrap_or(Path::new("/dev/null")),
            )
            .args(args);
        if let Some(cert) = &self.cert {
            cmd.env("SSL_CERT_FILE", cert);
        }
        Ok(cmd.output()?)
    }

    pub(crate) fn ok(&self, dir: &Path, cache: &str, args: &[&str]) -> TestResult<String> {
        let out = self.run(dir, cache, args)?;
        if !out.status.success() {
            return Err(format!(
                "go {args:?} failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// `go ARGS` that must fail; its stderr.
    pub(crate) fn fails(&self, dir: &Path, cache: &str, args: &[&str]) -> TestResult<String> {
        let out = self.run(dir, cache, args)?;
        if out.status.success() {
            return Err(format!("go {args:?} succeeded, and should not have").into());
        }
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// A program `main` in a new directory that requires `modules` and prints what each
    /// module's `Greet()` returns.
    pub(crate) fn program(&self, name: &str, modules: &[(&str, &str)]) -> TestResult<PathBuf> {
        let dir = self.work.path().join(name);
        std::fs::create_dir_all(&dir)?;
        let mut go_mod = format!("module example.com/{name}\n\ngo 1.19\n\nrequire (\n");
        let mut imports = String::new();
        let mut calls = String::new();
        for (i, (path, version)) in modules.iter().enumerate() {
            go_mod.push_str(&format!("\t{path} {version}\n"));
            imports.push_str(&format!("\tm{i} \"{path}\"\n"));
            calls.push_str(&format!("\tfmt.Println(m{i}.Greet())\n"));
        }
        go_mod.push_str(")\n");
        std::fs::write(dir.join("go.mod"), go_mod)?;
        std::fs::write(
            dir.join("main.go"),
            format!(
                "package main\n\nimport (\n\t\"fmt\"\n{imports})\n\nfunc main() {{\n{calls}}}\n"
            ),
        )?;
        Ok(dir)
    }
}

/// The source of a module whose `Greet()` returns `greeting`.
pub(crate) fn greeter(greeting: &str) -> String {
    format!("package greet\n\nfunc Greet() string {{ return {greeting:?} }}\n")
}

/// A module directory: `go.mod` for `path` (unless `None`) and `greet.go`.
pub(crate) fn module_dir(
    root: &Path,
    name: &str,
    path: Option<&str>,
    greeting: &str,
) -> TestResult<PathBuf> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir)?;
    if let Some(path) = path {
        std::fs::write(dir.join("go.mod"), format!("module {path}\n\ngo 1.19\n"))?;
    }
    std::fs::write(dir.join("greet.go"), greeter(greeting))?;
    Ok(dir)
}

/// A module zip holding `files` under `prefix` (`path@version/`).
pub(crate) fn module_zip(prefix: &str, files: &[(&str, &[u8])]) -> TestResult<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for (name, body) in files {
        zip.start_file(
            format!("{prefix}{name}"),
            zip::write::SimpleFileOptions::default(),
        )?;
        zip.write_all(body)?;
    }
    zip.finish()?;
    Ok(out.into_inner())
}

/// Uploads a module zip through the REST API, as a CI job would.
pub(crate) async fn upload_zip(
    s: &TestServer,
    repo: &str,
    token: &str,
    zip: Vec<u8>,
) -> TestResult<(StatusCode, Value)> {
    s.upload_format(token, repo, "go", "filename=module.zip", zip)
        .await
}

/// GETs a proxy path of the server as text.
pub(crate) async fn get_text(s: &TestServer, path: &str) -> TestResult<(StatusCode, String)> {
    let resp = s.req(Method::GET, path, None).send().await?;
    let status = resp.status();
    Ok((status, resp.text().await?))
}

/// nginx terminating TLS on a free port in front of a test server, with a self-signed
/// certificate for 127.0.0.1 (what a deployment puts in front of Gantry).
pub(crate) struct TlsFront {
    pub(crate) url: String,
    pub(crate) cert: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl TlsFront {
    pub(crate) fn start(backend: &str) -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(d.join("cert.pem"))
            .output()?;
        if !status.status.success() {
            return Err(format!("openssl: {}", String::from_utf8_lossy(&status.stderr)).into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let temp = |name: &str| format!("{name}_temp_path {};", d.join(name).display());
        let config = format!(
            "daemon off;\npid {pid};\nerror_log {log};\nevents {{}}\nhttp {{\n access_log off;\n {} {} {} {} {}\n \
             server {{\n  listen 127.0.0.1:{port} ssl;\n  ssl_certificate {cert};\n  ssl_certificate_key {key};\n  \
             client_max_body_size 0;\n  location / {{ proxy_pass {backend}; proxy_set_header Host $http_host; }}\n }}\n}}\n",
            temp("client_body"),
            temp("proxy"),
            temp("fastcgi"),
            temp("uwsgi"),
            temp("scgi"),
            pid = d.join("nginx.pid").display(),
            log = d.join("error.log").display(),
            cert = d.join("cert.pem").display(),
            key = d.join("key.pem").display(),
        );
        std::fs::write(d.join("nginx.conf"), config)?;
        let nginx = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|p| !p.starts_with('/') || Path::new(p).exists())
            .unwrap_or("nginx");
        let child = Command::new(nginx)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .arg("-p")
            .arg(d)
            .spawn()?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if std::time::Instant::now() > deadline {
                return Err("nginx did not start".into());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(Self {
            url: format!("https://127.0.0.1:{port}"),
            cert: d.join("cert.pem"),
            child,
            _dir: dir,
        })
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
