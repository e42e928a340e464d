//! Debian repositories with the real apt: `.deb`s built by `dpkg-deb`, pushed with `gantry
//! push deb … --distribution --component`, then `apt-get update` (the signature checked
//! against the repository key in a private `signed-by` keyring, never `trusted=yes`) and
//! `apt-get download`, with private `Dir::` options so the machine's apt state is untouched.
//! Promotion dev → production, quarantine and deletion change what apt sees; a private
//! repository is read through `auth.conf`; a key rotation makes the old key fail. Hostile
//! `.deb`s are refused with nothing stored.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{TestResult, TestServer, ADMIN};

mod scan;
mod upstream;

pub(crate) fn tools_missing() -> bool {
    let missing = ["apt-get", "dpkg-deb"]
        .iter()
        .any(|t| Command::new(t).arg("--version").output().is_err());
    if missing {
        eprintln!("skipped: apt-get or dpkg-deb is missing (run scripts/test.sh)");
    }
    missing
}

/// Builds `name_version_arch.deb` with dpkg-deb in `dir`.
pub(crate) fn build_deb(dir: &Path, name: &str, version: &str, arch: &str) -> TestResult<PathBuf> {
    let root = dir.join(format!("{name}-{version}-{arch}"));
    std::fs::create_dir_all(root.join("DEBIAN"))?;
    std::fs::create_dir_all(root.join(format!("usr/share/doc/{name}")))?;
    std::fs::write(
        root.join(format!("usr/share/doc/{name}/README")),
        format!("{name} {version}\n"),
    )?;
    std::fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: Test <t@example.org>\n\
             Description: test package {name}\n built for Gantry's apt test\n"
        ),
    )?;
    let out = dir.join(format!("{name}_{version}_{arch}.deb"));
    let status = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "--build"])
        .arg(&root)
        .arg(&out)
        .output()?;
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    Ok(out)
}

/// An apt with its own state under a temporary directory.
pub(crate) struct Apt {
    dir: tempfile::TempDir,
}

impl Apt {
    pub(crate) fn new() -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        for sub in [
            "lists/partial",
            "cache/archives/partial",
            "trusted.d",
            "download",
        ] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        std::fs::write(dir.path().join("status"), "")?;
        std::fs::write(dir.path().join("auth.conf"), "")?;
        Ok(Self { dir })
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Points apt at `url` (the `/deb` root) for `dist main`, checked with `key` (armored).
    pub(crate) fn source(&self, url: &str, dist: &str, key: &str) -> TestResult {
        std::fs::write(self.path("key.asc"), key)?;
        let line = format!(
            "deb [signed-by={}] {url} {dist} main\n",
            self.path("key.asc").display()
        );
        std::fs::write(self.path("sources.list"), line)?;
        // A fresh lists directory: each step reads what the server says now.
        let _ = std::fs::remove_dir_all(self.path("lists"));
        std::fs::create_dir_all(self.path("lists/partial"))?;
        Ok(())
    }

    pub(crate) fn login(&self, url: &str, token: &str) -> TestResult {
        let mut f = std::fs::File::create(self.path("auth.conf"))?;
        writeln!(f, "machine {url} login ci password {token}")?;
        Ok(())
    }

    pub(crate) fn run(&self, args: &[&str]) -> TestResult<(bool, String)> {
        let p = |name: &str| self.path(name).display().to_string();
        let options = [
            format!("Dir::Etc::sourcelist={}", p("sources.list")),
            "Dir::Etc::sourceparts=-".to_owned(),
            format!("Dir::Etc::trustedparts={}", p("trusted.d")),
            format!("Dir::State::Lists={}", p("lists")),
            format!("Dir::State::status={}", p("status")),
            format!("Dir::Cache={}", p("cache")),
            format!("Dir::Etc::netrc={}", p("auth.conf")),
            "Debug::NoLocking=1".to_owned(),
            "APT::Architecture=amd64".to_owned(),
            "APT::Architectures=amd64".to_owned(),
            "Acquire::Languages=none".to_owned(),
            "Acquire::Retries=0".to_owned(),
            // Root downloading into a private directory: no drop to the _apt user.
            "APT::Sandbox::User=root".to_owned(),
        ];
        let mut cmd = Command::new("apt-get");
        cmd.current_dir(self.path("download"));
        for o in &options {
            cmd.arg("-o").arg(o);
        }
        let out = cmd.args(args).output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // apt-get update exits 0 on some failures; its W:/E: lines tell.
        let ok = out.status.success() && !text.contains("\nE:") && !text.contains("W: ");
        Ok((ok, text))
    }

    pub(crate) fn update_ok(&self) -> TestResult<String> {
        let (ok, text) = self.run(&["update"])?;
        assert!(ok, "apt-get update failed:\n{text}");
        assert!(
            !text.contains("trusted=yes") && !text.contains("not signed"),
            "{text}"
        );
        Ok(text)
    }

    pub(crate) fn download(&self, name: &str) -> TestResult<(bool, String)> {
        self.run(&["download", name])
    }
}

pub(crate) async fn key(s: &TestServer, repo: &str, token: Option<&str>) -> TestResult<String> {
    let resp = s
        .req(Method::GET, &format!("/{repo}/deb/signing-key.asc"), token)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(resp.text().await?)
}

pub(crate) async fn act(s: &TestServer, path: &str, body: Option<Value>) -> TestResult<Value> {
    let (status, body) = s.admin(Method::POST, path, body).await?;
    assert!(status.is_success(), "{path}: {status} {body}");
    Ok(body)
}

#[tokio::test]
async fn apt_installs_signed_packages_through_promotion_quarantine_and_rotation() -> TestResult {
    if crate::common::native_client_suite_skipped() || tools_missing() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "production", false).await?;
    let work = tempfile::tempdir()?;
    let hello = build_deb(work.path(), "gantry-hello", "1.0-1", "all")?;
    let tool = build_deb(work.path(), "gantry-tool", "2:3.1", "amd64")?;
    let writer = s.token("acme/dev", "write").await?;
    let reader = s.token("acme/dev", "read").await?;
    let pushed = s.cli_ok(
        Some(&writer),
        &[
            "push",
            "deb",
            "acme/dev",
            &hello.display().to_string(),
            "--distribution",
            "bookworm",
            "--component",
            "main",
        ],
    )?;
    let hello_slug = pushed.lines().last().unwrap_or_default().trim().to_owned();
    s.cli_ok(
        Some(&writer),
        &[
            "push",
            "deb",
            "acme/dev",
            &tool.display().to_string(),
            "--distribution",
            "bookworm,trixie",
        ],
    )?;

    // The private dev repository, read with the read token from auth.conf.
    let dev_url = format!("{}/acme/dev/deb", s.url);
    let apt = Apt::new()?;
    apt.source(
        &dev_url,
        "bookworm",
        &key(&s, "acme/dev", Some(&reader)).await?,
    )?;
    let (ok, text) = apt.run(&["update"])?;
    assert!(
        !ok,
        "a private repository answered without credentials:\n{text}"
    );
    apt.login(&dev_url, &reader)?;
    apt.update_ok()?;
    let (ok, text) = apt.download("gantry-hello")?;
    assert!(ok, "{text}");
    let got = std::fs::read(apt.path("download/gantry-hello_1.0-1_all.deb"))?;
    assert_eq!(got, std::fs::read(&hello)?);
    let (ok, text) = apt.download("gantry-tool")?;
    assert!(ok, "{text}");

    // Another repository's key does not verify dev's metadata.
    let other = key(&s, "acme/production", None).await?;
    apt.source(&dev_url, "bookworm", &other)?;
    let (ok, text) = apt.run(&["update"])?;
    assert!(!ok && text.contains("NO_PUBKEY"), "{text}");

    // Promotion: production (public, anonymous) lists the copy; dev still has its own.
    act(
        &s,
        &format!("/api/v1/packages/acme/dev/{hello_slug}/copy"),
        Some(serde_json::json!({"destination": "production"})),
    )
    .await?;
    let prod_url = format!("{}/acme/production/deb", s.url);
    let anon = Apt::new()?;
    anon.source(&prod_url, "bookworm", &other)?;
    anon.update_ok()?;
    let (ok, text) = anon.download("gantry-hello")?;
    assert!(ok, "{text}");
    let (ok, _) = anon.download("gantry-tool")?;
    assert!(!ok, "gantry-tool was not promoted");

    // Quarantine in production takes it out of the index; release brings it back.
    let listed = s
        .call(
            Method::GET,
            "/api/v1/packages/acme/production",
            Some(ADMIN),
            None,
        )
        .await?
        .1;
    let prod_slug = listed[0]["slug_perm"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    act(
        &s,
        &format!("/api/v1/packages/acme/production/{prod_slug}/quarantine"),
        Some(serde_json::json!({})),
    )
    .await?;
    let (ok, text) = anon.run(&["update"])?;
    assert!(
        !ok && text.contains("404"),
        "a distribution with nothing listed has no Release:\n{text}"
    );
    act(
        &s,
        &format!("/api/v1/packages/acme/production/{prod_slug}/quarantine"),
        Some(serde_json::json!({"release": true})),
    )
    .await?;
    anon.update_ok()?;
    let (ok, text) = anon.download("gantry-hello")?;
    assert!(ok, "{text}");

    // Deleting in dev takes it out of dev's index, not production's.
    let (status, _) = s
        .admin(
            Method::DELETE,
            &format!("/api/v1/packages/acme/dev/{hello_slug}"),
            None,
        )
        .await?;
    assert!(status.is_success());
    apt.source(
        &dev_url,
        "bookworm",
        &key(&s, "acme/dev", Some(&reader)).await?,
    )?;
    apt.update_ok()?;
    let (ok, text) = apt.download("gantry-hello")?;
    assert!(!ok && text.contains("gantry-hello"), "{text}");

    // Rotation: the old key no longer verifies; the new one from the same URL does.
    act(
        &s,
        "/api/v1/repos/acme/production/signing-keys/rotate",
        None,
    )
    .await?;
    let (ok, text) = anon.run(&["update"])?;
    assert!(
        !ok,
        "metadata still verified with the rotated-out key:\n{text}"
    );
    anon.source(
        &prod_url,
        "bookworm",
        &key(&s, "acme/production", None).await?,
    )?;
    anon.update_ok()?;
    Ok(())
}

/// A minimal `.deb` (ar of debian-binary and a gzip control archive) with `control` as its
/// control file and `extra` entries beside it.
pub(crate) fn tiny_deb(control: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str, body: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        let name = header.as_old_mut().name.as_mut();
        let n = path.len().min(name.len());
        name[..n].copy_from_slice(&path.as_bytes()[..n]);
        header.set_cksum();
        let _ = builder.append(&header, body);
    };
    for (path, body) in extra {
        add(path, body);
    }
    add("./control", control.as_bytes());
    let tar = builder.into_inner().unwrap_or_default();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = gz.write_all(&tar);
    let control_tar = gz.finish().unwrap_or_default();
    let mut out = b"!<arch>\n".to_vec();
    for (name, body) in [
        ("debian-binary", &b"2.0\n"[..]),
        ("control.tar.gz", &control_tar),
    ] {
        out.extend_from_slice(
            format!(
                "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                0,
                0,
                0,
                "100644",
                body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

pub(crate) async fn upload_deb(
    s: &TestServer,
    repo: &str,
    bytes: Vec<u8>,
    query: &str,
    token: Option<&str>,
) -> TestResult<(StatusCode, Value)> {
    let resp = s
        .req(
            Method::POST,
            &format!("/api/v1/packages/{repo}/upload/deb?filename=x.deb{query}"),
            token,
        )
        .body(bytes)
        .send()
        .await?;
    let status = resp.status();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

const GOOD: &str = "Package: matrix\nVersion: 1.0\nArchitecture: amd64\nDescription: m\n";

/// Hostile and malformed `.deb`s get a 4xx with the reason, and nothing is stored: no
/// package and no blob left behind.
#[tokio::test]
async fn hostile_debs_are_refused_with_nothing_stored() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let bomb = {
        let zeros = vec![0u8; 40 * 1024 * 1024];
        tiny_deb(GOOD, &[("./filler", &zeros)])
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "traversal",
            tiny_deb(GOOD, &[("../../etc/passwd", b"x")]),
            "",
        ),
        ("bomb", bomb, "decompresses to more than"),
        (
            "oversized control",
            tiny_deb(&format!("{GOOD}X-Pad: {}\n", "a".repeat(70 * 1024)), &[]),
            "larger than",
        ),
        (
            "bad control",
            tiny_deb("Package: Bad Name\nVersion: 1\nArchitecture: amd64\n", &[]),
            "package name",
        ),
        ("not a deb", b"hello".to_vec(), "not a .deb"),
    ];
    for (what, bytes, needle) in cases {
        let (status, body) = upload_deb(&s, "acme/dev", bytes, "", Some(ADMIN)).await?;
        assert!(status.is_client_error(), "{what}: {status} {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{what}: {message}");
    }
    let (status, body) = upload_deb(
        &s,
        "acme/dev",
        tiny_deb(GOOD, &[]),
        "&distribution=../x",
        Some(ADMIN),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, listed) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
    assert!(crate::common::files_under(&s.blobs_dir()).is_empty());

    // The good one is stored, listed where it was asked to be, and signed metadata follows.
    let (status, body) = upload_deb(
        &s,
        "acme/dev",
        tiny_deb(GOOD, &[]),
        "&distribution=bookworm&component=main,extra",
        Some(ADMIN),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "matrix");
    for path in [
        "InRelease",
        "Release",
        "Release.gpg",
        "main/binary-amd64/Packages.xz",
        "extra/binary-amd64/Packages",
    ] {
        let resp = s
            .req(
                Method::GET,
                &format!("/acme/dev/deb/dists/bookworm/{path}"),
                Some(ADMIN),
            )
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
    let release = s
        .req(
            Method::GET,
            "/acme/dev/deb/dists/bookworm/Release",
            Some(ADMIN),
        )
        .send()
        .await?
        .text()
        .await?;
    let sha256 = release.split("SHA256:").nth(1).unwrap_or_default();
    let line = sha256
        .lines()
        .find(|l| l.ends_with(" main/binary-amd64/Packages"))
        .unwrap_or_default();
    let hash = line.split_whitespace().next().unwrap_or_default();
    let by_hash = s
        .req(
            Method::GET,
            &format!("/acme/dev/deb/dists/bookworm/main/binary-amd64/by-hash/SHA256/{hash}"),
            Some(ADMIN),
        )
        .send()
        .await?;
    assert_eq!(by_hash.status(), StatusCode::OK, "{release}");
    // Outsiders see nothing of a private repository, its key included.
    let resp = s
        .req(Method::GET, "/acme/dev/deb/signing-key.asc", None)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    Ok(())
}
