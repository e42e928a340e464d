//! An RPM upstream: a mirror written by `createrepo_c` and served by nginx. Its packages are
//! listed in Gantry's signed repodata beside the local ones, dnf installs one through Gantry
//! (cache mode stores it on the way), and when the mirror goes away the repodata still lists
//! what it last read.

use std::path::Path;
use std::process::{Child, Command};

use reqwest::Method;
use serde_json::json;

use super::tools::{self, Dnf, Spec};
use crate::common::{TestResult, TestServer, ADMIN};

/// nginx serving `root` on a free loopback port, as one process (killing it is an outage).
/// The Debian upstream test serves its `reprepro` mirror with it too.
pub(crate) struct StaticServer {
    pub(crate) url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl StaticServer {
    pub(crate) fn start(root: &Path) -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let temp = |name: &str| format!("{name}_temp_path {};", d.join(name).display());
        let config = format!(
            "daemon off;\nmaster_process off;\npid {pid};\nerror_log {log};\nevents {{}}\nhttp {{\n access_log off;\n {} {} {} {} {}\n \
             server {{\n  listen 127.0.0.1:{port};\n  root {root};\n }}\n}}\n",
            temp("client_body"),
            temp("proxy"),
            temp("fastcgi"),
            temp("uwsgi"),
            temp("scgi"),
            pid = d.join("nginx.pid").display(),
            log = d.join("error.log").display(),
            root = root.display(),
        );
        std::fs::write(d.join("nginx.conf"), config)?;
        let nginx = if Path::new("/usr/sbin/nginx").exists() {
            "/usr/sbin/nginx"
        } else {
            "nginx"
        };
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
            url: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        })
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_createrepo_mirror_behind_nginx_is_listed_installed_and_survives_an_outage(
) -> TestResult<()> {
    if crate::common::native_client_suite_skipped() || tools::rpm_tools_missing() {
        return Ok(());
    }
    let work = tempfile::tempdir()?;
    let files = tools::build(
        work.path(),
        &[
            Spec {
                name: "gantry-mirrored",
                version: "3.1",
                release: "1",
                extra: "",
            },
            Spec {
                name: "gantry-elsewhere",
                version: "0.2",
                release: "5",
                extra: "",
            },
        ],
    )?;
    let mirror = work.path().join("mirror");
    std::fs::create_dir_all(mirror.join("Packages"))?;
    for f in &files {
        std::fs::copy(
            f,
            mirror.join("Packages").join(f.file_name().ok_or("name")?),
        )?;
    }
    let out = Command::new("createrepo_c")
        .args(["--no-database", "--quiet"])
        .arg(&mirror)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nginx = StaticServer::start(&mirror)?;

    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/repos/acme/dev/upstreams",
            Some(
                json!({"format": "rpm", "name": "mirror", "url": format!("{}/", nginx.url),
                        "mode": "cache", "index_ttl_seconds": 1}),
            ),
        )
        .await?;
    assert_eq!(st, reqwest::StatusCode::CREATED, "{body}");

    let key = super::get_bytes(&s, "/acme/dev/rpm/key.asc", None).await?;
    let dnf = Dnf::new(&key)?;
    let url = format!("{}/acme/dev/rpm/", s.url);
    let (ok, text) = dnf.run(&url, "install", &["gantry-mirrored"])?;
    assert!(ok, "{text}");
    assert!(dnf.installed("/usr/share/gantry-mirrored/VERSION"));
    // Cache mode: the package is now one of the repository's, listed from there.
    let listing = s.cli_ok(Some(ADMIN), &["ls", "pkgs", "acme/dev", "-F", "json"])?;
    let listing: serde_json::Value = serde_json::from_str(&listing)?;
    assert_eq!(listing[0]["name"], "gantry-mirrored", "{listing}");
    let listed = |primary: &str| {
        let mut names: Vec<String> = super::primary::parse(primary)
            .unwrap_or_default()
            .into_iter()
            .map(|p| format!("{} {}", p.name, p.href.split('/').next().unwrap_or("")))
            .collect();
        names.sort();
        names
    };
    let before = listed(&super::gantry_primary(&s, "acme/dev").await?);
    assert_eq!(
        before,
        ["gantry-elsewhere upstream", "gantry-mirrored files"]
    );

    // The mirror goes away: the repodata still lists what it last read (past the TTL), and
    // dnf installs the cached package.
    drop(nginx);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let after = listed(&super::gantry_primary(&s, "acme/dev").await?);
    assert_eq!(after, before);
    let fresh = Dnf::new(&key)?;
    let (ok, text) = fresh.run(&url, "install", &["gantry-mirrored"])?;
    assert!(ok, "{text}");
    Ok(())
}
