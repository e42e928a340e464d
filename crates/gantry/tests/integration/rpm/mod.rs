//! RPM with the real tools: packages built with `rpmbuild`, pushed with `gantry push rpm`;
//! Gantry's `primary` compared with `createrepo_c`'s for the same files; `dnf install` into a
//! scratch root with the signed repository metadata checked (`repo_gpgcheck=1`); a copy
//! dev → prod (private: the token in the repository URL) installed from prod; quarantine and
//! delete taking packages out of what dnf sees; hostile files refused with nothing stored.

pub(crate) mod hostile;
mod primary;
mod scan;
pub(crate) mod tools;
pub(crate) mod upstream;

use reqwest::{Method, StatusCode};

use crate::common::{TestResult, TestServer, ADMIN};
use tools::{Dnf, Spec};

/// `gantry push rpm REPO FILE`: the new package's slug.
fn push(s: &TestServer, repo: &str, file: &std::path::Path) -> TestResult<String> {
    s.cli_ok(
        Some(ADMIN),
        &["push", "rpm", repo, &file.display().to_string()],
    )
}

async fn get_bytes(s: &TestServer, path: &str, token: Option<&str>) -> TestResult<Vec<u8>> {
    let resp = s.req(Method::GET, path, token).send().await?;
    let status = resp.status();
    let bytes = resp.bytes().await?.to_vec();
    if status != StatusCode::OK {
        return Err(format!("GET {path}: {status} {}", String::from_utf8_lossy(&bytes)).into());
    }
    Ok(bytes)
}

/// Gantry's `primary.xml` of a repository, through its `repomd.xml`.
async fn gantry_primary(s: &TestServer, repo: &str) -> TestResult<String> {
    let repomd = String::from_utf8(
        get_bytes(s, &format!("/{repo}/rpm/repodata/repomd.xml"), Some(ADMIN)).await?,
    )?;
    let href = tools::primary_href(&repomd).ok_or("no primary in repomd.xml")?;
    tools::gunzip(&get_bytes(s, &format!("/{repo}/rpm/{href}"), Some(ADMIN)).await?)
}

fn specs() -> Vec<Spec<'static>> {
    vec![
        Spec {
            name: "gantry-lib",
            version: "1.4",
            release: "2",
            extra: "Provides: gantry-lib-api = 3",
        },
        Spec {
            name: "gantry-app",
            version: "2.0",
            release: "1",
            extra: "Epoch: 1\nRequires: gantry-lib >= 1.2\nRequires(pre): gantry-lib-api\nConflicts: gantry-old < 1.0\nObsoletes: gantry-legacy <= 0.9",
        },
    ]
}

#[tokio::test]
async fn dnf_installs_from_signed_repodata_and_follows_promotion_quarantine_and_delete(
) -> TestResult<()> {
    if crate::common::native_client_suite_skipped() || tools::rpm_tools_missing() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    s.create_repo("acme", "prod", true).await?;
    let work = tempfile::tempdir()?;
    let files = tools::build(work.path(), &specs())?;
    let mut slugs = Vec::new();
    for f in &files {
        slugs.push(push(&s, "acme/dev", f)?);
    }

    // The same packages, checksums, requires and provides as createrepo_c lists.
    let reference = primary::parse(&tools::createrepo_primary(work.path(), &files)?)?;
    let ours = primary::parse(&gantry_primary(&s, "acme/dev").await?)?;
    assert_eq!(ours.len(), 2);
    for (a, b) in ours.iter().zip(&reference) {
        assert_eq!(
            (
                &a.name,
                &a.arch,
                &a.version,
                &a.checksum,
                &a.provides,
                &a.requires
            ),
            (
                &b.name,
                &b.arch,
                &b.version,
                &b.checksum,
                &b.provides,
                &b.requires
            )
        );
    }

    // dnf checks repomd.xml's signature with the repository's key, then installs.
    let key = get_bytes(&s, "/acme/dev/rpm/key.asc", None).await?;
    let dnf = Dnf::new(&key)?;
    let dev = format!("{}/acme/dev/rpm/", s.url);
    let (ok, out) = dnf.run(&dev, "install", &["gantry-app"])?;
    assert!(ok, "{out}");
    assert!(dnf.installed("/usr/share/gantry-app/VERSION"));
    assert!(
        dnf.installed("/usr/share/gantry-lib/VERSION"),
        "the dependency came along"
    );

    // A key that is not the repository's: dnf refuses the metadata.
    let other = Dnf::new(&get_bytes(&s, "/acme/prod/rpm/key.asc", Some(ADMIN)).await?)?;
    let (ok, out) = other.run(&dev, "install", &["gantry-lib"])?;
    assert!(!ok, "metadata signed by another key was accepted: {out}");

    // Copied to the private prod repository: installed from there with the token in the URL.
    for slug in &slugs {
        s.cli_ok(Some(ADMIN), &["cp", &format!("acme/dev/{slug}"), "prod"])?;
    }
    let token = s.token("acme/prod", "read").await?;
    let prod_key = get_bytes(&s, "/acme/prod/rpm/key.asc", Some(&token)).await?;
    let prod = Dnf::new(&prod_key)?;
    let host = s.url.trim_start_matches("http://");
    let prod_url = format!("http://ci:{token}@{host}/acme/prod/rpm/");
    let (ok, out) = prod.run(&prod_url, "install", &["gantry-app"])?;
    assert!(ok, "{out}");
    assert!(prod.installed("/usr/share/gantry-app/VERSION"));
    // Without credentials the private repository is not there for dnf.
    let anonymous = Dnf::new(&prod_key)?;
    let (ok, _) = anonymous.run(
        &format!("{}/acme/prod/rpm/", s.url),
        "install",
        &["gantry-lib"],
    )?;
    assert!(!ok);

    // Quarantined in dev: gone from dev's repodata, the file refused; prod is unchanged.
    s.cli_ok(
        Some(ADMIN),
        &["quarantine", "add", &format!("acme/dev/{}", slugs[0])],
    )?;
    let fresh = Dnf::new(&key)?;
    let (ok, out) = fresh.run(&dev, "install", &["gantry-lib"])?;
    assert!(!ok, "a quarantined package was installed: {out}");
    let listed = primary::parse(&gantry_primary(&s, "acme/dev").await?)?;
    assert_eq!(
        listed.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["gantry-app"]
    );
    let href = &reference
        .iter()
        .find(|p| p.name == "gantry-lib")
        .ok_or("lib")?
        .href;
    let _ = href;
    let resp = s
        .req(
            Method::GET,
            &format!(
                "/acme/dev/rpm/files/{}/gantry-lib-1.4-2.noarch.rpm",
                slugs[0]
            ),
            Some(ADMIN),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Deleted from prod: dnf no longer finds it there.
    let prod_slugs = s.cli_ok(
        Some(ADMIN),
        &[
            "ls",
            "pkgs",
            "acme/prod",
            "-q",
            "name:gantry-app",
            "-F",
            "json",
        ],
    )?;
    let listing: serde_json::Value = serde_json::from_str(&prod_slugs)?;
    let app_slug = listing[0]["slug_perm"]
        .as_str()
        .ok_or("no slug")?
        .to_owned();
    s.cli_ok(Some(ADMIN), &["delete", &format!("acme/prod/{app_slug}")])?;
    let again = Dnf::new(&prod_key)?;
    let (ok, out) = again.run(&prod_url, "install", &["gantry-app"])?;
    assert!(!ok, "a deleted package was installed: {out}");
    let (ok, out) = again.run(&prod_url, "install", &["gantry-lib"])?;
    assert!(ok, "{out}");
    Ok(())
}
