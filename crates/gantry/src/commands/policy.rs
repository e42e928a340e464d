//! Policy, rule and tag verbs.

use anyhow::{bail, Context};
use gantry_client::Client;
use serde_json::{json, Value};

use super::client::{print_json, show_list, split_package};
use crate::cli::{
    PolicyCommand, PolicyCreateArgs, PolicySimulateArgs, PolicyUpdateArgs, RulesCommand,
    TagsCommand,
};

fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn split_policy(text: &str) -> anyhow::Result<(&str, &str)> {
    match text.split_once('/') {
        Some((o, p)) if !o.is_empty() && !p.is_empty() && !p.contains('/') => Ok((o, p)),
        _ => bail!("'{text}' must be OWNER/POLICY"),
    }
}

fn describe_policy(p: &Value) -> String {
    format!(
        "{:<24} v{:<4} precedence {:<5} {}",
        p["name"].as_str().unwrap_or_default(),
        p["version"],
        p["precedence"],
        if p["enabled"].as_bool() == Some(true) {
            "enabled"
        } else {
            "disabled"
        }
    )
}

pub(crate) async fn policy(
    client: &Client,
    cmd: PolicyCommand,
    json_out: bool,
) -> anyhow::Result<()> {
    match cmd {
        PolicyCommand::Create(new) => create(client, new, json_out).await?,
        PolicyCommand::Examples { name } => examples(name, json_out)?,
        PolicyCommand::Ls { owner } => ls(client, &owner, json_out).await?,
        PolicyCommand::Show { policy } => show(client, &policy, json_out).await?,
        PolicyCommand::Update(change) => update(client, change, json_out).await?,
        PolicyCommand::Delete { policy } => delete(client, &policy).await?,
        PolicyCommand::Simulate(trial) => simulate(client, trial, json_out).await?,
        PolicyCommand::Decisions { scope, slug, limit } => {
            decisions(client, &scope, slug, limit, json_out).await?;
        }
    }
    Ok(())
}

async fn create(client: &Client, new: PolicyCreateArgs, json_out: bool) -> anyhow::Result<()> {
    let (rego, default_name) = match (&new.file, &new.example) {
        (Some(file), _) => (read(file)?, None),
        (None, Some(example)) => {
            let e = super::policy_examples::find(example)?;
            (e.source.to_owned(), Some(e.name))
        }
        (None, None) => anyhow::bail!("give --file or --example"),
    };
    let name = new
        .name
        .as_deref()
        .or(default_name)
        .ok_or_else(|| anyhow::anyhow!("give --name"))?;
    let body = json!({
        "name": name, "rego": rego, "enabled": !new.disabled, "precedence": new.precedence,
    });
    let created = client
        .send_value(
            "POST",
            &format!("/api/v1/policies/{}", new.owner),
            Some(&body),
        )
        .await?;
    super::client::show(json_out, &created, describe_policy)?;
    Ok(())
}

fn examples(name: Option<String>, json_out: bool) -> anyhow::Result<()> {
    match name {
        Some(name) => {
            let e = super::policy_examples::find(&name)?;
            if json_out {
                print_json(&json!({ "name": e.name, "summary": e.summary(), "rego": e.source }))?;
            } else {
                print!("{}", e.source);
            }
        }
        None => {
            let list: Vec<_> = super::policy_examples::EXAMPLES
                .iter()
                .map(|e| json!({ "name": e.name, "summary": e.summary() }))
                .collect();
            if json_out {
                print_json(&list)?;
            } else {
                for e in &super::policy_examples::EXAMPLES {
                    println!("{:<20} {}", e.name, e.summary());
                }
            }
        }
    }
    Ok(())
}

async fn ls(client: &Client, owner: &str, json_out: bool) -> anyhow::Result<()> {
    let list = client
        .get_value(&format!("/api/v1/policies/{owner}"), &[])
        .await?;
    show_list(json_out, &list, describe_policy)?;
    Ok(())
}

async fn show(client: &Client, policy: &str, json_out: bool) -> anyhow::Result<()> {
    let (owner, name) = split_policy(policy)?;
    let p = client
        .get_value(&format!("/api/v1/policies/{owner}/{name}"), &[])
        .await?;
    if json_out {
        print_json(&p)?;
    } else {
        println!(
            "{}\n\n{}",
            describe_policy(&p),
            p["rego"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

async fn update(client: &Client, change: PolicyUpdateArgs, json_out: bool) -> anyhow::Result<()> {
    let (owner, name) = split_policy(&change.policy)?;
    let mut body = json!({});
    if let Some(file) = &change.file {
        body["rego"] = read(file)?.into();
    }
    if change.enable || change.disable {
        body["enabled"] = change.enable.into();
    }
    if let Some(p) = change.precedence {
        body["precedence"] = p.into();
    }
    let updated = client
        .send_value(
            "PATCH",
            &format!("/api/v1/policies/{owner}/{name}"),
            Some(&body),
        )
        .await?;
    super::client::show(json_out, &updated, describe_policy)?;
    Ok(())
}

async fn delete(client: &Client, policy: &str) -> anyhow::Result<()> {
    let (owner, name) = split_policy(policy)?;
    client
        .send_value("DELETE", &format!("/api/v1/policies/{owner}/{name}"), None)
        .await?;
    eprintln!("Deleted policy {owner}/{name}");
    Ok(())
}

async fn simulate(
    client: &Client,
    trial: PolicySimulateArgs,
    json_out: bool,
) -> anyhow::Result<()> {
    let (owner, name) = split_policy(&trial.policy)?;
    let mut body = json!({
        "repository": trial.repo, "query": trial.query, "destination": trial.destination,
    });
    if let Some(file) = &trial.file {
        body["rego"] = read(file)?.into();
    }
    let result = client
        .send_value(
            "POST",
            &format!("/api/v1/policies/{owner}/{name}/simulate"),
            Some(&body),
        )
        .await?;
    if json_out {
        print_json(&result)?;
    } else {
        for p in result["packages"].as_array().into_iter().flatten() {
            let verdict = if p["denied"].as_bool() == Some(true) {
                "DENY "
            } else {
                "allow"
            };
            let mut line = format!(
                "{verdict} {} {} {} {}",
                p["slug_perm"].as_str().unwrap_or_default(),
                p["repository"].as_str().unwrap_or_default(),
                p["name"].as_str().unwrap_or_default(),
                p["version"].as_str().unwrap_or_default()
            );
            for reason in p["deny"].as_array().into_iter().flatten() {
                line.push_str(&format!(
                    "\n      - {}",
                    reason.as_str().unwrap_or_default()
                ));
            }
            if let Some(e) = p["error"].as_str() {
                line.push_str(&format!("\n      ! {e}"));
            }
            if p["quarantine"].as_bool() == Some(true) {
                line.push_str("\n      → would quarantine");
            }
            println!("{line}");
        }
        eprintln!(
            "{} evaluated, {} denied (nothing was changed)",
            result["evaluated"], result["denied"]
        );
    }
    Ok(())
}

async fn decisions(
    client: &Client,
    scope: &str,
    slug: Option<String>,
    limit: i64,
    json_out: bool,
) -> anyhow::Result<()> {
    let (owner, policy) = match scope.split_once('/') {
        Some((o, p)) => (o, Some(p)),
        None => (scope, None),
    };
    let mut query = vec![("limit", limit.to_string())];
    if let Some(p) = policy {
        query.push(("policy", p.to_owned()));
    }
    if let Some(s) = slug {
        query.push(("slug_perm", s));
    }
    let list = client
        .get_value(&format!("/api/v1/policies/{owner}/decisions"), &query)
        .await?;
    if json_out {
        print_json(&list)?;
    } else {
        for d in list.as_array().into_iter().flatten() {
            println!(
                "{} {} v{} {} {} {} {}{}",
                d["occurred_at"].as_str().unwrap_or_default(),
                d["policy"].as_str().unwrap_or_default(),
                d["policy_version"],
                d["trigger"].as_str().unwrap_or_default(),
                d["slug_perm"].as_str().unwrap_or("-"),
                if d["denied"].as_bool() == Some(true) {
                    "DENY"
                } else {
                    "allow"
                },
                d["output"]["deny"],
                d["destination"]
                    .as_str()
                    .map(|t| format!(" → {t}"))
                    .unwrap_or_default(),
            );
        }
    }
    Ok(())
}

pub(crate) async fn rules(
    client: &Client,
    cmd: RulesCommand,
    json_out: bool,
) -> anyhow::Result<()> {
    let describe = |r: &Value| {
        format!(
            "{:<20} on {} if {} → {} to {}{}",
            r["name"].as_str().unwrap_or_default(),
            r["on"].as_str().unwrap_or_default(),
            match &r["condition"] {
                Value::String(s) => s.clone(),
                _ => "(rego)".into(),
            },
            r["action"].as_str().unwrap_or_default(),
            r["destination"].as_str().unwrap_or_default(),
            if r["enabled"].as_bool() == Some(true) {
                ""
            } else {
                " (disabled)"
            }
        )
    };
    match cmd {
        RulesCommand::Create { repo, name, fields } => {
            let body = rule_body(&name, fields)?;
            let created = client
                .send_value("POST", &format!("/api/v1/repos/{repo}/rules"), Some(&body))
                .await?;
            super::client::show(json_out, &created, describe)?;
        }
        RulesCommand::Update { rule, fields } => {
            let (owner, repo, name) = split_rule(&rule)?;
            let body = rule_body(name, fields)?;
            let path = format!("/api/v1/repos/{owner}/{repo}/rules/{name}");
            let updated = client.send_value("PUT", &path, Some(&body)).await?;
            super::client::show(json_out, &updated, describe)?;
        }
        RulesCommand::Ls { repo } => {
            let list = client
                .get_value(&format!("/api/v1/repos/{repo}/rules"), &[])
                .await?;
            show_list(json_out, &list, describe)?;
        }
        RulesCommand::Delete { rule } => {
            let (owner, repo, name) = split_rule(&rule)?;
            client
                .send_value(
                    "DELETE",
                    &format!("/api/v1/repos/{owner}/{repo}/rules/{name}"),
                    None,
                )
                .await?;
            eprintln!("Deleted rule {rule}");
        }
    }
    Ok(())
}

fn split_rule(rule: &str) -> anyhow::Result<(&str, &str, &str)> {
    match rule.split('/').collect::<Vec<_>>().as_slice() {
        [o, r, n] => Ok((o, r, n)),
        _ => bail!("'{rule}' must be OWNER/REPO/NAME"),
    }
}

fn rule_body(name: &str, f: crate::cli::RuleFields) -> anyhow::Result<Value> {
    let condition = match (f.condition, f.rego_file) {
        (Some(c), None) => Value::String(c),
        (None, Some(file)) => json!({ "rego": read(&file)? }),
        _ => bail!("give --condition TEXT or --rego-file FILE"),
    };
    Ok(json!({
        "name": name, "on": f.on, "condition": condition, "action": f.action,
        "destination": f.destination, "enabled": !f.disabled,
    }))
}

pub(crate) async fn tags(client: &Client, cmd: TagsCommand, json_out: bool) -> anyhow::Result<()> {
    let (package, body) = match cmd {
        TagsCommand::Add { package, tags } => (package, json!({ "add": tags })),
        TagsCommand::Remove { package, tags } => (package, json!({ "remove": tags })),
    };
    let (owner, repo, slug) = split_package(&package)?;
    let updated = client
        .send_value(
            "POST",
            &format!("/api/v1/packages/{owner}/{repo}/{slug}/tags"),
            Some(&body),
        )
        .await?;
    if json_out {
        print_json(&updated)?;
    } else {
        println!(
            "{} tags: {}",
            updated["slug_perm"].as_str().unwrap_or_default(),
            updated["tags"]
        );
    }
    Ok(())
}
