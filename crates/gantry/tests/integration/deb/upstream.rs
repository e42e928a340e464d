//! A Debian upstream: a mirror written by `reprepro` from `.deb`s built with `dpkg-deb`,
//! served by nginx. Its packages are listed in Gantry's own signed metadata beside the local
//! ones (a local package of the same name, version and architecture wins), apt installs one
//! through Gantry (cache mode stores it on the way, and it can be promoted), nothing the
//! mirror's index does not list is fetched, and when the mirror goes away `apt-get update`
//! still works from what was last read, the cached package still downloads (also by the
//! mirror's path, for an apt whose lists predate the cache fill), and one never cached fails
//! with Gantry's message.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{act, build_deb, key, tiny_deb, upload_deb, Apt};
use crate::common::{TestResult, TestServer, ADMIN};
use crate::rpm::upstream::StaticServer;

fn reprepro_missing() -> bool {
    let nginx =
        Path::new("/usr/sbin/nginx").exists() || Command::new("nginx").arg("-v").output().is_ok();
    let missing = !nginx || Command::new("reprepro").arg("--version").output().is_err();
    if missing {
        eprintln!("skipped: reprepro or nginx is missing (run scripts/test.sh)");
    }
    missing
}

/// A reprepro mirror of `debs` in `bookworm`/`main` for amd64 under `dir`.
fn mirror(dir: &Path, debs: &[&Path]) -> TestResult {
    std::fs::create_dir_all(dir.join("conf"))?;
    std::fs::write(
        dir.join("conf/distributions"),
        "Codename: bookworm\nComponents: main\nArchitectures: amd64\n",
    )?;
    for deb in debs {
        let out = Command::new("reprepro")
            .args(["-S", "misc", "-P", "optional", "-b"])
            .arg(dir)
            .arg("includedeb")
            .arg("bookworm")
            .arg(deb)
            .output()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Gantry's `main/binary-amd64/Packages` of `bookworm`, as (package, Filename) pairs.
async fn listed(s: &TestServer, repo: &str, token: &str) -> TestResult<Vec<(String, String)>> {
    let resp = s
        .req(
            Method::GET,
            &format!("/{repo}/deb/dists/bookworm/main/binary-amd64/Packages"),
            Some(token),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await?;
    let mut out = Vec::new();
    for stanza in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or_default()
                .to_owned()
        };
        out.push((field("Package"), field("Filename")));
    }
    out.sort();
    Ok(out)
}

/// Waits until the cache fill made `name` a package of `repo`; its slug.
async fn cached_slug(s: &TestServer, repo: &str, name: &str) -> TestResult<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, list) = s
            .admin(Method::GET, &format!("/api/v1/packages/{repo}"), None)
            .await?;
        let found = list
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name);
        if let Some(slug) = found.and_then(|p| p["slug_perm"].as_str()) {
            return Ok(slug.to_owned());
        }
        if Instant::now() > deadline {
            return Err(format!("{name} was never cached into {repo}: {list}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_reprepro_mirror_behind_nginx_is_listed_installed_promoted_and_survives_an_outage(
) -> TestResult {
    if crate::common::native_client_suite_skipped() || super::tools_missing() || reprepro_missing()
    {
        return Ok(());
    }
    let work = tempfile::tempdir()?;
    let mirrored = build_deb(work.path(), "gantry-mirrored", "3.1-1", "all")?;
    let elsewhere = build_deb(work.path(), "gantry-elsewhere", "0.2-5", "amd64")?;
    let shadowed = build_deb(work.path(), "gantry-shadowed", "1.0-1", "all")?;
    let root = work.path().join("mirror");
    mirror(&root, &[&mirrored, &elsewhere, &shadowed])?;
    let nginx = StaticServer::start(&root)?;

    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "production", false).await?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "upstream",
            "deb",
            "create",
            "acme/dev",
            "--name",
            "mirror",
            "--url",
            &format!("{}/", nginx.url),
            "--mode",
            "cache",
            "--index-ttl-seconds",
            "1",
        ],
    )?;
    let (_, upstreams) = s
        .admin(Method::GET, "/api/v1/repos/acme/dev/upstreams", None)
        .await?;
    let id = upstreams[0]["id"].as_i64().ok_or("upstream id")?;
    // A local package of the same (name, version, architecture) wins over the mirror's.
    let (status, body) = upload_deb(
        &s,
        "acme/dev",
        tiny_deb(
            "Package: gantry-shadowed\nVersion: 1.0-1\nArchitecture: all\nDescription: local\n",
            &[],
        ),
        "&distribution=bookworm",
        Some(ADMIN),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let reader = s.token("acme/dev", "read").await?;
    let dev_url = format!("{}/acme/dev/deb", s.url);
    let dev_key = key(&s, "acme/dev", Some(&reader)).await?;
    let apt = Apt::new()?;
    apt.source(&dev_url, "bookworm", &dev_key)?;
    apt.login(&dev_url, &reader)?;
    apt.update_ok()?;
    let (ok, text) = apt.download("gantry-mirrored")?;
    assert!(ok, "{text}");
    let got = std::fs::read(apt.path("download/gantry-mirrored_3.1-1_all.deb"))?;
    assert_eq!(got, std::fs::read(&mirrored)?);
    let slug = cached_slug(&s, "acme/dev", "gantry-mirrored").await?;
    let from = |p: &str| p.split('/').next().unwrap_or_default().to_owned();
    let names = |l: Vec<(String, String)>| -> Vec<(String, String)> {
        l.into_iter().map(|(n, f)| (n, from(&f))).collect()
    };
    let want = [
        ("gantry-elsewhere".to_owned(), "upstream".to_owned()),
        ("gantry-mirrored".to_owned(), "pool".to_owned()),
        ("gantry-shadowed".to_owned(), "pool".to_owned()),
    ];
    // The cached copy is listed from the pool once its sync completed.
    let deadline = Instant::now() + Duration::from_secs(30);
    let before = loop {
        let now = listed(&s, "acme/dev", &reader).await?;
        if names(now.clone()) == want || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(names(before.clone()), want);

    // Only what the mirror's index lists is fetched: no open proxy.
    for path in [
        format!("/acme/dev/deb/upstream/{id}/bookworm/dists/bookworm/Release"),
        format!("/acme/dev/deb/upstream/{id}/bookworm/pool/main/g/gantry-other/gantry-other_1_all.deb"),
        format!("/acme/dev/deb/upstream/{id}/stable/pool/main/g/gantry-elsewhere/gantry-elsewhere_0.2-5_amd64.deb"),
    ] {
        let resp = s.req(Method::GET, &path, Some(&reader)).send().await?;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Outsiders see nothing of the private repository's upstream files.
    let (_, elsewhere_path) = before
        .iter()
        .find(|(n, _)| n == "gantry-elsewhere")
        .cloned()
        .ok_or("listed")?;
    let resp = s
        .req(
            Method::GET,
            &format!("/acme/dev/deb/{elsewhere_path}"),
            None,
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // The mirror goes away: past the TTL the metadata still lists what was last read, the
    // cached package downloads, and the one never cached fails with Gantry's message.
    drop(nginx);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = Apt::new()?;
    fresh.source(&dev_url, "bookworm", &dev_key)?;
    fresh.login(&dev_url, &reader)?;
    fresh.update_ok()?;
    assert_eq!(listed(&s, "acme/dev", &reader).await?, before);
    let (ok, text) = fresh.download("gantry-mirrored")?;
    assert!(ok, "{text}");
    let (ok, text) = fresh.download("gantry-elsewhere")?;
    assert!(!ok && text.contains("upstream mirror"), "{text}");
    // The first apt's lists predate the cache fill and name the mirror's path: the cached
    // copy answers there.
    std::fs::remove_file(apt.path("download/gantry-mirrored_3.1-1_all.deb"))?;
    let (ok, text) = apt.download("gantry-mirrored")?;
    assert!(ok, "{text}");

    // The cached package is promoted like an uploaded one.
    act(
        &s,
        &format!("/api/v1/packages/acme/dev/{slug}/copy"),
        Some(json!({"destination": "production"})),
    )
    .await?;
    let prod = Apt::new()?;
    prod.source(
        &format!("{}/acme/production/deb", s.url),
        "bookworm",
        &key(&s, "acme/production", None).await?,
    )?;
    prod.update_ok()?;
    let (ok, text) = prod.download("gantry-mirrored")?;
    assert!(ok, "{text}");
    assert_eq!(
        std::fs::read(prod.path("download/gantry-mirrored_3.1-1_all.deb"))?,
        std::fs::read(&mirrored)?
    );

    // Quarantining the cached copy does not let the mirror's copy back into the index.
    act(
        &s,
        &format!("/api/v1/packages/acme/dev/{slug}/quarantine"),
        Some(json!({})),
    )
    .await?;
    let names_now: Vec<String> = listed(&s, "acme/dev", &reader)
        .await?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names_now, ["gantry-elsewhere", "gantry-shadowed"]);
    Ok(())
}
