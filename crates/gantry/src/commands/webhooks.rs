//! Webhooks and upstreams of a repository.

use anyhow::{bail, Context};
use gantry_client::Client;

use super::client::{client, print_json, show, show_deleted, show_each, split_repo};
use crate::cli::{
    GlobalArgs, WebhookCreateArgs, WebhookDelivery, WebhookUpdateArgs, WebhooksCommand,
};

fn parse_header(text: &str) -> anyhow::Result<serde_json::Value> {
    let (name, value) = text
        .split_once('=')
        .context("--header must be NAME=VALUE")?;
    Ok(serde_json::json!({ "name": name.trim(), "value": value }))
}

fn webhook_line(w: &serde_json::Value) -> String {
    format!(
        "{:>4} {} [{}] events {}{}{}",
        w["id"],
        w["target_url"].as_str().unwrap_or("?"),
        if w["is_active"] == true {
            "active"
        } else {
            "disabled"
        },
        w["events"]
            .as_array()
            .map(|e| e
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(","))
            .unwrap_or_default(),
        w["package_query"]
            .as_str()
            .map(|q| format!(" filter \"{q}\""))
            .unwrap_or_default(),
        w["disabled_reason"]
            .as_str()
            .map(|r| format!(" — {r}"))
            .unwrap_or_default(),
    )
}

pub(crate) async fn webhooks(
    global: &GlobalArgs,
    cmd: WebhooksCommand,
    json: bool,
) -> anyhow::Result<()> {
    let client = client(global)?;
    match cmd {
        WebhooksCommand::Create(new) => create(&client, new, json).await?,
        WebhooksCommand::Ls { repo } => ls(&client, &repo, json).await?,
        WebhooksCommand::Update(change) => update(&client, change, json).await?,
        WebhooksCommand::Delete { repo, id } => delete(&client, &repo, id, json).await?,
        WebhooksCommand::Ping { repo, id } => ping(&client, &repo, id, json).await?,
        WebhooksCommand::Deliveries { repo, id } => deliveries(&client, &repo, id, json).await?,
        WebhooksCommand::Redeliver { repo, id, delivery } => {
            redeliver(&client, &repo, id, delivery, json).await?;
        }
    }
    Ok(())
}

/// Sets the delivery options that were given, the same way on create and update.
fn set_delivery(body: &mut serde_json::Value, delivery: WebhookDelivery) -> anyhow::Result<()> {
    if let Some(s) = delivery.secret {
        body["secret"] = s.into();
    }
    if let Some(q) = delivery.package_query {
        body["package_query"] = q.into();
    }
    if let Some(h) = delivery.header {
        body["extra_header"] = parse_header(&h)?;
    }
    Ok(())
}

async fn create(client: &Client, new: WebhookCreateArgs, json: bool) -> anyhow::Result<()> {
    let (owner, name) = split_repo(&new.repo)?;
    let mut body = serde_json::json!({
        "target_url": new.target_url, "events": new.events, "is_active": !new.inactive,
    });
    set_delivery(&mut body, new.delivery)?;
    show(
        json,
        &client.create_webhook(owner, name, &body).await?,
        webhook_line,
    )
}

async fn ls(client: &Client, repo: &str, json: bool) -> anyhow::Result<()> {
    let (owner, name) = split_repo(repo)?;
    let list = client.list_webhooks(owner, name).await?;
    show_each(json, &list, webhook_line)
}

async fn update(client: &Client, change: WebhookUpdateArgs, json: bool) -> anyhow::Result<()> {
    let (owner, name) = split_repo(&change.repo)?;
    let mut body = serde_json::json!({});
    if let Some(u) = change.target_url {
        body["target_url"] = u.into();
    }
    if let Some(e) = change.events {
        body["events"] = e.into();
    }
    set_delivery(&mut body, change.delivery)?;
    if change.enable || change.disable {
        body["is_active"] = change.enable.into();
    }
    let updated = client.update_webhook(owner, name, change.id, &body).await?;
    show(json, &updated, webhook_line)
}

async fn delete(client: &Client, repo: &str, id: i64, json: bool) -> anyhow::Result<()> {
    let (owner, name) = split_repo(repo)?;
    client.delete_webhook(owner, name, id).await?;
    show_deleted(json, "webhook", id)
}

async fn ping(client: &Client, repo: &str, id: i64, json: bool) -> anyhow::Result<()> {
    let (owner, name) = split_repo(repo)?;
    let result = client.ping_webhook(owner, name, id).await?;
    if json {
        print_json(&result)?;
    } else {
        println!(
            "ping {}: {} in {} ms{}",
            result["delivery_id"].as_str().unwrap_or("?"),
            result["status_code"]
                .as_i64()
                .map_or_else(|| "no answer".to_owned(), |c| format!("HTTP {c}")),
            result["latency_ms"],
            result["error"]
                .as_str()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default()
        );
    }
    if result["success"] != true {
        bail!("the receiver did not accept the ping");
    }
    Ok(())
}

async fn deliveries(client: &Client, repo: &str, id: i64, json: bool) -> anyhow::Result<()> {
    let (owner, name) = split_repo(repo)?;
    let list = client.webhook_deliveries(owner, name, id).await?;
    if json {
        print_json(&list)?;
    } else {
        for d in &list {
            println!(
                "{:>6} {} {:<26} {:<9} attempts {}{}",
                d["id"],
                d["delivery_id"].as_str().unwrap_or("?"),
                d["event"].as_str().unwrap_or("?"),
                d["state"].as_str().unwrap_or("?"),
                d["attempts"],
                d["last_error"]
                    .as_str()
                    .map(|e| format!(" — {e}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

async fn redeliver(
    client: &Client,
    repo: &str,
    id: i64,
    delivery: i64,
    json: bool,
) -> anyhow::Result<()> {
    let (owner, name) = split_repo(repo)?;
    let d = client.redeliver(owner, name, id, delivery).await?;
    if json {
        print_json(&d)?;
    } else {
        println!(
            "queued delivery {} ({})",
            d["id"],
            d["delivery_id"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

pub(crate) async fn upstream(
    global: &GlobalArgs,
    args: crate::cli::UpstreamArgs,
    json: bool,
) -> anyhow::Result<()> {
    use crate::cli::UpstreamCommand;
    let client = client(global)?;
    let line = |u: &serde_json::Value| {
        format!(
            "{:>4} {:<16} {:<6} priority {:<3} {} ({}){}",
            u["id"],
            u["name"].as_str().unwrap_or("?"),
            u["format"].as_str().unwrap_or("?"),
            u["priority"],
            u["url"].as_str().unwrap_or("?"),
            u["mode"].as_str().unwrap_or("?"),
            if u["local_names_only"] == true {
                " local-names-only"
            } else {
                ""
            }
        )
    };
    match args.command {
        UpstreamCommand::Create { repo, fields } => {
            let (owner, repo) = split_repo(&repo)?;
            let path = format!("/api/v1/repos/{owner}/{repo}/upstreams");
            let body = upstream_body(&args.format, fields);
            let created = client.send_value("POST", &path, Some(&body)).await?;
            show(json, &created, line)?;
        }
        UpstreamCommand::Update { repo, id, fields } => {
            let (owner, repo) = split_repo(&repo)?;
            let path = format!("/api/v1/repos/{owner}/{repo}/upstreams/{id}");
            let body = upstream_body(&args.format, fields);
            let updated = client.send_value("PUT", &path, Some(&body)).await?;
            show(json, &updated, line)?;
        }
        UpstreamCommand::Ls { repo } => {
            let (owner, repo) = split_repo(&repo)?;
            let list = client
                .get_value(&format!("/api/v1/repos/{owner}/{repo}/upstreams"), &[])
                .await?;
            if json {
                print_json(&list)?;
            } else {
                for u in list.as_array().map(Vec::as_slice).unwrap_or_default() {
                    if u["format"] == args.format.as_str() {
                        println!("{}", line(u));
                    }
                }
            }
        }
        UpstreamCommand::Delete { repo, id } => {
            let (owner, repo) = split_repo(&repo)?;
            client
                .send_value(
                    "DELETE",
                    &format!("/api/v1/repos/{owner}/{repo}/upstreams/{id}"),
                    None,
                )
                .await?;
            eprintln!("Deleted upstream {id}");
        }
    }
    Ok(())
}

fn upstream_body(format: &str, f: crate::cli::UpstreamFields) -> serde_json::Value {
    serde_json::json!({
        "format": format, "name": f.name, "url": f.url, "priority": f.priority,
        "mode": f.mode, "username": f.username, "password": f.password,
        "index_ttl_seconds": f.index_ttl_seconds, "local_names_only": f.local_names_only,
    })
}
