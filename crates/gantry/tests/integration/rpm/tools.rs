//! The RPM tools the suite drives: `rpmbuild` for test packages, `createrepo_c` for the
//! reference repodata, `dnf` installing into a scratch root.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::TestResult;

/// Whether rpmbuild, createrepo_c and dnf are here (scripts/test.sh installs them).
pub(crate) fn rpm_tools_missing() -> bool {
    let missing = ["rpmbuild", "createrepo_c", "dnf"]
        .iter()
        .any(|tool| Command::new(tool).arg("--version").output().is_err());
    if missing {
        eprintln!("skipped: rpmbuild, createrepo_c or dnf is missing (run scripts/test.sh)");
    }
    missing
}

/// A test package: its spec's header lines and one file it installs at `/usr/share/NAME/`.
pub(crate) struct Spec<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    pub(crate) release: &'a str,
    /// Extra header lines (Requires:, Provides:, Epoch: …).
    pub(crate) extra: &'a str,
}

/// Builds the packages with `rpmbuild -bb` in a scratch top directory under `dir`; returns
/// their paths in the order given.
pub(crate) fn build(dir: &Path, specs: &[Spec<'_>]) -> TestResult<Vec<PathBuf>> {
    let top = dir.join("top");
    std::fs::create_dir_all(top.join("SPECS"))?;
    let mut out = Vec::new();
    for spec in specs {
        let Spec {
            name,
            version,
            release,
            extra,
        } = spec;
        let text = format!(
            "Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: {name} for Gantry's tests\n\
             License: MIT\nBuildArch: noarch\nAutoReqProv: no\n{extra}\n\
             %description\n{name} installs one file.\n\
             %install\nmkdir -p %{{buildroot}}/usr/share/{name}\n\
             echo {name}-{version} > %{{buildroot}}/usr/share/{name}/VERSION\n\
             %files\n%dir /usr/share/{name}\n/usr/share/{name}/VERSION\n\
             %changelog\n* Mon Jan 01 2024 Tester <t@example.org> - {version}-{release}\n- Built for a test\n"
        );
        let spec_path = top.join("SPECS").join(format!("{name}-{version}.spec"));
        std::fs::write(&spec_path, text)?;
        let status = Command::new("rpmbuild")
            .args(["-bb", "--quiet", "--define"])
            .arg(format!("_topdir {}", top.display()))
            .arg(&spec_path)
            .output()?;
        if !status.status.success() {
            return Err(format!(
                "rpmbuild failed: {}",
                String::from_utf8_lossy(&status.stderr)
            )
            .into());
        }
        out.push(
            top.join("RPMS/noarch")
                .join(format!("{name}-{version}-{release}.noarch.rpm")),
        );
    }
    Ok(out)
}

/// dnf with a scratch install root, the one repository at `url`, and the repository's key
/// checking its metadata's signature.
pub(crate) struct Dnf {
    root: tempfile::TempDir,
    key: PathBuf,
}

impl Dnf {
    pub(crate) fn new(key: &[u8]) -> TestResult<Self> {
        let root = tempfile::tempdir()?;
        let key_path = root.path().join("repo-key.asc");
        std::fs::write(&key_path, key)?;
        Ok(Self {
            root,
            key: key_path,
        })
    }

    /// `dnf install` (or another verb) of `args` from the repository at `url`; metadata is
    /// fetched anew every time.
    pub(crate) fn run(&self, url: &str, verb: &str, args: &[&str]) -> TestResult<(bool, String)> {
        let install_root = self.root.path().join("root");
        let out = Command::new("dnf")
            .arg("-y")
            .arg(format!("--installroot={}", install_root.display()))
            .args([
                "--releasever=12",
                "--setopt=reposdir=/dev/null",
                "--setopt=metadata_expire=0",
                "--setopt=g.gpgcheck=0",
                "--setopt=g.repo_gpgcheck=1",
            ])
            .arg(format!("--setopt=g.gpgkey=file://{}", self.key.display()))
            .arg(format!("--repofrompath=g,{url}"))
            .arg(verb)
            .args(args)
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    /// Whether `path` (absolute, inside the install root) was installed.
    pub(crate) fn installed(&self, path: &str) -> bool {
        self.root
            .path()
            .join("root")
            .join(path.trim_start_matches('/'))
            .exists()
    }
}

/// The repodata `createrepo_c` writes for `files`: its `primary.xml`, uncompressed.
pub(crate) fn createrepo_primary(dir: &Path, files: &[PathBuf]) -> TestResult<String> {
    let repo = dir.join("reference");
    std::fs::create_dir_all(&repo)?;
    for f in files {
        std::fs::copy(f, repo.join(f.file_name().ok_or("no file name")?))?;
    }
    let out = Command::new("createrepo_c")
        .args(["--no-database", "--quiet"])
        .arg(&repo)
        .output()?;
    if !out.status.success() {
        return Err(format!("createrepo_c: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let repomd = std::fs::read_to_string(repo.join("repodata/repomd.xml"))?;
    let href = primary_href(&repomd).ok_or("no primary in createrepo_c's repomd.xml")?;
    gunzip(&std::fs::read(repo.join(href))?)
}

/// The `location href` of the `primary` data in a `repomd.xml`.
pub(crate) fn primary_href(repomd: &str) -> Option<String> {
    let at = repomd.find("<data type=\"primary\">")?;
    let rest = &repomd[at..];
    let href = rest.find("<location href=\"")? + "<location href=\"".len();
    let end = rest[href..].find('"')?;
    Some(rest[href..href + end].to_owned())
}

pub(crate) fn gunzip(bytes: &[u8]) -> TestResult<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes), &mut text)?;
    Ok(text)
}
