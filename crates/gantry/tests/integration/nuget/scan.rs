//! NuGet packages scanned with the NuGet OSV data of ../shared: ids matched case-insensitively
//! and versions ordered as NuGet orders them. Database-facing (no nuget.exe): runs on both
//! backends.

use reqwest::Method;

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

    let dir = tempfile::tempdir()?;
    let mut found = Vec::new();
    // The id in another case, and "13.0" (13.0.0) below the fix; 13.0.1 is fixed.
    for (name, version) in [("newtonsoft.json", "13.0"), ("Newtonsoft.Json", "13.0.1")] {
        let path = dir.path().join(format!("{name}.{version}.nupkg"));
        std::fs::write(&path, nupkg(name, version, &[])?)?;
        let slug = s.cli_ok(
            Some(ADMIN),
            &["push", "nuget", "acme/dev", &path.display().to_string()],
        )?;
        let p = wait_scanned(&s, "acme/dev", slug.trim()).await?;
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
    Ok(())
}
