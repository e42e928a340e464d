//! `gantry security summary`: the packages behind the counts, with filters, and age buckets in
//! age order.

use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};
use crate::scanning::{shared, wait_scanned};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_lists_the_packages_behind_its_counts() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let dir = tempfile::tempdir()?;
    let record = json!({
        "schema_version": "1.6.0",
        "id": "TEST-2026-0002",
        "modified": "2026-01-01T00:00:00Z",
        "summary": "six is too flexible",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "six"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.17.0"}]}]
        }]
    });
    let file = dir.path().join("TEST-2026-0002.json");
    std::fs::write(&file, record.to_string())?;
    s.cli_ok(
        Some(ADMIN),
        &["vulndb", "import", &file.display().to_string()],
    )?;
    let mut slugs = Vec::new();
    for wheel in [
        "six-1.16.0-py2.py3-none-any.whl",
        "idna-3.7-py3-none-any.whl",
    ] {
        let path = shared(&format!("fixtures/python/{wheel}"));
        let slug = s.cli_ok(
            Some(ADMIN),
            &["push", "python", "acme/dev", &path.display().to_string()],
        )?;
        wait_scanned(&s, "acme/dev", &slug).await?;
        slugs.push(slug);
    }
    let summary = |args: &[&str]| -> TestResult<Value> {
        let mut all = vec!["security", "summary", "acme/dev", "-F", "json"];
        all.extend_from_slice(args);
        Ok(serde_json::from_str(&s.cli_ok(Some(ADMIN), &all)?)?)
    };
    // Counts only, unless asked.
    let plain = summary(&[])?;
    assert!(plain.get("package_list").is_none(), "{plain}");
    assert_eq!(
        plain["scan_age_order"],
        json!(["under_1h", "under_1d", "under_7d", "under_30d", "older"])
    );
    let all = summary(&["--packages"])?;
    assert_eq!(
        all["package_list"].as_array().map(Vec::len),
        Some(2),
        "{all}"
    );
    let critical = summary(&["--severity", "critical,high", "--fixable"])?;
    let list = critical["package_list"].as_array().ok_or("no list")?;
    assert_eq!(list.len(), 1, "{critical}");
    assert_eq!(list[0]["slug_perm"], slugs[0].as_str());
    assert_eq!(list[0]["name"], "six");
    assert_eq!(list[0]["fixable_vulnerabilities"], 1);
    assert_eq!(list[0]["scan_age"], "under_1h");
    let low = summary(&["--severity", "low"])?;
    assert_eq!(low["package_list"], json!([]), "{low}");
    let out = s.cli(
        Some(ADMIN),
        &["security", "summary", "acme/dev", "--severity", "dire"],
    )?;
    assert!(!out.status.success());
    // Text: buckets youngest first, then one line per listed package.
    let text = s.cli_ok(
        Some(ADMIN),
        &["security", "summary", "acme/dev", "--fixable"],
    )?;
    let ages = text
        .lines()
        .find(|l| l.contains("newest scan"))
        .ok_or_else(|| format!("no age line in {text}"))?;
    let at = |bucket: &str| ages.find(bucket).unwrap_or(usize::MAX);
    assert!(
        at("under_1h") < at("under_1d") && at("under_30d") < at("older"),
        "{ages}"
    );
    assert!(
        text.contains(&slugs[0]) && !text.contains(&slugs[1]),
        "{text}"
    );
    Ok(())
}
