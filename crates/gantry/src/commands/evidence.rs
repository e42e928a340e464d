//! `gantry sbom` (a package's or a repository's CycloneDX document on stdout), `gantry keys`
//! `gantry verify` (a package's signed chain, checked offline) and `gantry retention`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use gantry_attest::{verify_chain, Envelope, Location, PublicKey};
use gantry_client::Client;
use serde_json::{json, Value};

use super::client::{print_json, show, show_each, split_package, split_repo};
use crate::cli::{KeysCommand, RetentionCommand, SbomArgs, VerifyArgs};

pub(crate) async fn sbom(client: &Client, args: SbomArgs) -> anyhow::Result<()> {
    let parts: Vec<&str> = args.target.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        anyhow::bail!("'{}' must be OWNER/REPO/SLUG or OWNER/REPO", args.target);
    }
    let doc = match parts.as_slice() {
        [owner, repo, slug] => {
            if args.query.is_some() {
                anyhow::bail!("--query selects packages of a repository: name OWNER/REPO");
            }
            client
                .get_value(&format!("/api/v1/packages/{owner}/{repo}/{slug}/sbom"), &[])
                .await?
        }
        [owner, repo] => {
            let query: Vec<(&str, String)> = args.query.into_iter().map(|q| ("query", q)).collect();
            client
                .get_value(&format!("/api/v1/repos/{owner}/{repo}/sbom"), &query)
                .await?
        }
        _ => anyhow::bail!("'{}' must be OWNER/REPO/SLUG or OWNER/REPO", args.target),
    };
    print_json(&doc)
}

/// `gantry keys ls|rotate`.
pub(crate) async fn keys(client: &Client, cmd: KeysCommand) -> anyhow::Result<()> {
    let doc = match cmd {
        KeysCommand::Ls => client.get_value("/api/v1/keys", &[]).await?,
        KeysCommand::Rotate => {
            let doc = client
                .send_value("POST", "/api/v1/keys/rotate", None)
                .await?;
            eprintln!("Rotated the signing key; the old one still verifies what it signed");
            doc
        }
    };
    print_json(&doc)
}

/// The public keys to trust: from `--key FILE` (the `{"keys": […]}` document, a list of
/// keys, or one key), else the server's, saying so.
async fn trusted_keys(client: &Client, file: Option<&Path>) -> anyhow::Result<Vec<PublicKey>> {
    let doc: Value = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the key file {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a JSON key document", path.display()))?
        }
        None => {
            eprintln!(
                "Trusting the keys {} publishes (pass --key FILE to trust only a saved key)",
                client.base_url()
            );
            client.get_value("/api/v1/keys", &[]).await?
        }
    };
    let list = match doc {
        Value::Object(ref o) if o.contains_key("keys") => doc["keys"].clone(),
        Value::Array(_) => doc,
        one => Value::Array(vec![one]),
    };
    let keys: Vec<PublicKey> =
        serde_json::from_value(list).context("the key document does not hold public keys")?;
    if keys.is_empty() {
        anyhow::bail!("no keys to trust");
    }
    Ok(keys)
}

/// `gantry verify OWNER/REPO/SLUG [--key FILE]`: downloads the package's file and its
/// attestations and checks the chain offline. Exit 1 names the failing step.
pub(crate) async fn verify(
    client: &Client,
    args: VerifyArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (owner, repo, slug) = split_package(&args.package)?;
    let keys = trusted_keys(client, args.key.as_deref()).await?;
    let package = client
        .get_value(&format!("/api/v1/packages/{owner}/{repo}/{slug}"), &[])
        .await?;
    let primary = package["checksum_sha256"].as_str().unwrap_or_default();
    let url = package["files"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["checksum_sha256"].as_str() == Some(primary))
        .and_then(|f| f["download_url"].as_str())
        .ok_or_else(|| anyhow::anyhow!("the package lists no file to download"))?;
    let served = client
        .download_sha256(url)
        .await
        .context("downloading the package's file")?;
    let doc = client
        .get_value(
            &format!("/api/v1/packages/{owner}/{repo}/{slug}/attestations"),
            &[],
        )
        .await?;
    let envelopes: Vec<Envelope> = serde_json::from_value(doc["attestations"].clone())
        .context("the server's attestations are not DSSE envelopes")?;
    let target = Location {
        repository: format!("{owner}/{repo}"),
        slug_perm: slug.to_owned(),
    };
    match verify_chain(&envelopes, &keys, &target, Some(&served)) {
        Ok(steps) => {
            if json {
                let list: Vec<Value> = steps
                    .iter()
                    .map(|s| json!({"step": s.step, "keyid": s.keyid}))
                    .collect();
                print_json(&json!({"verified": true, "sha256": served, "steps": list}))?;
            } else {
                for (i, s) in steps.iter().enumerate() {
                    println!(
                        "{}. {} by {} at {} (gate {}, signed by {}…)",
                        i + 1,
                        s.step.describe(),
                        s.step.actor,
                        s.step.time,
                        s.step.gate,
                        s.keyid.get(..12).unwrap_or(&s.keyid)
                    );
                }
                println!("verified: the bytes at {target} (sha256 {served}) are the bytes uploaded, through {} signed steps", steps.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                print_json(
                    &json!({"verified": false, "step": e.step, "what": e.what, "reason": e.reason}),
                )?;
            }
            eprintln!("verification failed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `gantry retention create|ls|delete|run`.
pub(crate) async fn retention(
    client: &Client,
    cmd: RetentionCommand,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        RetentionCommand::Create {
            repo,
            name,
            keep_last,
            older_than_days,
            query,
            include_promoted,
        } => {
            let (owner, repo) = split_repo(&repo)?;
            let body = json!({
                "name": name, "keep_last": keep_last, "older_than_days": older_than_days,
                "query": query, "protect_promoted": !include_promoted,
            });
            let rule = client
                .send_value(
                    "POST",
                    &format!("/api/v1/repos/{owner}/{repo}/retention"),
                    Some(&body),
                )
                .await?;
            show(json, &rule, rule_line)
        }
        RetentionCommand::Ls { repo } => {
            let (owner, repo) = split_repo(&repo)?;
            let rules = client
                .get_value(&format!("/api/v1/repos/{owner}/{repo}/retention"), &[])
                .await?;
            let list = rules.as_array().cloned().unwrap_or_default();
            show_each(json, &list, rule_line)
        }
        RetentionCommand::Delete { repo, id } => {
            let (owner, repo) = split_repo(&repo)?;
            client
                .send_value(
                    "DELETE",
                    &format!("/api/v1/repos/{owner}/{repo}/retention/{id}"),
                    None,
                )
                .await?;
            eprintln!("Deleted retention rule {id} of {owner}/{repo}");
            Ok(())
        }
        RetentionCommand::Run { repo, dry_run } => {
            let (owner, repo) = split_repo(&repo)?;
            let result = client
                .send_value(
                    "POST",
                    &format!("/api/v1/repos/{owner}/{repo}/retention/run"),
                    Some(&json!({ "dry_run": dry_run })),
                )
                .await?;
            if json {
                return print_json(&result);
            }
            let packages = result["packages"].as_array().cloned().unwrap_or_default();
            for p in &packages {
                println!(
                    "{} {} {} {} — {} ({})",
                    p["slug_perm"].as_str().unwrap_or("?"),
                    p["format"].as_str().unwrap_or("?"),
                    p["name"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("?"),
                    p["reason"].as_str().unwrap_or(""),
                    p["rule"].as_str().unwrap_or(""),
                );
            }
            let verb = if dry_run { "would delete" } else { "deleted" };
            eprintln!("{verb} {} package(s)", packages.len());
            Ok(())
        }
    }
}

fn rule_line(r: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(n) = r["keep_last"].as_i64() {
        parts.push(format!("keep last {n}"));
    }
    if let Some(d) = r["older_than_days"].as_i64() {
        parts.push(format!("older than {d} days"));
    }
    let query = r["query"].as_str().filter(|q| !q.is_empty());
    format!(
        "{:>4} {} — {}{}{}",
        r["id"],
        r["name"].as_str().unwrap_or("?"),
        parts.join(", "),
        query.map(|q| format!(" of {q}")).unwrap_or_default(),
        if r["protect_promoted"] == true {
            ", promoted ones kept"
        } else {
            ""
        }
    )
}
