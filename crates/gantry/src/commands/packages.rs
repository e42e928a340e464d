//! Package verbs: push, list, status, promotion, quarantine, yank, delete, restore, events,
//! and waiting for sync.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gantry_client::{Client, UploadOptions};
use gantry_core::{Event, Package};

use super::client::{client, print_json, split_package, split_repo};
use crate::cli::GlobalArgs;

/// How long `push`, `cp` and `mv` wait for sync before giving up.
const SYNC_TIMEOUT: Duration = Duration::from_secs(600);

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

/// Waits for the package's sync unless the command was told not to.
async fn settle(
    client: &Client,
    package: Package,
    wait: &crate::cli::SyncWait,
    json: bool,
) -> anyhow::Result<Package> {
    if wait.no_wait {
        return Ok(package);
    }
    wait_for_sync(client, &package, wait.sync_attempts, json).await
}

/// `gantry cp` and `gantry mv`.
pub(crate) async fn promote(
    global: &GlobalArgs,
    action: &str,
    args: crate::cli::PromoteArgs,
    json: bool,
) -> anyhow::Result<()> {
    let (owner, repo, slug) = split_package(&args.package)?;
    let client = client(global)?;
    let package = client
        .promote(action, owner, repo, slug, &args.destination, args.republish)
        .await?;
    let package = settle(&client, package, &args.wait, json).await?;
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

/// `gantry resync`: re-run processing and wait for it.
pub(crate) async fn resync(
    global: &GlobalArgs,
    args: crate::cli::ResyncArgs,
    json: bool,
) -> anyhow::Result<()> {
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
    Ok(())
}

/// `gantry push`: stream a file up, with a progress bar on a terminal, and wait for sync.
pub(crate) async fn push(
    global: &GlobalArgs,
    args: crate::cli::PushArgs,
    json: bool,
) -> anyhow::Result<()> {
    if let Some(native) = gantry_server::native_push(&args.format) {
        return push_natively(global, native, &args, json).await;
    }
    // A directory is packed by its format into a temporary file, uploaded in its place.
    let (args, _packed) = pack_directory(args)?;
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
        attributes: upload_attributes(&args.distributions, &args.components),
        progress: Some(super::progress::reporter(&bar)),
    };
    let uploaded = client
        .upload(&args.format, owner, repo, &args.file, &options)
        .await;
    bar.finish_and_clear();
    let package = settle(&client, uploaded?, &args.wait, json).await?;
    if json {
        print_json(&package)?;
    } else {
        eprintln!("Created {}", describe(&package));
        // Checksums the format's client records (go: the go.sum lines), to compare with.
        for line in package.metadata["checksum_lines"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(line) = line.as_str() {
                eprintln!("  {line}");
            }
        }
        println!("{}", package.slug_perm);
    }
    Ok(())
}

/// A push through the format's own protocol (see [`gantry_client::push`]).
async fn push_natively(
    global: &GlobalArgs,
    native: gantry_client::push::NativePush,
    args: &crate::cli::PushArgs,
    json: bool,
) -> anyhow::Result<()> {
    let (owner, repo) = split_repo(&args.repo)?;
    let client = client(global)?;
    let request = gantry_client::push::PushRequest {
        owner,
        repo,
        source: &args.file,
        name: args.name.as_deref(),
        companion: args.pom.as_deref(),
    };
    let pushed = native(&client, request).await?;
    if json {
        print_json(&pushed.package)?;
    } else {
        eprintln!("{}", pushed.summary);
        println!("{}", pushed.package.slug_perm);
    }
    Ok(())
}

/// When `args.file` is a directory: its format packs it into a temporary file, and the
/// arguments name that file and what the packing declared. The file lives as long as the
/// returned guard.
fn pack_directory(
    mut args: crate::cli::PushArgs,
) -> anyhow::Result<(crate::cli::PushArgs, Option<tempfile::NamedTempFile>)> {
    if !args.file.is_dir() {
        return Ok((args, None));
    }
    let format = gantry_server::format(&args.format)
        .with_context(|| format!("unknown format '{}'", args.format))?;
    let mut packed = tempfile::NamedTempFile::new().context("cannot create a temporary file")?;
    let declared = gantry_formats::Declared {
        name: args.name.take(),
        version: args.version.take(),
        filename: String::new(),
        ..Default::default()
    };
    let declared = format
        .pack_directory(&args.file, &declared, packed.as_file_mut())
        .with_context(|| {
            format!(
                "{} is a directory, and the {} format uploads files only",
                args.file.display(),
                args.format
            )
        })?
        .with_context(|| format!("cannot pack {}", args.file.display()))?;
    eprintln!(
        "Packed {} as {} {}",
        args.file.display(),
        declared.name.as_deref().unwrap_or("?"),
        declared.version.as_deref().unwrap_or("?")
    );
    args.file = packed.path().to_path_buf();
    args.name = declared.name;
    args.version = declared.version;
    args.filename = Some(declared.filename);
    Ok((args, Some(packed)))
}

/// `gantry ls pkgs`: one page of a repository's packages.
pub(crate) async fn list(
    global: &GlobalArgs,
    repo: &str,
    query: Option<&str>,
    (page, page_size): (i64, i64),
    json: bool,
) -> anyhow::Result<()> {
    let (owner, repo) = split_repo(repo)?;
    let result = client(global)?
        .list_packages(owner, repo, query, page, page_size)
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
    Ok(())
}

/// `gantry status`.
pub(crate) async fn status(
    global: &GlobalArgs,
    r: crate::cli::PackageRef,
    json: bool,
) -> anyhow::Result<()> {
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
    Ok(())
}

/// `gantry quarantine add|remove`.
pub(crate) async fn quarantine(
    global: &GlobalArgs,
    cmd: crate::cli::QuarantineCommand,
    json: bool,
) -> anyhow::Result<()> {
    let (package, reason, release) = match cmd {
        crate::cli::QuarantineCommand::Add { package, reason } => (package, reason, false),
        crate::cli::QuarantineCommand::Remove { package, reason } => (package, reason, true),
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
    Ok(())
}

/// `gantry yank [--undo]`.
pub(crate) async fn yank(
    global: &GlobalArgs,
    package: &str,
    reason: Option<String>,
    undo: bool,
    json: bool,
) -> anyhow::Result<()> {
    let (owner, repo, slug) = split_package(package)?;
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
    Ok(())
}

/// `gantry promote`: bulk, all or nothing; a refusal lists every package's reason.
pub(crate) async fn bulk_promote(
    global: &GlobalArgs,
    args: crate::cli::BulkPromoteArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let crate::cli::BulkPromoteArgs {
        source,
        destination,
        query,
        slugs,
        move_,
        dry_run,
        republish,
    } = args;
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
    Ok(ExitCode::SUCCESS)
}

/// `gantry delete`: a soft delete.
pub(crate) async fn delete(
    global: &GlobalArgs,
    r: crate::cli::PackageRef,
    json: bool,
) -> anyhow::Result<()> {
    let (owner, repo, slug) = split_package(&r.package)?;
    client(global)?.delete_package(owner, repo, slug).await?;
    if json {
        print_json(&serde_json::json!({ "deleted": slug }))?;
    } else {
        eprintln!("Deleted {slug} (restorable with `gantry restore`)");
    }
    Ok(())
}

/// `gantry restore`.
pub(crate) async fn restore(
    global: &GlobalArgs,
    r: crate::cli::PackageRef,
    json: bool,
) -> anyhow::Result<()> {
    let (owner, repo, slug) = split_package(&r.package)?;
    let package = client(global)?.restore_package(owner, repo, slug).await?;
    if json {
        print_json(&package)?;
    } else {
        println!("{}", describe(&package));
    }
    Ok(())
}

/// `gantry events`: the provenance trail.
pub(crate) async fn events(
    global: &GlobalArgs,
    r: crate::cli::PackageRef,
    json: bool,
) -> anyhow::Result<()> {
    let (owner, repo, slug) = split_package(&r.package)?;
    let events = client(global)?.events(owner, repo, slug).await?;
    if json {
        print_json(&events)?;
    } else {
        for e in &events {
            println!("{}", event_line(e));
        }
    }
    Ok(())
}

/// The format-specific upload parameters given as flags (deb: where the package is listed).
fn upload_attributes(distributions: &[String], components: &[String]) -> Vec<(String, String)> {
    let mut attributes = Vec::new();
    if !distributions.is_empty() {
        attributes.push(("distribution".to_owned(), distributions.join(",")));
    }
    if !components.is_empty() {
        attributes.push(("component".to_owned(), components.join(",")));
    }
    attributes
}
