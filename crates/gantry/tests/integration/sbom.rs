//! SBOMs: a CycloneDX 1.5 document per package for every format (purl, hashes, SPDX licence,
//! declared dependencies, an image's OS packages, findings with their exceptions) and one per
//! repository, each validated against the CycloneDX schema by cyclonedx-python-lib.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{TestResult, TestServer, ADMIN};
use crate::oci::{gzip_layer, push_layers};
use crate::python::tool;
use crate::scanning::{shared, wait_scanned};

/// Validates CycloneDX documents (files named on the command line) against the 1.5 JSON
/// schema; prints the first error of each invalid one.
const VALIDATE: &str = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
validator = JsonStrictValidator(SchemaVersion.V1_5)
bad = 0
for path in sys.argv[1:]:
    with open(path) as f:
        error = validator.validate_str(f.read())
    if error is not None:
        bad += 1
        print(path, getattr(error.data, "message", error))
sys.exit(1 if bad else 0)
"#;

pub(crate) fn validate(dir: &Path, docs: &[(&str, &str)]) -> TestResult {
    let mut args = vec!["-c".to_owned(), VALIDATE.to_owned()];
    for (name, text) in docs {
        let path = dir.join(format!("{name}.cdx.json"));
        std::fs::write(&path, text)?;
        args.push(path.display().to_string());
    }
    let out = std::process::Command::new(tool("python")?)
        .args(&args)
        .output()?;
    assert!(
        out.status.success(),
        "invalid CycloneDX: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn push(s: &TestServer, format: &str, fixture: &str) -> TestResult<String> {
    s.cli_ok(
        Some(ADMIN),
        &[
            "push",
            format,
            "acme/dev",
            &shared(fixture).display().to_string(),
        ],
    )
}

pub(crate) fn component_purls(doc: &Value) -> Vec<String> {
    doc["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["purl"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sbom_per_package_and_repository_validates_for_every_format() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    for bundle in ["osv/PyPI", "osv-ghsa/PyPI"] {
        s.cli_ok(
            Some(ADMIN),
            &["vulndb", "import", &shared(bundle).display().to_string()],
        )?;
    }
    let jinja = push(
        &s,
        "python",
        "fixtures/python/Jinja2-2.10-py2.py3-none-any.whl",
    )?;
    let npm = push(&s, "npm", "fixtures/npm/node-fetch-2.6.0.tgz")?;
    let cargo = push(&s, "cargo", "fixtures/cargo/serde_json-1.0.100.crate")?;
    let (st, raw) = s
        .upload_raw("acme/dev", "notes", "1.0", "notes.txt", b"plain notes")
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{raw}");
    let raw = raw["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let base = gzip_layer(&[
        ("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n" as &[u8]),
        (
            "var/lib/dpkg/status",
            b"Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n",
        ),
    ])?;
    push_layers(&s, "acme/dev/base", Some("1.0"), "amd64", &[base]).await?;
    let (_, list) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=name:base",
            None,
        )
        .await?;
    let image = list[0]["slug_perm"].as_str().ok_or("image")?.to_owned();
    wait_scanned(&s, "acme/dev", &jinja).await?;
    wait_scanned(&s, "acme/dev", &image).await?;

    // An exception shows as the finding's CycloneDX analysis.
    s.cli_ok(
        Some(ADMIN),
        &[
            "vulnerabilities",
            "except",
            &format!("acme/dev/{jinja}"),
            "GHSA-462w-v97r-4m45",
            "--status",
            "not_affected",
            "--justification",
            "vulnerable_code_not_in_execute_path",
            "--impact",
            "templates are never sandboxed here",
        ],
    )?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let jinja_doc = loop {
        let text = s.cli_ok(Some(ADMIN), &["sbom", &format!("acme/dev/{jinja}")])?;
        let doc: Value = serde_json::from_str(&text)?;
        let analysed = doc["vulnerabilities"]
            .as_array()
            .is_some_and(|v| v.iter().any(|v| v["analysis"]["state"] == "not_affected"));
        if analysed || std::time::Instant::now() > deadline {
            break (text, doc);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let doc = &jinja_doc.1;
    assert_eq!(doc["specVersion"], "1.5");
    let me = &doc["metadata"]["component"];
    assert_eq!(me["purl"], "pkg:pypi/jinja2@2.10", "{me}");
    assert_eq!(me["bom-ref"], jinja.as_str());
    // "BSD" names no one SPDX licence: kept as the declared name, not guessed.
    assert_eq!(me["licenses"][0]["license"]["name"], "BSD", "{me}");
    assert!(me["hashes"]
        .as_array()
        .is_some_and(|h| h.iter().any(|h| h["alg"] == "SHA-256")));
    let purls = component_purls(doc);
    assert!(
        purls.contains(&"pkg:pypi/markupsafe".to_owned()),
        "{purls:?}"
    );
    let vulns = doc["vulnerabilities"].as_array().ok_or("vulnerabilities")?;
    assert_eq!(vulns.len(), 2, "{vulns:?}");
    let excepted = vulns
        .iter()
        .find(|v| v["analysis"]["state"] == "not_affected")
        .ok_or("no analysis")?;
    assert_eq!(excepted["analysis"]["justification"], "code_not_reachable");
    assert!(vulns
        .iter()
        .all(|v| v["ratings"][0]["severity"] != "unknown"));

    let fetch = |slug: &str| s.cli_ok(Some(ADMIN), &["sbom", &format!("acme/dev/{slug}")]);
    let npm_text = fetch(&npm)?;
    let npm_doc: Value = serde_json::from_str(&npm_text)?;
    assert_eq!(
        npm_doc["metadata"]["component"]["purl"],
        "pkg:npm/node-fetch@2.6.0"
    );
    assert_eq!(
        npm_doc["metadata"]["component"]["licenses"][0]["expression"],
        "MIT"
    );
    let cargo_text = fetch(&cargo)?;
    let cargo_doc: Value = serde_json::from_str(&cargo_text)?;
    assert_eq!(
        cargo_doc["metadata"]["component"]["purl"],
        "pkg:cargo/serde_json@1.0.100"
    );
    assert_eq!(
        cargo_doc["metadata"]["component"]["licenses"][0]["expression"],
        "MIT OR Apache-2.0"
    );
    assert!(component_purls(&cargo_doc).contains(&"pkg:cargo/serde".to_owned()));
    let raw_text = fetch(&raw)?;
    let image_text = fetch(&image)?;
    let image_doc: Value = serde_json::from_str(&image_text)?;
    assert_eq!(image_doc["metadata"]["component"]["type"], "container");
    let image_purls = component_purls(&image_doc);
    assert!(
        image_purls
            .iter()
            .any(|p| p.starts_with("pkg:deb/debian/openssl@3.0.11")),
        "{image_purls:?}"
    );

    let repo_text = s.cli_ok(Some(ADMIN), &["sbom", "acme/dev"])?;
    let repo_doc: Value = serde_json::from_str(&repo_text)?;
    for slug in [&jinja, &npm, &cargo, &raw, &image] {
        assert!(
            repo_doc["components"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["bom-ref"] == slug.as_str())),
            "{slug} missing from the repository SBOM"
        );
    }
    let filtered = s.cli_ok(Some(ADMIN), &["sbom", "acme/dev", "-q", "format:npm"])?;
    let filtered: Value = serde_json::from_str(&filtered)?;
    assert!(filtered["components"]
        .as_array()
        .is_some_and(|c| c.iter().all(|c| c["bom-ref"]
            .as_str()
            .is_some_and(|r| r.starts_with(npm.as_str())))));

    let dir = tempfile::tempdir()?;
    validate(
        dir.path(),
        &[
            ("python", &jinja_doc.0),
            ("npm", &npm_text),
            ("cargo", &cargo_text),
            ("raw", &raw_text),
            ("oci", &image_text),
            ("repository", &repo_text),
        ],
    )?;

    // A private repository's SBOM is not visible to outsiders.
    let (st, _) = s
        .call(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{jinja}/sbom"),
            None,
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .call(Method::GET, "/api/v1/repos/acme/dev/sbom", None, None)
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    Ok(())
}
