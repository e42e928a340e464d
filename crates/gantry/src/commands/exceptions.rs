//! `gantry vulnerabilities …`: findings, and exceptions (VEX).

use gantry_client::Client;
use serde_json::{json, Value};

use super::client::{print_json, split_package, split_repo};
use crate::cli::{ExceptArgs, ExceptionsCommand, VulnerabilitiesArgs};

pub(crate) async fn run(
    client: &Client,
    args: VulnerabilitiesArgs,
    json: bool,
) -> anyhow::Result<()> {
    match args.action {
        None => {
            let package = args
                .package
                .ok_or_else(|| anyhow::anyhow!("name a package: OWNER/REPO/SLUG"))?;
            super::security::vulnerabilities(
                client,
                &package,
                args.severity,
                args.fixable,
                args.include_excepted,
                json,
            )
            .await
        }
        Some(ExceptionsCommand::Except(a)) => except(client, a, json).await,
        Some(ExceptionsCommand::Exceptions { scope }) => list(client, &scope, json).await,
        Some(ExceptionsCommand::Withdraw { repo, id }) => {
            let (owner, name) = split_repo(&repo)?;
            client
                .send_value(
                    "DELETE",
                    &format!("/api/v1/vulnerability-exceptions/{owner}/{name}/{id}"),
                    None,
                )
                .await?;
            eprintln!("Withdrew exception {id} of {owner}/{name}; its packages are rescanned");
            Ok(())
        }
        Some(ExceptionsCommand::Openvex { repo }) => {
            let (owner, name) = split_repo(&repo)?;
            let doc = client
                .get_value(
                    &format!("/api/v1/vulnerability-exceptions/{owner}/{name}/openvex"),
                    &[],
                )
                .await?;
            print_json(&doc)
        }
    }
}

async fn except(client: &Client, a: ExceptArgs, json: bool) -> anyhow::Result<()> {
    let mut body = json!({
        "advisory_id": a.advisory,
        "status": a.status,
        "justification": a.justification,
        "impact_statement": a.impact,
        "expires_at": a.expires,
    });
    let (owner, repo) = if a.name.is_some() || a.repo {
        let (owner, repo) = split_repo(&a.target)?;
        if let Some(name) = a.name {
            body["name"] = name.into();
            body["versions"] = a.versions.into();
        } else {
            body["repository"] = true.into();
        }
        (owner, repo)
    } else {
        let (owner, repo, slug) = split_package(&a.target).map_err(|_| {
            anyhow::anyhow!("TARGET must be OWNER/REPO/SLUG, or OWNER/REPO with --name or --repo")
        })?;
        body["slug_perm"] = slug.into();
        (owner, repo)
    };
    let created = client
        .send_value(
            "POST",
            &format!("/api/v1/vulnerability-exceptions/{owner}/{repo}"),
            Some(&body),
        )
        .await?;
    if json {
        return print_json(&created);
    }
    println!(
        "exception {}: {} is {} for {}",
        created["id"],
        created["advisory_id"].as_str().unwrap_or("?"),
        created["status"].as_str().unwrap_or("?"),
        describe(&created)
    );
    Ok(())
}

fn describe(e: &Value) -> String {
    match e["scope"].as_str() {
        Some("package") => format!(
            "{}/{}",
            e["repository"].as_str().unwrap_or("?"),
            e["slug_perm"].as_str().unwrap_or("?")
        ),
        Some("name") => format!(
            "{} in {}{}",
            e["name"].as_str().unwrap_or("?"),
            e["repository"].as_str().unwrap_or("?"),
            e["versions"]
                .as_str()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default()
        ),
        _ => format!("all of {}", e["repository"].as_str().unwrap_or("?")),
    }
}

async fn list(client: &Client, scope: &str, json: bool) -> anyhow::Result<()> {
    let scope = scope.trim_matches('/');
    let list = client
        .get_value(&format!("/api/v1/vulnerability-exceptions/{scope}"), &[])
        .await?;
    if json {
        return print_json(&list);
    }
    for e in list.as_array().map(Vec::as_slice).unwrap_or_default() {
        println!(
            "{:<5} {:<20} {:<20} {}{}{} by {}{}",
            e["id"],
            e["advisory_id"].as_str().unwrap_or("?"),
            e["status"].as_str().unwrap_or("?"),
            describe(e),
            e["justification"]
                .as_str()
                .map(|j| format!(" [{j}]"))
                .unwrap_or_default(),
            e["expires_at"]
                .as_str()
                .map(|x| format!(" until {x}"))
                .unwrap_or_default(),
            e["author"].as_str().unwrap_or("?"),
            if e["active"] == false {
                " (expired)"
            } else {
                ""
            },
        );
    }
    Ok(())
}
