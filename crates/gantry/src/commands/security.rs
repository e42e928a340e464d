//! Vulnerability verbs.

use std::path::{Path, PathBuf};

use anyhow::Context;
use gantry_client::Client;
use serde_json::Value;

use super::client::{print_json, split_package};
use crate::cli::VulndbCommand;

/// Zips and JSON records under `path`, in a stable order.
fn import_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "zip" || e == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub(crate) async fn vulndb(client: &Client, cmd: VulndbCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        VulndbCommand::Import { path } => {
            let files = import_files(&path)?;
            if files.is_empty() {
                anyhow::bail!("no .zip or .json files under {}", path.display());
            }
            let mut totals = serde_json::Map::new();
            let size: u64 = files
                .iter()
                .filter_map(|f| std::fs::metadata(f).ok())
                .map(|m| m.len())
                .sum();
            let bar = super::progress::bytes(size, "importing", json);
            for file in &files {
                let name = file.file_name().unwrap_or_default().to_string_lossy();
                bar.set_message(format!("importing {name}"));
                let report = client
                    .upload_bytes(
                        "/api/v1/vulndb/import",
                        file,
                        Some(super::progress::reporter(&bar)),
                    )
                    .await;
                let report = match report {
                    Ok(r) => r,
                    Err(e) => {
                        bar.finish_and_clear();
                        return Err(e.into());
                    }
                };
                for key in [
                    "records",
                    "added",
                    "updated",
                    "unchanged",
                    "skipped",
                    "rescans",
                ] {
                    let sum = totals.get(key).and_then(Value::as_i64).unwrap_or(0)
                        + report[key].as_i64().unwrap_or(0);
                    totals.insert(key.into(), sum.into());
                }
                let secs = totals.get("seconds").and_then(Value::as_f64).unwrap_or(0.0)
                    + report["seconds"].as_f64().unwrap_or(0.0);
                totals.insert("seconds".into(), secs.into());
                if !json {
                    // Records are counted per bundle: a record that names several ecosystems
                    // is one record here, but counts in each ecosystem of `vulndb status`.
                    let line = format!(
                        "{}: {} records in this file ({} added, {} updated, {} unchanged)",
                        file.display(),
                        report["records"],
                        report["added"],
                        report["updated"],
                        report["unchanged"]
                    );
                    bar.suspend(|| eprintln!("{line}"));
                }
            }
            bar.finish_and_clear();
            let totals = Value::Object(totals);
            if json {
                print_json(&totals)?;
            } else {
                println!(
                    "imported {} records, counted per file ({} added, {} updated, {} unchanged, {} skipped) in {:.2} s; {} packages queued for rescan",
                    totals["records"], totals["added"], totals["updated"], totals["unchanged"],
                    totals["skipped"], totals["seconds"].as_f64().unwrap_or(0.0), totals["rescans"]
                );
            }
        }
        VulndbCommand::Status => {
            let status = client.get_value("/api/v1/vulndb", &[]).await?;
            if json {
                print_json(&status)?;
            } else {
                // An advisory that affects several ecosystems counts once in each, so the
                // lines can add up to more than the total (and to more than an import's
                // per-file record counts).
                println!("advisories affecting each ecosystem:");
                for (eco, n) in status["ecosystems"].as_object().into_iter().flatten() {
                    println!("  {eco:<12} {n}");
                }
                println!(
                    "{} distinct advisories ({} withdrawn); newest modified {}",
                    status["total"],
                    status["withdrawn"],
                    status["newest_modified"].as_str().unwrap_or("-")
                );
            }
        }
    }
    Ok(())
}

pub(crate) async fn vulnerabilities(
    client: &Client,
    package: &str,
    severity: Option<String>,
    fixable: bool,
    include_excepted: bool,
    json: bool,
) -> anyhow::Result<()> {
    let (owner, repo, slug) = split_package(package)?;
    let mut query = Vec::new();
    if include_excepted {
        query.push(("include_excepted", "true".to_owned()));
    }
    if let Some(s) = severity {
        query.push(("severity", s));
    }
    if fixable {
        query.push(("fixable", "true".to_owned()));
    }
    let report = client
        .get_value(
            &format!("/api/v1/packages/{owner}/{repo}/{slug}/vulnerabilities"),
            &query,
        )
        .await?;
    if json {
        return print_json(&report);
    }
    println!(
        "{slug}: {} (max severity {}, {} vulnerabilities){}",
        report["security_scan_status"].as_str().unwrap_or("?"),
        report["max_severity"].as_str().unwrap_or("-"),
        report["num_vulnerabilities"],
        report["scan_reason"]
            .as_str()
            .map(|r| format!(" — {r}"))
            .unwrap_or_default()
    );
    for v in report["vulnerabilities"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let aliases: Vec<&str> = v["aliases"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let fixed: Vec<&str> = v["fixed_versions"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        // A rating borrowed from an alias says whose it is, so users can check it.
        let source = v["severity_source"]
            .as_str()
            .filter(|s| !s.starts_with(v["advisory_id"].as_str().unwrap_or("?")))
            .map(|s| format!(" (severity from {s})"))
            .unwrap_or_default();
        let exception = v["exception"]["status"]
            .as_str()
            .map(|s| {
                format!(
                    " EXCEPTED {s}{} (exception {})",
                    v["exception"]["justification"]
                        .as_str()
                        .map(|j| format!(": {j}"))
                        .unwrap_or_default(),
                    v["exception"]["id"]
                )
            })
            .unwrap_or_default();
        println!(
            "  {:<20} {:<8} {}{}{}{}{}",
            v["advisory_id"].as_str().unwrap_or("?"),
            v["severity"].as_str().unwrap_or("?"),
            v["summary"].as_str().unwrap_or(""),
            exception,
            source,
            if aliases.is_empty() {
                String::new()
            } else {
                format!(" [{}]", aliases.join(", "))
            },
            if fixed.is_empty() {
                String::new()
            } else {
                format!(" fixed in {}", fixed.join(", "))
            },
        );
    }
    Ok(())
}

pub(crate) async fn scan(client: &Client, package: &str, json: bool) -> anyhow::Result<()> {
    let (owner, repo, slug) = split_package(package)?;
    let p = client
        .send_value(
            "POST",
            &format!("/api/v1/packages/{owner}/{repo}/{slug}/scan"),
            None,
        )
        .await?;
    if json {
        print_json(&p)?;
    } else {
        eprintln!("Queued a scan of {slug}");
    }
    Ok(())
}

/// What `security summary` lists beside the counts.
pub(crate) struct SummaryFilters {
    pub(crate) packages: bool,
    pub(crate) severity: Option<String>,
    pub(crate) fixable: bool,
}

/// Prints the counts of a map in the given key order, on one line.
fn counts_line(label: &str, map: &serde_json::Value, order: &[&str]) {
    let parts: Vec<String> = order
        .iter()
        .map(|k| format!("{k} {}", map[*k].as_i64().unwrap_or(0)))
        .collect();
    println!("  {label:<14} {}", parts.join(", "));
}

pub(crate) async fn summary(
    client: &Client,
    scope: &str,
    filters: &SummaryFilters,
    json: bool,
) -> anyhow::Result<()> {
    let path = match scope.split_once('/') {
        Some((owner, repo)) => format!("/api/v1/security/{owner}/{repo}/summary"),
        None => format!("/api/v1/security/{scope}/summary"),
    };
    let mut query = Vec::new();
    if filters.packages {
        query.push(("packages", "true".to_owned()));
    }
    if let Some(s) = &filters.severity {
        query.push(("severity", s.clone()));
    }
    if filters.fixable {
        query.push(("fixable", "true".to_owned()));
    }
    let s = client.get_value(&path, &query).await?;
    if json {
        return print_json(&s);
    }
    println!(
        "{}: {} packages, {} pass, {} fail",
        s["scope"].as_str().unwrap_or(scope),
        s["packages"],
        s["pass"],
        s["fail"]
    );
    let statuses = [
        "no_vulnerabilities",
        "vulnerabilities_found",
        "indeterminate",
        "awaiting_scan",
        "scanning",
        "not_scanned",
        "not_supported",
        "scan_failed",
    ];
    counts_line("scan status", &s["by_status"], &statuses);
    let severities = ["critical", "high", "medium", "low", "unknown", "none"];
    counts_line("max severity", &s["by_max_severity"], &severities);
    let ages: Vec<&str> = s["scan_age_order"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    counts_line("newest scan", &s["scan_age"], &ages);
    let Some(list) = s["package_list"].as_array() else {
        return Ok(());
    };
    println!();
    for p in list {
        println!(
            "{} {} {} {} ({}) {} {} max {} vulnerabilities {}{}",
            p["slug_perm"].as_str().unwrap_or("?"),
            p["repository"].as_str().unwrap_or("?"),
            p["format"].as_str().unwrap_or("?"),
            p["name"].as_str().unwrap_or("?"),
            p["version"].as_str().unwrap_or("?"),
            p["filename"].as_str().unwrap_or("?"),
            p["security_scan_status"].as_str().unwrap_or("?"),
            p["max_severity"].as_str().unwrap_or("-"),
            p["num_vulnerabilities"],
            p["fixable_vulnerabilities"]
                .as_i64()
                .map(|n| format!(" ({n} fixable)"))
                .unwrap_or_default(),
        );
    }
    eprintln!(
        "{} package(s){}",
        list.len(),
        if s["package_list_truncated"] == true {
            " (the first 1000)"
        } else {
            ""
        }
    );
    Ok(())
}
