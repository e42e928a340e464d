//! RubyGems upstreams: another server's compact index (another Gantry's
//! `/{owner}/{repo}/rubygems`). `/versions` and `/info/NAME` are kept with the upstream's TTL
//! and served stale while it is down; `.gem` files are streamed through, and in `cache` mode
//! stored as packages on the way (checked like any upload, and against the checksum the
//! upstream's `/info` gave). Nothing Marshal is read from an upstream.

use std::sync::Arc;

use axum::http::Method;
use axum::response::Response;
use gantry_db::{RepoRow, UpstreamRow};
use gantry_formats::Declared;
use gantry_protocol::upstream::{url_under, TextDocuments};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::pure::index::VersionsLine;
use crate::pure::names::{check_name, is_version};

/// `/versions`, at most 64 MiB.
const VERSIONS_DOC: TextDocuments = TextDocuments {
    accept: "text/plain",
    max: 64 << 20,
};
/// `/info/NAME`, at most 8 MiB.
const INFO_DOC: TextDocuments = TextDocuments {
    accept: "text/plain",
    max: 8 << 20,
};
/// Most gems taken from one upstream's `/versions`.
const MAX_GEMS: usize = 500_000;

/// One `/versions` line, checked: a valid name, versions and a hex MD5.
fn versions_line(line: &str) -> Option<VersionsLine> {
    let mut parts = line.split(' ');
    let (name, versions, md5) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || check_name(name).is_err() {
        return None;
    }
    let md5_ok = md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit());
    let versions: Vec<String> = versions
        .split(',')
        .filter(|v| !v.starts_with('-'))
        .filter(|v| is_version(v.split('-').next().unwrap_or("")))
        .map(str::to_owned)
        .collect();
    (md5_ok && !versions.is_empty()).then(|| VersionsLine {
        name: name.to_owned(),
        versions,
        info_md5: md5.to_ascii_lowercase(),
    })
}

/// Reads a `/versions` document. An append-only one (as the public index is) may list a gem
/// more than once; its last line stands.
pub(crate) fn parse_versions(body: &str) -> Vec<VersionsLine> {
    let after_header = body.split_once("---\n").map_or(body, |(_, rest)| rest);
    let mut by_name: std::collections::HashMap<String, VersionsLine> =
        std::collections::HashMap::new();
    for line in after_header.lines().filter_map(versions_line) {
        if by_name.len() >= MAX_GEMS && !by_name.contains_key(&line.name) {
            break;
        }
        by_name.insert(line.name.clone(), line);
    }
    by_name.into_values().collect()
}

/// The gems the upstream lists.
pub(crate) async fn versions(
    app: &Arc<App>,
    upstream: &UpstreamRow,
) -> Result<Vec<VersionsLine>, String> {
    let body = VERSIONS_DOC
        .get(app, upstream, "versions", &url_under(upstream, "versions"))
        .await?;
    Ok(body.as_deref().map(parse_versions).unwrap_or_default())
}

/// The upstream's `/info/NAME`, if it has the gem; lines that do not read as info lines
/// are left out.
pub(crate) async fn info(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    name: &str,
) -> Result<Option<String>, String> {
    let url = url_under(upstream, &format!("info/{name}"));
    let body = INFO_DOC
        .get(app, upstream, &format!("info|{name}"), &url)
        .await?;
    Ok(body.map(|b| {
        let mut out = String::from("---\n");
        for line in b.lines().filter(|l| info_checksum(l).is_some()) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }))
}

/// `(VERSION[-PLATFORM], sha256)` of an info line.
fn info_checksum(line: &str) -> Option<(&str, &str)> {
    let (version_platform, rest) = line.split_once(' ')?;
    if !is_version(version_platform.split('-').next()?) {
        return None;
    }
    let requirements = rest.split_once('|')?.1;
    let sha = requirements
        .split(',')
        .find_map(|r| r.strip_prefix("checksum:"))?;
    let ok = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some((version_platform, sha))
}

/// Streams the upstream's `.gem` of a file stem: the first upstream whose `/info` lists it
/// serves it, checked against the checksum listed there.
pub(crate) async fn gem(
    app: &Arc<App>,
    caller: &Caller,
    method: &Method,
    repo: RepoRow,
    stem: &str,
) -> AppResult<Response> {
    let upstreams = gantry_protocol::caches::upstreams(app, repo.id, crate::routes::FORMAT).await?;
    let mut failures = Vec::new();
    for upstream in upstreams.iter() {
        for (name, version, platform) in crate::routes::readings(stem) {
            let wanted = if platform.is_empty() {
                version.to_owned()
            } else {
                format!("{version}-{platform}")
            };
            let body = match info(app, upstream, name).await {
                Ok(Some(body)) => body,
                Ok(None) => continue,
                Err(e) => {
                    failures.push(format!("{}: {e}", upstream.name));
                    continue;
                }
            };
            let Some(sha) = body
                .lines()
                .filter_map(info_checksum)
                .find(|(vp, _)| *vp == wanted)
                .map(|(_, sha)| sha.to_ascii_lowercase())
            else {
                continue;
            };
            let file = gantry_protocol::upstream::RemoteFile {
                format: crate::routes::FORMAT,
                url: url_under(upstream, &format!("gems/{stem}.gem")),
                what: format!("{stem}.gem"),
                content_type: "application/octet-stream",
                declared: Declared {
                    name: Some(name.to_owned()),
                    version: Some(version.to_owned()),
                    filename: format!("{stem}.gem"),
                    ..Declared::default()
                },
                expected: gantry_protocol::upstream::Expected {
                    sha256: Some(sha),
                    ..Default::default()
                },
            };
            return gantry_protocol::upstream::serve_file(
                Arc::clone(app),
                caller,
                repo,
                upstream,
                method,
                file,
            )
            .await;
        }
    }
    let what = format!("{stem}.gem not found in {}", repo.slug());
    if failures.is_empty() {
        return Err(AppError::NotFound(what));
    }
    Err(AppError::BadGateway(format!(
        "{what}, and its upstreams failed: {}",
        failures.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_documents_are_read_line_by_line_and_checked() {
        let md5 = "0123456789abcdef0123456789abcdef";
        let body = format!(
            "created_at: 2024-01-01T00:00:00Z\n---\nrack 1.0,2.0-java {md5}\n../x 1.0 {md5}\nrack 3.0 {md5}\nbad 1.0 nothex\n"
        );
        let lines = parse_versions(&body);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].versions, ["3.0"]);
        let sha = "a".repeat(64);
        assert_eq!(
            info_checksum(&format!("1.0-java dep:>= 1|checksum:{sha},ruby:>= 2")),
            Some(("1.0-java", sha.as_str()))
        );
        assert_eq!(info_checksum("1.0 |checksum:short"), None);
        assert_eq!(info_checksum("---"), None);
    }
}
