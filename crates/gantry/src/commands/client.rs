//! Client verbs over the REST API.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gantry_client::{Client, UploadOptions};
use gantry_core::{Event, Package, Repository};
use serde::Serialize;

use crate::cli::{
    AdminCommand, Command, GlobalArgs, LsCommand, OutputFormat, ReposCommand, WebhooksCommand,
};
use crate::settings;

/// How long `push`, `cp` and `mv` wait for sync before giving up.
const SYNC_TIMEOUT: Duration = Duration::from_secs(600);

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

/// One package on one line. The filename tells apart the files of one release (a wheel and
/// an sdist share name and version).
fn describe(p: &Package) -> String {
    format!(
        "{} {} {} ({}) {} in {} [{}; sync {}] sha256:{}",
        p.slug_perm,
        p.format,
        p.name,
        p.version,
        p.filename,
        p.repository,
        p.state,
        p.sync_status,
        p.checksum_sha256
    )
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

fn event_line(e: &Event) -> String {
    let mut line = format!("{} {:<26} by {}", e.occurred_at, e.event, e.actor);
    if let Some(repo) = &e.repository {
        line.push_str(&format!(" in {repo}"));
    }
    if let (Some(from), Some(to)) = (&e.source_repository, &e.destination_repository) {
        line.push_str(&format!(" ({from} → {to})"));
    }
    if let Some(slug) = &e.slug_perm {
        line.push_str(&format!(" [{slug}]"));
    }
    if let Some(sum) = &e.checksum_sha256 {
        line.push_str(&format!(" sha256:{sum}"));
    }
    line
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

/// Polls the package's sync status until it completes. A failed sync is resynced up to
/// `resyncs` times before giving up. A spinner shows the state on a terminal; elsewhere only
/// resyncs are reported.
async fn wait_for_sync(
    client: &Client,
    package: &Package,
    resyncs: u32,
    json: bool,
) -> anyhow::Result<Package> {
    let spinner = super::progress::spinner(&format!("sync of {}", package.slug_perm), json);
    let result = poll_sync(client, package, resyncs, &spinner).await;
    spinner.finish_and_clear();
    result
}

async fn poll_sync(
    client: &Client,
    package: &Package,
    resyncs: u32,
    spinner: &indicatif::ProgressBar,
) -> anyhow::Result<Package> {
    let (owner, repo) = split_repo(&package.repository)?;
    let start = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut resyncs_left = resyncs;
    loop {
        let status = client
            .package_status(owner, repo, &package.slug_perm)
            .await?;
        let sync = status["sync_status"].as_str().unwrap_or("");
        let progress = status["sync_progress"].as_i64().unwrap_or(0);
        match sync {
            "completed" => {
                return Ok(client.get_package(owner, repo, &package.slug_perm).await?);
            }
            "failed" => {
                let reason = status["status_reason"]
                    .as_str()
                    .unwrap_or("no reason given");
                if resyncs_left == 0 {
                    bail!("sync of {} failed: {reason}", package.slug_perm);
                }
                resyncs_left -= 1;
                spinner.suspend(|| {
                    eprintln!(
                        "sync failed: {reason}; resyncing ({} of {resyncs})",
                        resyncs - resyncs_left
                    );
                });
                if let Err(e) = client.resync(owner, repo, &package.slug_perm).await {
                    bail!(
                        "sync of {} failed: {reason} (and resyncing it failed: {e})",
                        package.slug_perm
                    );
                }
                delay = Duration::from_millis(100);
                continue;
            }
            other => {
                spinner.set_message(format!(
                    "sync of {}: {other} ({progress}%)",
                    package.slug_perm
                ));
            }
        }
        if start.elapsed() > SYNC_TIMEOUT {
            bail!("timed out waiting for {} to sync", package.slug_perm);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

pub(crate) async fn run(global: &GlobalArgs, command: Command) -> anyhow::Result<ExitCode> {
    let json = global.output == OutputFormat::Json;
    match command {
        Command::Server(_) | Command::Worker(_) | Command::Admin(AdminCommand::Routes) => {
            unreachable!("dispatched before")
        }
        Command::Resync(args) => {
            let (owner, repo, slug) = split_package(&args.package)?;
            let client = client(global)?;
            let mut package = client.resync(owner, repo, slug).await?;
            if !args.no_wait {
                package = wait_for_sync(
                    &client,
                    &package,
                    args.sync_attempts.saturating_sub(1),
                    json,
                )
                .await?;
            }
            if json {
                print_json(&package)?;
            } else {
                println!("{}", describe(&package));
            }
        }
        Command::Admin(AdminCommand::Jobs { state }) => {
            let jobs = client(global)?.admin_jobs(state.as_deref()).await?;
            if json {
                print_json(&jobs)?;
            } else {
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
            }
        }
        Command::Webhooks(cmd) => webhooks(global, cmd, json).await?,
        Command::Login(args) => {
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
                            Some(
                                &serde_json::json!({ "username": username, "password": password }),
                            ),
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
        }
        Command::Whoami => {
            let who = client(global)?.whoami().await?;
            if json {
                print_json(&who)?;
            } else {
                println!("{}", who["actor"].as_str().unwrap_or("anonymous"));
            }
        }
        Command::Repos(cmd) => repos(global, cmd, json).await?,
        Command::Push(args) => {
            let (owner, repo) = split_repo(&args.repo)?;
            let client = client(global)?;
            let size = std::fs::metadata(&args.file)
                .with_context(|| format!("cannot read {}", args.file.display()))?
                .len();
            let shown = args.file.file_name().map_or_else(
                || args.file.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            let bar = super::progress::bytes(size, &format!("{shown} → {owner}/{repo}"), json);
            if bar.is_hidden() {
                eprintln!("Uploading {} to {owner}/{repo} …", args.file.display());
            }
            let options = UploadOptions {
                name: args.name,
                version: args.version,
                filename: args.filename,
                republish: args.republish,
                tags: args.tags,
                checksum_sha256: None,
                progress: Some(super::progress::reporter(&bar)),
            };
            let uploaded = client
                .upload(&args.format, owner, repo, &args.file, &options)
                .await;
            bar.finish_and_clear();
            let mut package = uploaded?;
            if !args.no_wait {
                package = wait_for_sync(&client, &package, args.sync_attempts, json).await?;
            }
            if json {
                print_json(&package)?;
            } else {
                eprintln!("Created {}", describe(&package));
                println!("{}", package.slug_perm);
            }
        }
        Command::Ls(LsCommand::Pkgs {
            repo,
            query,
            page,
            page_size,
        }) => {
            let (owner, repo) = split_repo(&repo)?;
            let result = client(global)?
                .list_packages(owner, repo, query.as_deref(), page, page_size)
                .await?;
            if json {
                print_json(&result.packages)?;
            } else {
                for p in &result.packages {
                    println!("{}", describe(p));
                }
                eprintln!(
                    "{} package(s) in all; page {} of {}",
                    result.total, result.page, result.page_total
                );
            }
        }
        Command::Ls(LsCommand::Repos { owner }) => {
            repos(global, ReposCommand::Ls { owner }, json).await?;
        }
        Command::Status(r) => {
            let (owner, repo, slug) = split_package(&r.package)?;
            let client = client(global)?;
            let status = client.package_status(owner, repo, slug).await?;
            if json {
                print_json(&client.get_package(owner, repo, slug).await?)?;
            } else {
                println!(
                    "{slug}: sync {} ({}%), state {}{}",
                    status["sync_status"].as_str().unwrap_or("?"),
                    status["sync_progress"].as_i64().unwrap_or(0),
                    status["state"].as_str().unwrap_or("?"),
                    status["status_reason"]
                        .as_str()
                        .map(|r| format!(" — {r}"))
                        .unwrap_or_default()
                );
            }
        }
        Command::Cp(args) => promote(global, "copy", args, json).await?,
        Command::Mv(args) => promote(global, "move", args, json).await?,
        Command::Quarantine(cmd) => {
            let (package, reason, release) = match cmd {
                crate::cli::QuarantineCommand::Add { package, reason } => (package, reason, false),
                crate::cli::QuarantineCommand::Remove { package, reason } => {
                    (package, reason, true)
                }
            };
            let (owner, repo, slug) = split_package(&package)?;
            let updated = client(global)?
                .send_value(
                    "POST",
                    &format!("/api/v1/packages/{owner}/{repo}/{slug}/quarantine"),
                    Some(&serde_json::json!({ "release": release, "reason": reason })),
                )
                .await?;
            let updated: Package = serde_json::from_value(updated)?;
            if json {
                print_json(&updated)?;
            } else {
                println!("{}", describe(&updated));
            }
        }
        Command::Yank {
            package,
            reason,
            undo,
        } => {
            let (owner, repo, slug) = split_package(&package)?;
            let updated = client(global)?
                .send_value(
                    "POST",
                    &format!("/api/v1/packages/{owner}/{repo}/{slug}/yank"),
                    Some(&serde_json::json!({ "yanked": !undo, "reason": reason })),
                )
                .await?;
            let updated: Package = serde_json::from_value(updated)?;
            if json {
                print_json(&updated)?;
            } else {
                println!(
                    "{} {}",
                    describe(&updated),
                    if updated.is_yanked {
                        "(yanked)"
                    } else {
                        "(not yanked)"
                    }
                );
            }
        }
        Command::Promote {
            source,
            destination,
            query,
            slugs,
            move_,
            dry_run,
            republish,
        } => {
            let mut body = serde_json::json!({
                "source": source, "destination": destination,
                "mode": if move_ { "move" } else { "copy" },
                "dry_run": dry_run, "republish": republish,
            });
            match (query, slugs.is_empty()) {
                (Some(q), _) => body["query"] = q.into(),
                (None, false) => body["slugs"] = slugs.into(),
                (None, true) => bail!("give -q QUERY or one or more SLUGs"),
            }
            let client = client(global)?;
            let spinner = super::progress::spinner(
                &format!(
                    "{} {source} → {destination}",
                    if dry_run { "checking" } else { "promoting" }
                ),
                json,
            );
            let outcome = client
                .send_value("POST", "/api/v1/promotions", Some(&body))
                .await;
            spinner.finish_and_clear();
            let (result, failed) = match outcome {
                Ok(r) => {
                    let refused = r["refused"].as_i64().unwrap_or(0) > 0;
                    (r, refused)
                }
                Err(gantry_client::ClientError::Api {
                    status: 422,
                    message,
                    ..
                }) => {
                    // The refusal's details: ask again as a dry run to list every reason.
                    body["dry_run"] = true.into();
                    let r = client
                        .send_value("POST", "/api/v1/promotions", Some(&body))
                        .await?;
                    eprintln!("{message}");
                    (r, true)
                }
                Err(e) => return Err(e.into()),
            };
            if json {
                print_json(&result)?;
            } else {
                for p in result["packages"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    println!(
                        "{:<14} {} {} {} ({}){}",
                        p["status"].as_str().unwrap_or("?"),
                        p["slug_perm"].as_str().unwrap_or("?"),
                        p["format"].as_str().unwrap_or("?"),
                        p["name"].as_str().unwrap_or("?"),
                        p["version"].as_str().unwrap_or("?"),
                        p["reason"]
                            .as_str()
                            .map(|r| format!(" — {r}"))
                            .unwrap_or_default()
                    );
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Delete(r) => {
            let (owner, repo, slug) = split_package(&r.package)?;
            client(global)?.delete_package(owner, repo, slug).await?;
            if json {
                print_json(&serde_json::json!({ "deleted": slug }))?;
            } else {
                eprintln!("Deleted {slug} (restorable with `gantry restore`)");
            }
        }
        Command::Restore(r) => {
            let (owner, repo, slug) = split_package(&r.package)?;
            let package = client(global)?.restore_package(owner, repo, slug).await?;
            if json {
                print_json(&package)?;
            } else {
                println!("{}", describe(&package));
            }
        }
        Command::Events(r) => {
            let (owner, repo, slug) = split_package(&r.package)?;
            let events = client(global)?.events(owner, repo, slug).await?;
            if json {
                print_json(&events)?;
            } else {
                for e in &events {
                    println!("{}", event_line(e));
                }
            }
        }
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
        Command::Upstream(args) => upstream(global, args, json).await?,
        Command::Vulndb(cmd) => super::security::vulndb(&client(global)?, cmd, json).await?,
        Command::Vulnerabilities {
            package,
            severity,
            fixable,
        } => {
            super::security::vulnerabilities(&client(global)?, &package, severity, fixable, json)
                .await?;
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
    }
    Ok(ExitCode::SUCCESS)
}

async fn promote(
    global: &GlobalArgs,
    action: &str,
    args: crate::cli::PromoteArgs,
    json: bool,
) -> anyhow::Result<()> {
    let (owner, repo, slug) = split_package(&args.package)?;
    let client = client(global)?;
    let mut package = client
        .promote(action, owner, repo, slug, &args.destination, args.republish)
        .await?;
    if !args.no_wait {
        package = wait_for_sync(&client, &package, args.sync_attempts, json).await?;
    }
    if json {
        print_json(&package)?;
    } else {
        eprintln!(
            "{} {owner}/{repo}/{slug} → {}",
            if action == "copy" { "Copied" } else { "Moved" },
            package.repository
        );
        println!("{}", package.slug_perm);
    }
    Ok(())
}

async fn repos(global: &GlobalArgs, cmd: ReposCommand, json: bool) -> anyhow::Result<()> {
    let client = client(global)?;
    let show = |r: &Repository| -> anyhow::Result<()> {
        if json {
            print_json(r)
        } else {
            println!("{}", repo_line(r));
            Ok(())
        }
    };
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
            let repos = client.list_repos(&owner).await?;
            if json {
                print_json(&repos)?;
            } else {
                for r in &repos {
                    println!("{}", repo_line(r));
                }
            }
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
            if json {
                print_json(&serde_json::json!({ "deleted": repo }))?;
            } else {
                eprintln!("Deleted repository {repo}");
            }
        }
    }
    Ok(())
}

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

async fn webhooks(global: &GlobalArgs, cmd: WebhooksCommand, json: bool) -> anyhow::Result<()> {
    let client = client(global)?;
    let show = |v: &serde_json::Value| -> anyhow::Result<()> {
        if json {
            print_json(v)
        } else {
            println!("{}", webhook_line(v));
            Ok(())
        }
    };
    match cmd {
        WebhooksCommand::Create {
            repo,
            target_url,
            events,
            secret,
            package_query,
            header,
            inactive,
        } => {
            let (owner, name) = split_repo(&repo)?;
            let mut body = serde_json::json!({
                "target_url": target_url, "events": events, "is_active": !inactive,
            });
            if let Some(s) = secret {
                body["secret"] = s.into();
            }
            if let Some(q) = package_query {
                body["package_query"] = q.into();
            }
            if let Some(h) = header {
                body["extra_header"] = parse_header(&h)?;
            }
            show(&client.create_webhook(owner, name, &body).await?)?;
        }
        WebhooksCommand::Ls { repo } => {
            let (owner, name) = split_repo(&repo)?;
            let list = client.list_webhooks(owner, name).await?;
            if json {
                print_json(&list)?;
            } else {
                for w in &list {
                    println!("{}", webhook_line(w));
                }
            }
        }
        WebhooksCommand::Update {
            repo,
            id,
            target_url,
            events,
            secret,
            package_query,
            header,
            enable,
            disable,
        } => {
            let (owner, name) = split_repo(&repo)?;
            let mut body = serde_json::json!({});
            if let Some(u) = target_url {
                body["target_url"] = u.into();
            }
            if let Some(e) = events {
                body["events"] = e.into();
            }
            if let Some(s) = secret {
                body["secret"] = s.into();
            }
            if let Some(q) = package_query {
                body["package_query"] = q.into();
            }
            if let Some(h) = header {
                body["extra_header"] = parse_header(&h)?;
            }
            if enable || disable {
                body["is_active"] = enable.into();
            }
            show(&client.update_webhook(owner, name, id, &body).await?)?;
        }
        WebhooksCommand::Delete { repo, id } => {
            let (owner, name) = split_repo(&repo)?;
            client.delete_webhook(owner, name, id).await?;
            if json {
                print_json(&serde_json::json!({ "deleted": id }))?;
            } else {
                eprintln!("Deleted webhook {id}");
            }
        }
        WebhooksCommand::Ping { repo, id } => {
            let (owner, name) = split_repo(&repo)?;
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
        }
        WebhooksCommand::Deliveries { repo, id } => {
            let (owner, name) = split_repo(&repo)?;
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
        }
        WebhooksCommand::Redeliver { repo, id, delivery } => {
            let (owner, name) = split_repo(&repo)?;
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
        }
    }
    Ok(())
}

async fn upstream(
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
        UpstreamCommand::Create {
            repo,
            name,
            url,
            priority,
            mode,
            username,
            password,
            index_ttl_seconds,
            local_names_only,
        } => {
            let (owner, repo) = split_repo(&repo)?;
            let created = client
                .send_value(
                    "POST",
                    &format!("/api/v1/repos/{owner}/{repo}/upstreams"),
                    Some(&serde_json::json!({
                        "format": args.format, "name": name, "url": url, "priority": priority,
                        "mode": mode, "username": username, "password": password,
                        "index_ttl_seconds": index_ttl_seconds, "local_names_only": local_names_only,
                    })),
                )
                .await?;
            if json {
                print_json(&created)?;
            } else {
                println!("{}", line(&created));
            }
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
