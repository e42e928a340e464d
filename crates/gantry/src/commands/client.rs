//! Client verbs over the REST API.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use gantry_client::Client;
use gantry_core::Repository;
use serde::Serialize;

use crate::cli::{Command, GlobalArgs, LsCommand, OutputFormat, ReposCommand};
use crate::settings;

pub(crate) fn split_repo(text: &str) -> anyhow::Result<(&str, &str)> {
    match text.split('/').collect::<Vec<_>>().as_slice() {
        [owner, repo] if !owner.is_empty() && !repo.is_empty() => Ok((owner, repo)),
        _ => bail!("'{text}' must be OWNER/REPO"),
    }
}

pub(crate) fn split_package(text: &str) -> anyhow::Result<(&str, &str, &str)> {
    match text.split('/').collect::<Vec<_>>().as_slice() {
        [owner, repo, slug] if !owner.is_empty() && !repo.is_empty() && !slug.is_empty() => {
            Ok((owner, repo, slug))
        }
        _ => bail!("'{text}' must be OWNER/REPO/SLUG"),
    }
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// One record: as JSON with `-F json`, else the line `text` makes of it.
pub(crate) fn show<T: Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        return print_json(value);
    }
    println!("{}", text(value));
    Ok(())
}

/// Records: as a JSON array with `-F json`, else one line each.
pub(crate) fn show_each<T: Serialize>(
    json: bool,
    items: &[T],
    text: impl Fn(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        return print_json(&items);
    }
    for item in items {
        println!("{}", text(item));
    }
    Ok(())
}

/// A list the server answered: as it came with `-F json`, else one line per item.
pub(crate) fn show_list(
    json: bool,
    list: &serde_json::Value,
    text: impl Fn(&serde_json::Value) -> String,
) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    show_each(
        false,
        list.as_array().map(Vec::as_slice).unwrap_or_default(),
        text,
    )
}

/// The answer to a deletion: `{"deleted": id}` with `-F json`, else a note on stderr.
pub(crate) fn show_deleted<T: Serialize + std::fmt::Display>(
    json: bool,
    what: &str,
    id: T,
) -> anyhow::Result<()> {
    if json {
        return print_json(&serde_json::json!({ "deleted": id }));
    }
    eprintln!("Deleted {what} {id}");
    Ok(())
}

fn repo_line(r: &Repository) -> String {
    format!(
        "{} [{}] {} package(s){}",
        r.slug,
        if r.private { "private" } else { "public" },
        r.package_count,
        if r.description.is_empty() {
            String::new()
        } else {
            format!(" — {}", r.description)
        }
    )
}

pub(crate) fn client(global: &GlobalArgs) -> anyhow::Result<Client> {
    let saved = settings::load();
    let url = global
        .api_url
        .clone()
        .or(saved.url)
        .unwrap_or_else(|| settings::DEFAULT_URL.to_owned());
    let token = global.token.clone().or(saved.token);
    Ok(Client::new(&url, token)?)
}

pub(crate) async fn run(global: &GlobalArgs, command: Command) -> anyhow::Result<ExitCode> {
    let json = global.output == OutputFormat::Json;
    match command {
        Command::Server(_) | Command::Worker(_) => {
            unreachable!("dispatched before")
        }
        Command::Resync(args) => super::packages::resync(global, args, json).await?,
        Command::Admin(cmd) => return super::maintenance::admin(&client(global)?, cmd, json).await,
        Command::Webhooks(cmd) => super::webhooks::webhooks(global, cmd, json).await?,
        Command::Login(args) => login(global, args, json).await?,
        Command::Whoami => {
            let who = client(global)?.whoami().await?;
            if json {
                print_json(&who)?;
            } else {
                println!("{}", who["actor"].as_str().unwrap_or("anonymous"));
            }
        }
        Command::Repos(cmd) => repos(global, cmd, json).await?,
        Command::Push(args) => super::packages::push(global, args, json).await?,
        Command::Ls(LsCommand::Pkgs {
            repo,
            query,
            page,
            page_size,
        }) => {
            super::packages::list(global, &repo, query.as_deref(), (page, page_size), json).await?;
        }
        Command::Ls(LsCommand::Repos { owner }) => {
            repos(global, ReposCommand::Ls { owner }, json).await?;
        }
        Command::Status(r) => super::packages::status(global, r, json).await?,
        Command::Cp(args) => super::packages::promote(global, "copy", args, json).await?,
        Command::Mv(args) => super::packages::promote(global, "move", args, json).await?,
        Command::Quarantine(cmd) => super::packages::quarantine(global, cmd, json).await?,
        Command::Yank {
            package,
            reason,
            undo,
        } => super::packages::yank(global, &package, reason, undo, json).await?,
        Command::Promote(args) => return super::packages::bulk_promote(global, args, json).await,
        Command::Delete(r) => super::packages::delete(global, r, json).await?,
        Command::Restore(r) => super::packages::restore(global, r, json).await?,
        Command::Events(r) => super::packages::events(global, r, json).await?,
        Command::Tokens(cmd) => super::access::tokens(&client(global)?, cmd, json).await?,
        Command::Users(cmd) => super::access::users(&client(global)?, cmd, json).await?,
        Command::Teams(cmd) => super::access::teams(&client(global)?, cmd, json).await?,
        Command::ServiceAccounts(cmd) => {
            super::access::service_accounts(&client(global)?, cmd, json).await?;
        }
        Command::Privileges(cmd) => super::access::privileges(&client(global)?, cmd, json).await?,
        Command::Entitlements(cmd) => {
            super::access::entitlements(&client(global)?, cmd, json).await?;
        }
        Command::Audit(args) => super::access::audit(&client(global)?, args, json).await?,
        Command::Upstream(args) => super::webhooks::upstream(global, args, json).await?,
        Command::Vulndb(cmd) => super::security::vulndb(&client(global)?, cmd, json).await?,
        Command::Vulnerabilities(args) => {
            super::exceptions::run(&client(global)?, args, json).await?;
        }
        Command::Scan(r) => super::security::scan(&client(global)?, &r.package, json).await?,
        Command::Security(crate::cli::SecurityCommand::Summary {
            scope,
            packages,
            severity,
            fixable,
        }) => {
            let filters = super::security::SummaryFilters {
                packages,
                severity,
                fixable,
            };
            super::security::summary(&client(global)?, &scope, &filters, json).await?;
        }
        Command::Policy(cmd) => super::policy::policy(&client(global)?, cmd, json).await?,
        Command::Rules(cmd) => super::policy::rules(&client(global)?, cmd, json).await?,
        Command::Tags(cmd) => super::policy::tags(&client(global)?, cmd, json).await?,
        Command::Sbom(args) => super::evidence::sbom(&client(global)?, args).await?,
        Command::Verify(args) => {
            return super::evidence::verify(&client(global)?, args, json).await
        }
        Command::Keys(cmd) => super::evidence::keys(&client(global)?, cmd).await?,
        Command::Retention(cmd) => super::evidence::retention(&client(global)?, cmd, json).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn repos(global: &GlobalArgs, cmd: ReposCommand, json: bool) -> anyhow::Result<()> {
    let client = client(global)?;
    let show = |r: &Repository| show(json, r, repo_line);
    match cmd {
        ReposCommand::Create {
            repo,
            public,
            description,
        } => {
            let (owner, name) = split_repo(&repo)?;
            show(
                &client
                    .create_repo(owner, name, &description, !public)
                    .await?,
            )?;
        }
        ReposCommand::Ls { owner } => {
            show_each(json, &client.list_repos(&owner).await?, repo_line)?;
        }
        ReposCommand::Get { repo } => {
            let (owner, name) = split_repo(&repo)?;
            show(&client.get_repo(owner, name).await?)?;
        }
        ReposCommand::Update {
            repo,
            description,
            public,
            private,
            ip_allowlist,
            ip_denylist,
            permissions,
            immutable_tags,
            allow_republish,
        } => {
            let (owner, name) = split_repo(&repo)?;
            let mut body = serde_json::Map::new();
            if let Some(d) = description {
                body.insert("description".into(), d.into());
            }
            if public || private {
                body.insert("private".into(), private.into());
            }
            let list = |text: &str| -> Vec<String> {
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            if let Some(a) = ip_allowlist {
                body.insert("ip_allowlist".into(), list(&a).into());
            }
            if let Some(d) = ip_denylist {
                body.insert("ip_denylist".into(), list(&d).into());
            }
            if let Some(immutable) = immutable_tags {
                body.insert("immutable_tags".into(), immutable.into());
            }
            if let Some(allow) = allow_republish {
                body.insert("allow_republish".into(), allow.into());
            }
            if !permissions.is_empty() {
                let mut map = serde_json::Map::new();
                for p in &permissions {
                    let (op, privilege) = p
                        .split_once('=')
                        .with_context(|| format!("--permission {p} must be OPERATION=PRIVILEGE"))?;
                    map.insert(op.trim().to_owned(), privilege.trim().into());
                }
                body.insert("permissions".into(), map.into());
            }
            let updated = client
                .send_value(
                    "PATCH",
                    &format!("/api/v1/repos/{owner}/{name}"),
                    Some(&serde_json::Value::Object(body)),
                )
                .await?;
            let repo: Repository = serde_json::from_value(updated)?;
            show(&repo)?;
        }
        ReposCommand::Delete { repo, force } => {
            let (owner, name) = split_repo(&repo)?;
            client.delete_repo(owner, name, force).await?;
            show_deleted(json, "repository", &repo)?;
        }
    }
    Ok(())
}

/// `gantry login`: check a token (given, read from stdin, or exchanged for a user's
/// password) with `whoami`, then save it with the server URL.
async fn login(global: &GlobalArgs, args: crate::cli::LoginArgs, json: bool) -> anyhow::Result<()> {
    let url_for_login = global
        .api_url
        .clone()
        .or(settings::load().url)
        .unwrap_or_else(|| settings::DEFAULT_URL.to_owned());
    let token = match (args.api_key, args.username) {
        (Some(t), _) => t,
        (None, Some(username)) => {
            let password = super::access::read_password()?;
            let created = Client::new(&url_for_login, None)?
                .send_value(
                    "POST",
                    "/api/v1/login",
                    Some(&serde_json::json!({ "username": username, "password": password })),
                )
                .await?;
            created["token"]
                .as_str()
                .context("the server returned no token")?
                .to_owned()
        }
        (None, None) => {
            eprint!("API token: ");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim().to_owned()
        }
    };
    if token.is_empty() {
        bail!("no token given");
    }
    let mut saved = settings::load();
    let url = global
        .api_url
        .clone()
        .or(saved.url.clone())
        .unwrap_or_else(|| settings::DEFAULT_URL.to_owned());
    let who = Client::new(&url, Some(token.clone()))?
        .whoami()
        .await
        .context("the server refused the token")?;
    saved.url = Some(url);
    saved.token = Some(token);
    let path = settings::save(&saved)?;
    if json {
        print_json(&who)?;
    } else {
        println!(
            "Logged in as {}; settings saved to {}",
            who["actor"].as_str().unwrap_or("?"),
            path.display()
        );
    }
    Ok(())
}
