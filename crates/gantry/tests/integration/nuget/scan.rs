//! NuGet packages scanned with the NuGet OSV data of ../shared: ids matched case-insensitively
//! and versions ordered as NuGet orders them. Database-facing (no nuget.exe): runs on both
//! backends.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::client::nupkg;
use crate::common::{TestResult, TestServer, ADMIN};
use crate::scanning::{shared, wait_scanned};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_packages_are_scanned_with_the_nuget_osv_data() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let records = tempfile::tempdir()?;
    let mut bundle = zip::ZipArchive::new(std::fs::File::open(shared("osv/NuGet/all.zip"))?)?;
    // GHSA-5crp-9r3c-p9vr: Newtonsoft.Json before 13.0.1.
    let id = "GHSA-5crp-9r3c-p9vr";
    let mut record = bundle.by_name(&format!("{id}.json"))?;
    let mut out = std::fs::File::create(records.path().join(format!("{id}.json")))?;
    std::io::copy(&mut record, &mut out)?;
    s.cli_ok(
        Some(ADMIN),
        &["vulndb", "import", &records.path().display().to_string()],
    )?;

    // A promotion rule takes clean versions on to staging once they are scanned.
    s.create_repo("acme", "staging", true).await?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "rules",
            "create",
            "acme/dev",
            "--name",
            "clean-to-staging",
            "--condition",
            "num_vulnerabilities == 0",
            "--destination",
            "staging",
        ],
    )?;
    let dir = tempfile::tempdir()?;
    let mut found = Vec::new();
    let mut slugs = Vec::new();
    // The id in another case, and "13.0" (13.0.0) below the fix; 13.0.1 is fixed.
    for (name, version) in [("newtonsoft.json", "13.0"), ("Newtonsoft.Json", "13.0.1")] {
        let path = dir.path().join(format!("{name}.{version}.nupkg"));
        std::fs::write(&path, nupkg(name, version, &[])?)?;
        let slug = s.cli_ok(
            Some(ADMIN),
            &["push", "nuget", "acme/dev", &path.display().to_string()],
        )?;
        let p = wait_scanned(&s, "acme/dev", slug.trim()).await?;
        slugs.push(slug.trim().to_owned());
        let (_, report) = s
            .admin(
                Method::GET,
                &format!("/api/v1/packages/acme/dev/{}/vulnerabilities", slug.trim()),
                None,
            )
            .await?;
        let ids: Vec<String> = report["vulnerabilities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["advisory_id"].as_str().map(str::to_owned))
            .collect();
        found.push((p["version"].as_str().unwrap_or_default().to_owned(), ids));
    }
    assert_eq!(
        found,
        [
            ("13.0.0".to_owned(), vec![id.to_owned()]),
            ("13.0.1".to_owned(), vec![])
        ]
    );

    // A gate on promotion keeps the vulnerable version out of prod (a bulk promotion is
    // refused whole); the clean one promoted, prod's feed lists it alone.
    s.create_repo("acme", "prod", true).await?;
    let rego = "package gantry\n\ndeny contains msg if {\n\tinput.event == \"promotion\"\n\t\
                input.package.num_vulnerabilities > 0\n\tmsg := sprintf(\"%s %s has known vulnerabilities\", \
                [input.package.name, input.package.version])\n}\n";
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/policies/acme",
            Some(json!({"name": "no-known-vulnerabilities", "rego": rego})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, refused) = s
        .admin(
            Method::POST,
            "/api/v1/promotions",
            Some(json!({"source": "acme/dev", "destination": "prod", "query": "format:nuget"})),
        )
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("13.0.0 has known vulnerabilities"),
        "{refused}"
    );
    s.cli_ok(
        Some(ADMIN),
        &["cp", &format!("acme/dev/{}", slugs[1]), "prod"],
    )?;
    let resp = s
        .req(
            Method::GET,
            "/acme/prod/nuget/v3/flat/newtonsoft.json/index.json",
            Some(ADMIN),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<serde_json::Value>().await?,
        json!({"versions": ["13.0.1"]})
    );
    // The rule promoted the clean version only: staging's feed lists it alone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let resp = s
            .req(
                Method::GET,
                "/acme/staging/nuget/v3/flat/newtonsoft.json/index.json",
                Some(ADMIN),
            )
            .send()
            .await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        if status == StatusCode::OK {
            assert_eq!(body, json!({"versions": ["13.0.1"]}));
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("the rule never promoted: {status} {body}").into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok(())
}
