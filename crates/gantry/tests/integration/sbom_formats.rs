//! SBOMs of the formats `sbom.rs` does not cover: one package each of Maven, Go, RubyGems,
//! Composer, NuGet, Debian and RPM, with the dependencies (and licence, where the format
//! declares one) its metadata names, every document validated against the CycloneDX schema.

use serde_json::Value;

use crate::common::{TestResult, TestServer, ADMIN};
use crate::composer::client::zip_of;
use crate::rpm::tools::{build, rpm_tools_missing, Spec};
use crate::rubygems::client::Ruby;
use crate::sbom::{component_purls, validate};
use crate::scanning::shared;

const POM: &str = r#"<project><modelVersion>4.0.0</modelVersion>
  <groupId>org.example</groupId><artifactId>app</artifactId><version>1.0</version>
  <properties><lib.version>3.4</lib.version></properties>
  <licenses><license><name>The Apache Software License, Version 2.0</name></license></licenses>
  <dependencies>
    <dependency><groupId>org.dep</groupId><artifactId>lib</artifactId><version>${lib.version}</version></dependency>
    <dependency><groupId>${project.groupId}</groupId><artifactId>core</artifactId><version>${project.version}</version><optional>true</optional></dependency>
    <dependency><groupId>org.junit</groupId><artifactId>junit</artifactId><version>5</version><scope>test</scope></dependency>
  </dependencies>
</project>"#;

const GO_MOD: &str = "module example.com/app\n\ngo 1.21\n\nrequire (\n\
    \tgolang.org/x/text v0.14.0\n\texample.com/other v1.2.3 // indirect\n)\n";

const COMPOSER_JSON: &str = r#"{"name": "acme/app", "version": "1.0.0", "license": "MIT",
  "require": {"php": ">=8.1", "psr/log": "^3.0"}}"#;

const NUSPEC: &str = r#"<?xml version="1.0"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>
  <id>Acme.App</id><version>1.0.0</version><authors>t</authors><description>d</description>
  <license type="expression">MIT</license>
  <dependencies><group targetFramework="net8.0"><dependency id="Newtonsoft.Json" version="13.0.1"/></group></dependencies>
</metadata></package>"#;

/// `gantry push FORMAT acme/dev FILE [EXTRA…]`: the new package's slug.
fn push(
    s: &TestServer,
    format: &str,
    file: &std::path::Path,
    extra: &[&str],
) -> TestResult<String> {
    let file = file.display().to_string();
    let mut args = vec!["push", format, "acme/dev", file.as_str()];
    args.extend_from_slice(extra);
    Ok(s.cli_ok(Some(ADMIN), &args)?.trim().to_owned())
}

/// The package's SBOM: its text and the document.
fn sbom(s: &TestServer, slug: &str) -> TestResult<(String, Value)> {
    let text = s.cli_ok(Some(ADMIN), &["sbom", &format!("acme/dev/{slug}")])?;
    let doc = serde_json::from_str(&text)?;
    Ok((text, doc))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sbom_of_every_other_format_names_its_dependencies_and_validates() -> TestResult {
    if rpm_tools_missing() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let file = |name: &str, bytes: &[u8]| -> TestResult<std::path::PathBuf> {
        let path = d.join(name);
        std::fs::write(&path, bytes)?;
        Ok(path)
    };
    let pom = file("app-1.0.pom", POM.as_bytes())?;
    let pom_arg = pom.display().to_string();
    let go_zip = zip_of(&[
        ("example.com/app@v1.0.0/go.mod", GO_MOD.as_bytes()),
        ("example.com/app@v1.0.0/app.go", b"package app\n" as &[u8]),
    ])?;
    let composer_zip = zip_of(&[("composer.json", COMPOSER_JSON.as_bytes())])?;
    let nupkg = zip_of(&[("Acme.App.nuspec", NUSPEC.as_bytes())])?;
    let rpms = build(
        d,
        &[Spec {
            name: "acme-app",
            version: "1.0",
            release: "1",
            extra: "Requires: bash >= 4.0\nRequires: /bin/sh",
        }],
    )?;
    let ruby = Ruby::new()?;
    let gem = ruby.build("acme_app", "1.0.0", &[("rack", ">= 2.0")])?;

    // (format, slug, the package's purl, a dependency's purl, the licence expression)
    let cases = [
        (
            "maven",
            push(&s, "maven", &pom, &["--pom", &pom_arg])?,
            "pkg:maven/org.example/app@1.0",
            "pkg:maven/org.dep/lib",
            Some("Apache-2.0"),
        ),
        (
            "go",
            push(&s, "go", &file("v1.0.0.zip", &go_zip)?, &[])?,
            "pkg:golang/example.com/app@v1.0.0",
            "pkg:golang/golang.org/x/text",
            None,
        ),
        (
            "rubygems",
            push(&s, "rubygems", &gem, &[])?,
            "pkg:gem/acme_app@1.0.0",
            "pkg:gem/rack",
            Some("MIT"),
        ),
        (
            "composer",
            push(&s, "composer", &file("app.zip", &composer_zip)?, &[])?,
            "pkg:composer/acme/app@1.0.0",
            "pkg:composer/psr/log",
            Some("MIT"),
        ),
        (
            "nuget",
            push(&s, "nuget", &file("Acme.App.1.0.0.nupkg", &nupkg)?, &[])?,
            "pkg:nuget/acme.app@1.0.0",
            "pkg:nuget/newtonsoft.json",
            Some("MIT"),
        ),
        (
            "deb",
            push(
                &s,
                "deb",
                &shared("fixtures/debian/less_590-2.1~deb12u2_amd64.deb"),
                &[],
            )?,
            "pkg:deb/debian/less@590-2.1~deb12u2",
            "pkg:deb/debian/libtinfo6",
            None,
        ),
        (
            "rpm",
            push(&s, "rpm", &rpms[0], &[])?,
            "pkg:rpm/acme-app@1.0-1",
            "pkg:rpm/bash",
            Some("MIT"),
        ),
    ];

    let mut docs = Vec::new();
    for (format, slug, own, dependency, licence) in &cases {
        let (text, doc) = sbom(&s, slug)?;
        let me = &doc["metadata"]["component"];
        assert_eq!(me["purl"], *own, "{format}: {me}");
        let purls = component_purls(&doc);
        assert!(
            purls.iter().any(|p| p == dependency),
            "{format}: {dependency} not in {purls:?}"
        );
        match licence {
            Some(expression) => {
                assert_eq!(
                    me["licenses"][0]["expression"], *expression,
                    "{format}: {me}"
                )
            }
            None => assert!(me["licenses"].is_null(), "{format}: {me}"),
        }
        docs.push((*format, text));
    }

    let (_, maven) = sbom(&s, &cases[0].1)?;
    let maven_deps: Vec<(String, String, String)> = maven["components"]
        .as_array()
        .into_iter()
        .flatten()
        // The POM's own coordinates are also among the contents the Maven scan reads.
        .filter(|c| {
            c["bom-ref"]
                .as_str()
                .is_some_and(|r| r.contains(":dependency:"))
        })
        .map(|c| {
            (
                c["purl"].as_str().unwrap_or_default().to_owned(),
                c["scope"].as_str().unwrap_or_default().to_owned(),
                c["properties"][0]["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    // ${…} resolved from the POM's own properties; the optional one is optional, test
    // scope is left out.
    assert_eq!(
        maven_deps,
        vec![
            (
                "pkg:maven/org.dep/lib".into(),
                "required".into(),
                "3.4".into()
            ),
            (
                "pkg:maven/org.example/core".into(),
                "optional".into(),
                "1.0".into()
            ),
        ]
    );
    assert!(
        component_purls(&maven).contains(&"pkg:maven/org.example/app@1.0".to_owned()),
        "{maven}"
    );
    let (_, go) = sbom(&s, &cases[1].1)?;
    assert!(component_purls(&go).contains(&"pkg:golang/example.com/other".to_owned()));
    let (_, rpm) = sbom(&s, &cases[6].1)?;
    // File requirements (/bin/sh) are not packages.
    assert_eq!(component_purls(&rpm), vec!["pkg:rpm/bash".to_owned()]);

    let repo_text = s.cli_ok(Some(ADMIN), &["sbom", "acme/dev"])?;
    docs.push(("repository", repo_text));
    let named: Vec<(&str, &str)> = docs.iter().map(|(f, t)| (*f, t.as_str())).collect();
    validate(dir.path(), &named)
}
