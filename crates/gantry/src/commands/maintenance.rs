//! `gantry admin gc` and `gantry admin fsck`: the server does the work and answers with a
//! report, printed here as text or, with `-F json`, as it came.

use std::process::ExitCode;

use gantry_client::Client;
use serde_json::{json, Value};

use super::client::print_json;
use crate::cli::AdminCommand;

/// `gantry admin …` (all but `routes`, which needs no server).
pub(crate) async fn admin(
    client: &Client,
    cmd: AdminCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match cmd {
        AdminCommand::Routes => unreachable!("dispatched before"),
        AdminCommand::Gc {
            grace_seconds,
            dry_run,
            purge_deleted_after_days,
        } => {
            let body = json!({
                "grace_seconds": grace_seconds,
                "dry_run": dry_run,
                "purge_deleted_after_days": purge_deleted_after_days,
            });
            gc(client, &body, json).await
        }
        AdminCommand::Fsck {
            grace_seconds,
            repair,
        } => fsck(client, grace_seconds, repair, json).await,
        AdminCommand::Jobs { state } => {
            jobs(client, state.as_deref(), json).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn jobs(client: &Client, state: Option<&str>, json: bool) -> anyhow::Result<()> {
    let jobs = client.admin_jobs(state).await?;
    if json {
        return print_json(&jobs);
    }
    for j in &jobs {
        println!(
            "{:>6} {:<18} {:<8} attempt {}/{} run_at {}{}",
            j["id"],
            j["kind"].as_str().unwrap_or("?"),
            j["state"].as_str().unwrap_or("?"),
            j["attempts"],
            j["max_attempts"],
            j["run_at"].as_str().unwrap_or("?"),
            j["last_error"]
                .as_str()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default()
        );
    }
    eprintln!("{} job(s)", jobs.len());
    Ok(())
}

fn list(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn count(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

/// `body` is the request: `grace_seconds`, `dry_run`, `purge_deleted_after_days`.
pub(crate) async fn gc(client: &Client, body: &Value, json: bool) -> anyhow::Result<ExitCode> {
    let report = client
        .send_value("POST", "/api/v1/admin/gc", Some(body))
        .await?;
    let dry_run = report["dry_run"].as_bool().unwrap_or(false);
    let grace_seconds = &report["grace_seconds"];
    let errors = list(&report["errors"]);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let verb = if dry_run { "would remove" } else { "removed" };
        for slug in list(&report["packages_purged"]) {
            println!(
                "{} deleted package {slug}",
                if dry_run { "would purge" } else { "purged" }
            );
        }
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
