//! Image scanning beyond Python: distribution packages (dpkg on Debian, apk on Alpine, with
//! the release from `os-release`) and RubyGems, Composer and Maven packages, matched
//! against a small hand-written OSV record set.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{sha256_hex, TestResult, TestServer, ADMIN};
use crate::oci::{gzip_layer, push_layers};

/// An OSV record with one `ECOSYSTEM` range `[0, fixed)`.
fn record(id: &str, ecosystem: &str, name: &str, fixed: &str) -> Value {
    json!({
        "id": id, "modified": "2024-01-01T00:00:00Z", "summary": format!("{name} is unsafe"),
        "affected": [{
            "package": {"ecosystem": ecosystem, "name": name},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }],
        "database_specific": {"severity": "HIGH"}
    })
}

/// Writes the record set into a directory and imports it.
fn import_records(s: &TestServer) -> TestResult<tempfile::TempDir> {
    let records = [
        record("DSA-0001-1", "Debian:12", "openssl", "3.0.13-1~deb12u1"),
        // Another release: says nothing about Debian 12.
        record("DSA-0002-1", "Debian:11", "zlib", "1:9.9-1"),
        // Fixed in exactly the installed version: not affected.
        record("DSA-0003-1", "Debian:12", "tzdata", "2024a-0+deb12u1"),
        record("ALPINE-0001", "Alpine:v3.18", "openssl", "3.1.4-r6"),
        record("ALPINE-0002", "Alpine:v3.17", "musl", "9.9.9-r0"),
        record("GHSA-gem0-0000-0001", "RubyGems", "rack", "2.2.6.3"),
        record(
            "GHSA-php0-0000-0001",
            "Packagist",
            "guzzlehttp/psr7",
            "1.8.4",
        ),
        record("GHSA-mvn0-0000-0001", "Maven", "com.example:lib", "2.15.0"),
    ];
    let dir = tempfile::tempdir()?;
    for r in &records {
        let id = r["id"].as_str().ok_or("id")?;
        std::fs::write(dir.path().join(format!("{id}.json")), r.to_string())?;
    }
    s.cli_ok(
        Some(ADMIN),
        &["vulndb", "import", &dir.path().display().to_string()],
    )?;
    Ok(dir)
}

/// A jar holding one `pom.properties`.
fn jar(group: &str, artifact: &str, version: &str) -> TestResult<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default();
    w.start_file("META-INF/MANIFEST.MF", options)?;
    std::io::Write::write_all(&mut w, b"Manifest-Version: 1.0\n")?;
    w.start_file(
        format!("META-INF/maven/{group}/{artifact}/pom.properties"),
        options,
    )?;
    let props = format!("groupId={group}\nartifactId={artifact}\nversion={version}\n");
    std::io::Write::write_all(&mut w, props.as_bytes())?;
    w.finish()?;
    Ok(out.into_inner())
}

/// Pushes `layers` as `name:1.0` and waits for its scan; the package and its findings
/// (advisory id to the `(name, layer, path)` of each component).
async fn scan_image(
    s: &TestServer,
    name: &str,
    layers: &[Vec<u8>],
) -> TestResult<(Value, BTreeMap<String, Vec<(String, String, String)>>)> {
    push_layers(s, &format!("acme/dev/{name}"), Some("1.0"), "amd64", layers).await?;
    let (_, list) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev?query=name:{name}"),
            None,
        )
        .await?;
    let slug = list
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == name))
        .and_then(|p| p["slug_perm"].as_str())
        .ok_or("package")?
        .to_owned();
    let p = crate::scanning::wait_scanned(s, "acme/dev", &slug).await?;
    let (status, report) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/vulnerabilities"),
            None,
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{report}");
    let mut findings = BTreeMap::new();
    for v in report["vulnerabilities"].as_array().ok_or("array")? {
        let id = v["advisory_id"].as_str().ok_or("id")?.to_owned();
        let mut components = Vec::new();
        for c in v["components"].as_array().ok_or("components")? {
            let field = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            components.push((
                field(&c["name"]),
                field(&c["location"]["layer"]),
                field(&c["location"]["path"]),
            ));
        }
        components.sort();
        findings.insert(id, components);
    }
    Ok((p, findings))
}

fn digest(layer: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(layer))
}

fn component(name: &str, layer: &str, path: &str) -> (String, String, String) {
    (name.to_owned(), layer.to_owned(), path.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_image_scan_reports_os_gem_composer_and_maven_packages() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let _records = import_records(&s)?;

    // Debian 12: dpkg packages in the base layer; language packages in the next one, with
    // the same vulnerable jar twice (one advisory, two components).
    let status = "Package: libssl3\nStatus: install ok installed\nSource: openssl\n\
        Version: 3.0.11-1~deb12u2\n\n\
        Package: zlib1g\nStatus: install ok installed\nSource: zlib (1:1.2.13.dfsg-1)\n\
        Version: 1:1.2.13.dfsg-1\n\n\
        Package: removed\nStatus: deinstall ok config-files\nSource: openssl\nVersion: 1.0-1\n";
    let base = gzip_layer(&[
        (
            "etc/os-release",
            b"ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        ),
        ("var/lib/dpkg/status", status.as_bytes()),
        (
            "var/lib/dpkg/status.d/tzdata",
            b"Package: tzdata\nVersion: 2024a-0+deb12u1\n",
        ),
    ])?;
    let lib = jar("com.example", "lib", "2.14.0")?;
    let installed_json = br#"{"packages": [{"name": "guzzlehttp/psr7", "version": "1.8.1"},
        {"name": "monolog/monolog", "version": "2.9.1"}]}"#;
    let apps = gzip_layer(&[
        (
            "usr/local/bundle/specifications/rack-2.2.3.gemspec",
            b"Gem::Specification.new",
        ),
        ("srv/php/vendor/composer/installed.json", installed_json),
        ("opt/app/lib/lib-2.14.0.jar", &lib),
        ("opt/tool/lib-2.14.0.jar", &lib),
    ])?;
    let (p, findings) = scan_image(&s, "debian-app", &[base.clone(), apps.clone()]).await?;
    let (b, a) = (digest(&base), digest(&apps));
    let jar_entry = "!/META-INF/maven/com.example/lib/pom.properties";
    let expected = BTreeMap::from([
        (
            "DSA-0001-1".to_owned(),
            vec![component("openssl", &b, "var/lib/dpkg/status")],
        ),
        (
            "GHSA-gem0-0000-0001".to_owned(),
            vec![component(
                "rack",
                &a,
                "usr/local/bundle/specifications/rack-2.2.3.gemspec",
            )],
        ),
        (
            "GHSA-php0-0000-0001".to_owned(),
            vec![component(
                "guzzlehttp/psr7",
                &a,
                "srv/php/vendor/composer/installed.json",
            )],
        ),
        (
            "GHSA-mvn0-0000-0001".to_owned(),
            vec![
                component(
                    "com.example:lib",
                    &a,
                    &format!("opt/app/lib/lib-2.14.0.jar{jar_entry}"),
                ),
                component(
                    "com.example:lib",
                    &a,
                    &format!("opt/tool/lib-2.14.0.jar{jar_entry}"),
                ),
            ],
        ),
    ]);
    assert_eq!(findings, expected);
    assert_eq!(p["security_scan_status"], "vulnerabilities_found", "{p}");
    assert_eq!(p["num_vulnerabilities"], 4, "{p}");

    // Alpine 3.18: apk packages by origin; the v3.17 advisory does not apply.
    let apk_db =
        b"C:Q1x=\nP:libcrypto3\nV:3.1.4-r5\no:openssl\n\nP:libssl3\nV:3.1.4-r5\no:openssl\n\n\
        P:musl\nV:1.2.4-r2\no:musl\n\n";
    let alpine = gzip_layer(&[
        (
            "etc/os-release",
            b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.18.4\n",
        ),
        ("lib/apk/db/installed", apk_db),
    ])?;
    let (p, findings) = scan_image(&s, "alpine-app", std::slice::from_ref(&alpine)).await?;
    let expected = BTreeMap::from([(
        "ALPINE-0001".to_owned(),
        vec![component(
            "openssl",
            &digest(&alpine),
            "lib/apk/db/installed",
        )],
    )]);
    assert_eq!(findings, expected);
    assert_eq!(p["num_vulnerabilities"], 1, "{p}");
    Ok(())
}
