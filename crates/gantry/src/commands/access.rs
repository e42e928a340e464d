//! Access-control verbs: users, teams, service accounts, privileges, tokens, entitlements,
//! audit log.

use std::io::BufRead;

use anyhow::{bail, Context};
use gantry_client::Client;
use serde_json::{json, Value};

use super::client::{print_json, show, show_list, split_repo};
use crate::cli::{
    AuditArgs, EntitlementsCommand, PrivilegesCommand, ServiceAccountsCommand, TeamsCommand,
    TokensCommand, UsersCommand,
};

/// A password from GANTRY_PASSWORD or the first line of standard input.
pub(crate) fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("GANTRY_PASSWORD") {
        return Ok(p);
    }
    eprint!("Password: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password given");
    }
    Ok(password)
}

fn scope_parts(scope: &str) -> (&str, Option<&str>) {
    match scope.split_once('/') {
        Some((owner, repo)) => (owner, Some(repo)),
        None => (scope, None),
    }
}

/// One token or entitlement: what it may do, when it expires, and (for entitlements) how
/// often it was used. The secret is never listed; the prefix tells tokens apart.
fn token_line(t: &Value) -> String {
    let downloads = if t["kind"] == "entitlement" || t["max_downloads"].is_i64() {
        let count = t["download_count"].as_i64().unwrap_or(0);
        match t["max_downloads"].as_i64() {
            Some(max) => format!(" downloads {count}/{max}"),
            None => format!(" downloads {count}"),
        }
    } else {
        String::new()
    };
    format!(
        "{:>5} {}… {:<11} {:<14} {:<5} expires {}{downloads}{}{}",
        t["id"],
        t["prefix"].as_str().unwrap_or("?"),
        t["kind"].as_str().unwrap_or("?"),
        t["scope"].as_str().unwrap_or("-"),
        t["privilege"].as_str().unwrap_or("?"),
        t["expires_at"].as_str().unwrap_or("never"),
        t["description"]
            .as_str()
            .filter(|d| !d.is_empty())
            .map(|d| format!(" — {d}"))
            .unwrap_or_default(),
        if t["revoked_at"].is_string() {
            " (revoked)"
        } else {
            ""
        },
    )
}

fn principal_line(p: &Value) -> String {
    let members = p["members"]
        .as_array()
        .map(|m| {
            format!(
                " members: {}",
                m.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .unwrap_or_default();
    format!(
        "{}{}{members}",
        p["reference"].as_str().unwrap_or("?"),
        if p["site_admin"] == true {
            " (site admin)"
        } else {
            ""
        }
    )
}

pub(crate) async fn tokens(
    client: &Client,
    cmd: TokensCommand,
    json_out: bool,
) -> anyhow::Result<()> {
    match cmd {
        TokensCommand::Create {
            scope,
            privilege,
            principal,
            expires_in_days,
            expires_in_seconds,
            description,
        } => {
            let body = serde_json::json!({
                "scope": scope, "privilege": privilege, "principal": principal,
                "expires_in_days": expires_in_days, "expires_in_seconds": expires_in_seconds,
                "description": description,
            });
            let token: gantry_client::CreatedToken = serde_json::from_value(
                client
                    .send_value("POST", "/api/v1/tokens", Some(&body))
                    .await?,
            )?;
            if json_out {
                print_json(&token)?;
            } else {
                eprintln!(
                    "Created token {} for {}{} (shown once):",
                    token.id,
                    token.scope.as_deref().unwrap_or("-"),
                    token
                        .principal
                        .as_deref()
                        .map(|p| format!(" acting as {p}"))
                        .unwrap_or_default()
                );
                println!("{}", token.token);
            }
        }
        TokensCommand::Ls { scope } => {
            let query: Vec<(&str, String)> = scope.into_iter().map(|s| ("scope", s)).collect();
            let list = client.get_value("/api/v1/tokens", &query).await?;
            show_list(json_out, &list, token_line)?;
        }
        TokensCommand::Revoke { id } => {
            client
                .send_value("DELETE", &format!("/api/v1/tokens/{id}"), None)
                .await?;
            eprintln!("Revoked token {id}");
        }
    }
    Ok(())
}

pub(crate) async fn users(
    client: &Client,
    cmd: UsersCommand,
    json_out: bool,
) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Create { name, site_admin } => {
            let password = read_password()?;
            let user = client
                .send_value(
                    "POST",
                    "/api/v1/users",
                    Some(&json!({ "name": name, "password": password, "site_admin": site_admin })),
                )
                .await?;
            show(json_out, &user, principal_line)?;
        }
        UsersCommand::Ls => {
            let list = client.get_value("/api/v1/users", &[]).await?;
            show_list(json_out, &list, principal_line)?;
        }
    }
    Ok(())
}

pub(crate) async fn teams(
    client: &Client,
    cmd: TeamsCommand,
    json_out: bool,
) -> anyhow::Result<()> {
    match cmd {
        TeamsCommand::Create { team } => {
            let (owner, name) = split_repo(&team)?;
            let t = client
                .send_value(
                    "POST",
                    &format!("/api/v1/teams/{owner}"),
                    Some(&json!({ "name": name })),
                )
                .await?;
            show(json_out, &t, principal_line)?;
        }
        TeamsCommand::Ls { owner } => {
            let list = client
                .get_value(&format!("/api/v1/teams/{owner}"), &[])
                .await?;
            show_list(json_out, &list, principal_line)?;
        }
        TeamsCommand::AddMember { team, user } => {
            let (owner, name) = split_repo(&team)?;
            client
                .send_value(
                    "PUT",
                    &format!("/api/v1/teams/{owner}/{name}/members/{user}"),
                    None,
                )
                .await?;
            eprintln!("Added {user} to {team}");
        }
        TeamsCommand::RemoveMember { team, user } => {
            let (owner, name) = split_repo(&team)?;
            client
                .send_value(
                    "DELETE",
                    &format!("/api/v1/teams/{owner}/{name}/members/{user}"),
                    None,
                )
                .await?;
            eprintln!("Removed {user} from {team}");
        }
    }
    Ok(())
}

pub(crate) async fn service_accounts(
    client: &Client,
    cmd: ServiceAccountsCommand,
    json_out: bool,
) -> anyhow::Result<()> {
    match cmd {
        ServiceAccountsCommand::Create { account } => {
            let (owner, name) = split_repo(&account)?;
            let sa = client
                .send_value(
                    "POST",
                    &format!("/api/v1/service-accounts/{owner}"),
                    Some(&json!({ "name": name })),
                )
                .await?;
            show(json_out, &sa, principal_line)?;
        }
        ServiceAccountsCommand::Ls { owner } => {
            let list = client
                .get_value(&format!("/api/v1/service-accounts/{owner}"), &[])
                .await?;
            show_list(json_out, &list, principal_line)?;
        }
    }
    Ok(())
}

pub(crate) async fn privileges(
    client: &Client,
    cmd: PrivilegesCommand,
    json_out: bool,
) -> anyhow::Result<()> {
    match cmd {
        PrivilegesCommand::Ls { owner } => {
            let list = client
                .get_value(&format!("/api/v1/privileges/{owner}"), &[])
                .await?;
            show_list(json_out, &list, |g| {
                format!(
                    "{:<30} {:<6} on {}/{}",
                    g["principal"].as_str().unwrap_or("?"),
                    g["privilege"].as_str().unwrap_or("?"),
                    owner,
                    g["repository"].as_str().unwrap_or("*")
                )
            })?;
        }
        PrivilegesCommand::Grant {
            scope,
            principal,
            privilege,
        } => {
            let (owner, repo) = scope_parts(&scope);
            client
                .send_value(
                    "PUT",
                    &format!("/api/v1/privileges/{owner}"),
                    Some(&json!({ "principal": principal, "repository": repo, "privilege": privilege })),
                )
                .await?;
            eprintln!("Granted {principal} {privilege} on {scope}");
        }
        PrivilegesCommand::Revoke { scope, principal } => {
            let (owner, repo) = scope_parts(&scope);
            let mut path = format!(
                "/api/v1/privileges/{owner}?principal={}",
                url_encode(&principal)
            );
            if let Some(repo) = repo {
                path.push_str(&format!("&repository={}", url_encode(repo)));
            }
            client.send_value("DELETE", &path, None).await?;
            eprintln!("Revoked {principal}'s privilege on {scope}");
        }
    }
    Ok(())
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) async fn entitlements(
    client: &Client,
    cmd: EntitlementsCommand,
    json_out: bool,
) -> anyhow::Result<()> {
    match cmd {
        EntitlementsCommand::Create {
            repo,
            description,
            expires_in_days,
            max_downloads,
        } => {
            let (owner, name) = split_repo(&repo)?;
            let token = client
                .send_value(
                    "POST",
                    &format!("/api/v1/entitlements/{owner}/{name}"),
                    Some(&json!({
                        "description": description, "expires_in_days": expires_in_days,
                        "max_downloads": max_downloads,
                    })),
                )
                .await?;
            if json_out {
                print_json(&token)?;
            } else {
                eprintln!(
                    "Created entitlement {} for {repo} (shown once):",
                    token["id"]
                );
                println!(
                    "{}",
                    token["token"].as_str().context("no token in the answer")?
                );
            }
        }
        EntitlementsCommand::Ls { repo } => {
            let (owner, name) = split_repo(&repo)?;
            let list = client
                .get_value(&format!("/api/v1/entitlements/{owner}/{name}"), &[])
                .await?;
            show_list(json_out, &list, token_line)?;
        }
        EntitlementsCommand::Revoke { id } => {
            client
                .send_value("DELETE", &format!("/api/v1/tokens/{id}"), None)
                .await?;
            eprintln!("Revoked entitlement {id}");
        }
    }
    Ok(())
}

pub(crate) async fn audit(client: &Client, args: AuditArgs, json_out: bool) -> anyhow::Result<()> {
    let mut query = vec![("limit", args.limit.to_string())];
    if let Some(before) = args.before {
        query.push(("before", before.to_string()));
    }
    for (key, value) in [
        ("actor", args.actor),
        ("event", args.event),
        ("since", args.since),
        ("until", args.until),
    ] {
        if let Some(v) = value {
            query.push((key, v));
        }
    }
    let list = client
        .get_value(&format!("/api/v1/audit/{}", args.owner), &query)
        .await?;
    show_list(json_out, &list, |e| {
        format!(
            "{} {:<22} by {}{}{} {}",
            e["occurred_at"].as_str().unwrap_or("?"),
            e["event"].as_str().unwrap_or("?"),
            e["actor"].as_str().unwrap_or("?"),
            e["context"]["source_address"]
                .as_str()
                .or(e["source_address"].as_str())
                .map(|a| format!(" from {a}"))
                .unwrap_or_default(),
            e["repository"]
                .as_str()
                .map(|r| format!(" in {r}"))
                .unwrap_or_default(),
            e["context"]
        )
    })
}
