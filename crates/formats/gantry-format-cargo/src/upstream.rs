//! Cargo upstreams: another sparse index (`config.json` for the download template, one
//! index file per crate). Index files and the config are cached with the upstream's TTL and
//! served stale while it is down; `.crate` files are streamed through, and in `cache` mode
//! stored as packages on the way.

use std::sync::Arc;

use crate::pure::{index_path, normalize};
use axum::http::Method;
use axum::response::Response;
use gantry_db::{RepoRow, UpstreamRow};
use gantry_formats::Declared;
use gantry_protocol::upstream::cached_document;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

const FORMAT: &str = "cargo";
/// Largest index file or config read from an upstream.
const MAX_FILE: usize = 32 * 1024 * 1024;
/// Most versions taken from one index file.
const MAX_LINES: usize = 100_000;
/// Cache key of the upstream's `config.json` (crate names cannot contain a dot).
const CONFIG_KEY: &str = "config.json";

/// One version an upstream's index lists: its line as the upstream wrote it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct UpstreamLine {
    pub(crate) vers: String,
    pub(crate) cksum: Option<String>,
    pub(crate) json: String,
}

fn root(upstream: &UpstreamRow) -> String {
    upstream
        .url
        .strip_prefix("sparse+")
        .unwrap_or(&upstream.url)
        .trim_end_matches('/')
        .to_owned()
}

/// GETs a small document; `Ok(None)` on 404.
async fn get_text(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    url: &str,
) -> Result<Option<String>, String> {
    let Some(document) =
        gantry_protocol::upstream::fetch_document(app, upstream, url, "*/*", MAX_FILE).await?
    else {
        return Ok(None);
    };
    String::from_utf8(document.body)
        .map(Some)
        .map_err(|_| format!("{url} is not UTF-8"))
}

/// The versions an upstream's index lists for `name` (as the client spelled it).
pub(crate) async fn index_lines(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    name: &str,
) -> Result<Vec<UpstreamLine>, String> {
    if !crate::pure::valid_crate_name(name) {
        return Ok(Vec::new());
    }
    let lower = name.to_ascii_lowercase();
    let url = format!("{}/{}", root(upstream), index_path(&lower));
    let body = cached_document(app, upstream, &lower, || async {
        let text = get_text(app, upstream, &url).await?.unwrap_or_default();
        let lines = parse_index(&text, name);
        serde_json::to_string(&lines).map_err(|e| e.to_string())
    })
    .await?;
    Ok(serde_json::from_str(&body).unwrap_or_default())
}

/// The well-formed lines of an index file that are about `name`.
fn parse_index(text: &str, name: &str) -> Vec<UpstreamLine> {
    let wanted = normalize(name);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            let entry: serde_json::Value = serde_json::from_str(line).ok()?;
            let entry_name = entry["name"].as_str()?;
            let vers = entry["vers"].as_str()?;
            if normalize(entry_name) != wanted || crate::pure::Version::parse(vers).is_err() {
                return None;
            }
            Some(UpstreamLine {
                vers: vers.to_owned(),
                cksum: entry["cksum"].as_str().map(str::to_ascii_lowercase),
                // Re-serialised, so one line stays one line whatever the upstream sent.
                json: entry.to_string(),
            })
        })
        .take(MAX_LINES)
        .collect()
}

/// Where the upstream serves `name`@`version`, from its `config.json` download template.
async fn download_url(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    name: &str,
    version: &str,
    cksum: &str,
) -> Result<String, String> {
    let config_url = format!("{}/config.json", root(upstream));
    let body = cached_document(app, upstream, CONFIG_KEY, || async {
        get_text(app, upstream, &config_url)
            .await?
            .ok_or_else(|| format!("{config_url} not found"))
    })
    .await?;
    let config: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("{config_url} is not JSON: {e}"))?;
    let dl = config["dl"]
        .as_str()
        .ok_or_else(|| format!("{config_url} has no dl"))?;
    Ok(expand_dl(dl, name, version, cksum))
}

fn expand_dl(dl: &str, name: &str, version: &str, cksum: &str) -> String {
    let markers = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !markers.iter().any(|m| dl.contains(m)) {
        return format!("{}/{name}/{version}/download", dl.trim_end_matches('/'));
    }
    dl.replace("{crate}", name)
        .replace("{version}", version)
        .replace("{lowerprefix}", &prefix_of(&name.to_ascii_lowercase()))
        .replace("{prefix}", &prefix_of(name))
        .replace("{sha256-checksum}", cksum)
}

/// The directory part of a crate's index path, in the case of `name` (names are ASCII).
fn prefix_of(name: &str) -> String {
    match name.len() {
        0 => String::new(),
        1 => "1".into(),
        2 => "2".into(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    }
}

/// A `.crate` only an upstream has: the first upstream (by priority) whose index lists the
/// version serves it.
pub(crate) async fn download(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    repo: RepoRow,
    name: &str,
    version: &str,
) -> AppResult<Response> {
    let not_found = || {
        AppError::NotFound(format!(
            "crate {name}@{version} not found in {}",
            repo.slug()
        ))
    };
    let mut found = None;
    for upstream in app.db.list_upstreams(repo.id, Some(FORMAT)).await? {
        let Ok(lines) = index_lines(app, &upstream, name).await else {
            continue;
        };
        if let Some(line) = lines.into_iter().find(|l| l.vers == version) {
            found = Some((upstream, line));
            break;
        }
    }
    let (upstream, line) = found.ok_or_else(not_found)?;
    let cksum = line.cksum.clone().unwrap_or_default();
    let url = download_url(app, &upstream, name, version, &cksum)
        .await
        .map_err(|e| AppError::BadGateway(format!("upstream {} failed: {e}", upstream.name)))?;
    let file = gantry_protocol::upstream::RemoteFile {
        format: FORMAT,
        url,
        what: format!("{name}@{version}"),
        content_type: "application/x-tar",
        declared: Declared {
            filename: format!("{name}-{version}.crate"),
            ..Declared::default()
        },
        expected: gantry_protocol::upstream::Expected {
            sha256: line.cksum,
            ..Default::default()
        },
    };
    gantry_protocol::upstream::serve_file(Arc::clone(app), caller, repo, &upstream, method, file)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_download_templates() {
        assert_eq!(
            expand_dl("http://h/api/v1/crates", "serde", "1.0.0", "ab"),
            "http://h/api/v1/crates/serde/1.0.0/download"
        );
        assert_eq!(
            expand_dl(
                "http://h/{crate}/{version}/{sha256-checksum}",
                "a",
                "1.0.0",
                "ab"
            ),
            "http://h/a/1.0.0/ab"
        );
        assert_eq!(
            expand_dl(
                "http://h/{lowerprefix}/{prefix}/{crate}",
                "Serde",
                "1.0.0",
                ""
            ),
            "http://h/se/rd/Se/rd/Serde"
        );
        assert_eq!(
            expand_dl("http://h/{prefix}", "abc", "1.0.0", ""),
            "http://h/3/a"
        );
    }

    #[test]
    fn keeps_only_lines_about_the_crate() {
        let text = "{\"name\":\"demo\",\"vers\":\"1.0.0\",\"cksum\":\"AB\"}\n\nnot json\n{\"name\":\"other\",\"vers\":\"1.0.0\"}\n{\"name\":\"Demo\",\"vers\":\"x\"}\n";
        let lines = parse_index(text, "demo");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].cksum.as_deref(), Some("ab"));
    }
}
