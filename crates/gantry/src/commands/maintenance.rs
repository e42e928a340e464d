//! `gantry admin gc` and `gantry admin fsck`: the server does the work and answers with a
//! report, printed here as text or, with `-F json`, as it came.

use std::process::ExitCode;

use gantry_client::Client;
use serde_json::{json, Value};

fn list(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn count(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

pub(crate) async fn gc(
    client: &Client,
    grace_seconds: u64,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let body = json!({ "grace_seconds": grace_seconds, "dry_run": dry_run });
    let report = client
        .send_value("POST", "/api/v1/admin/gc", Some(&body))
        .await?;
    let errors = list(&report["errors"]);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let verb = if dry_run { "would remove" } else { "removed" };
        for sha256 in list(&report["removed"]) {
            println!("{verb} {sha256}");
        }
        println!(
            "{} blobs examined: {} referenced, {} written within the last {grace_seconds} s; \
             {verb} {} ({} bytes) and {} orphaned rows",
            report["examined"],
            report["referenced"],
            report["recent"],
            count(&report["removed"]),
            report["removed_bytes"],
            report["rows_removed"],
        );
        for error in &errors {
            eprintln!("error: {error}");
        }
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(crate) async fn fsck(
    client: &Client,
    grace_seconds: u64,
    repair: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let body = json!({ "grace_seconds": grace_seconds, "repair": repair });
    let report = client
        .send_value("POST", "/api/v1/admin/fsck", Some(&body))
        .await?;
    let clean = report["clean"].as_bool().unwrap_or(false);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_problems("missing", &report["missing"]);
        print_problems("damaged", &report["corrupt"]);
        let repaired = list(&report["repaired"]);
        for sha256 in list(&report["unreferenced"]) {
            let fixed = if repaired.contains(&sha256) {
                " (removed)"
            } else {
                ""
            };
            println!("unreferenced {sha256}{fixed}");
        }
        for key in list(&report["stray"]) {
            println!("stray object {key}");
        }
        for error in list(&report["errors"]) {
            println!("error {error}");
        }
        println!(
            "{} blobs re-hashed ({} bytes), {} objects listed: {} missing, {} damaged, \
             {} unreferenced, {} stray{}",
            report["checked"],
            report["checked_bytes"],
            report["objects"],
            count(&report["missing"]),
            count(&report["corrupt"]),
            count(&report["unreferenced"]),
            count(&report["stray"]),
            if clean { " — clean" } else { "" },
        );
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_problems(what: &str, problems: &Value) {
    for p in problems.as_array().into_iter().flatten() {
        let packages = list(&p["packages"]);
        println!(
            "{what} {}: {}; packages: {}",
            p["sha256"].as_str().unwrap_or("?"),
            p["detail"].as_str().unwrap_or(""),
            if packages.is_empty() {
                "none".to_owned()
            } else {
                packages.join(", ")
            }
        );
    }
}
