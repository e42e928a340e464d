//! Python upstreams: a PEP 691 (JSON) or PEP 503 (HTML) simple index.

use std::sync::Arc;

use gantry_db::UpstreamRow;
use serde::{Deserialize, Serialize};

use crate::app::App;

/// Largest index page read from an upstream.
const MAX_PAGE: usize = 32 * 1024 * 1024;
/// Most files taken from one page.
const MAX_FILES: usize = 100_000;
const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";

/// A file an upstream offers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct RemoteFile {
    pub(crate) filename: String,
    pub(crate) url: String,
    pub(crate) sha256: Option<String>,
    pub(crate) requires_python: Option<String>,
    /// `Some(reason)` when yanked (the reason may be empty).
    pub(crate) yanked: Option<String>,
}

/// The files an upstream offers for `project` (normalised): fresh from the cache, fetched,
/// or — when the upstream fails — stale from the cache.
pub(crate) async fn project_files(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    project: &str,
) -> Result<Vec<RemoteFile>, String> {
    let cached = app
        .db
        .upstream_cache_get(upstream.id, project)
        .await
        .map_err(|e| e.to_string())?;
    let parse = |body: &str| serde_json::from_str::<Vec<RemoteFile>>(body).unwrap_or_default();
    if let Some((body, fetched_at)) = &cached {
        let age = gantry_core::time::now_millis() - fetched_at;
        if age < upstream.index_ttl_seconds.saturating_mul(1000) {
            return Ok(parse(body));
        }
    }
    match fetch(app, upstream, project).await {
        Ok(files) => {
            let body = serde_json::to_string(&files).map_err(|e| e.to_string())?;
            if let Err(e) = app.db.upstream_cache_put(upstream.id, project, &body).await {
                tracing::warn!(error = %e, "caching an upstream page failed");
            }
            Ok(files)
        }
        Err(error) => {
            app.metrics.upstream_failure(&upstream.name);
            tracing::warn!(upstream = %upstream.name, project, %error, stale = cached.is_some(), "upstream index fetch failed");
            match cached {
                Some((body, _)) => Ok(parse(&body)),
                None => Err(error),
            }
        }
    }
}

async fn fetch(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    project: &str,
) -> Result<Vec<RemoteFile>, String> {
    let page_url = format!("{}/{project}/", upstream.url.trim_end_matches('/'));
    let accept = format!("{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1");
    let document =
        gantry_protocol::upstream::fetch_document(app, upstream, &page_url, &accept, MAX_PAGE)
            .await?;
    let Some(document) = document else {
        return Ok(Vec::new());
    };
    let final_url = document.url;
    let is_json = document.content_type.is_some_and(|t| t.contains("json"));
    let text = String::from_utf8_lossy(&document.body);
    let mut files = if is_json {
        parse_json(&text, &final_url)?
    } else {
        parse_html(&text, &final_url)
    };
    files.truncate(MAX_FILES);
    Ok(files)
}

fn absolute(base: &str, href: &str) -> Option<String> {
    url::Url::parse(base)
        .ok()?
        .join(href)
        .ok()
        .map(|u| u.to_string())
}

fn split_fragment(url: &str) -> (String, Option<String>) {
    match url.split_once('#') {
        Some((u, frag)) => (
            u.to_owned(),
            frag.strip_prefix("sha256=").map(str::to_ascii_lowercase),
        ),
        None => (url.to_owned(), None),
    }
}

fn parse_json(text: &str, base: &str) -> Result<Vec<RemoteFile>, String> {
    let page: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON index page: {e}"))?;
    let files = page["files"].as_array().cloned().unwrap_or_default();
    Ok(files
        .iter()
        .filter_map(|f| {
            let filename = f["filename"].as_str()?.to_owned();
            let (url, frag_sha) = split_fragment(&absolute(base, f["url"].as_str()?)?);
            let yanked = match &f["yanked"] {
                serde_json::Value::Bool(true) => Some(String::new()),
                serde_json::Value::String(reason) => Some(reason.clone()),
                _ => None,
            };
            Some(RemoteFile {
                filename,
                url,
                sha256: f["hashes"]["sha256"]
                    .as_str()
                    .map(str::to_owned)
                    .or(frag_sha),
                requires_python: f["requires-python"].as_str().map(str::to_owned),
                yanked,
            })
        })
        .collect())
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Attributes of an HTML start tag's inside (`a href="…" data-x='…'`).
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = tag.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' {
            i += 1;
        }
        let name = tag[start..i].to_ascii_lowercase();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            let quote = bytes.get(i).copied();
            let value = if matches!(quote, Some(b'"' | b'\'')) {
                i += 1;
                let vstart = i;
                while i < bytes.len() && Some(bytes[i]) != quote {
                    i += 1;
                }
                let v = &tag[vstart..i.min(bytes.len())];
                i += 1;
                v
            } else {
                let vstart = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                &tag[vstart..i]
            };
            out.push((name, unescape(value)));
        } else if !name.is_empty() {
            out.push((name, String::new()));
        } else {
            i += 1;
        }
    }
    out
}

fn parse_html(text: &str, base: &str) -> Vec<RemoteFile> {
    let lower = text.to_ascii_lowercase();
    let mut files = Vec::new();
    let mut pos = 0;
    while let Some(found) = lower[pos..].find("<a") {
        let start = pos + found + 2;
        let Some(end) = lower[start..].find('>').map(|e| start + e) else {
            break;
        };
        let close = lower[end..].find("</a>").map_or(lower.len(), |c| end + c);
        let attrs = attributes(&text[start..end]);
        let label = unescape(text[end + 1..close].trim());
        pos = close.min(lower.len());
        if files.len() >= MAX_FILES {
            break;
        }
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let Some(href) = get("href") else { continue };
        let Some(full) = absolute(base, &href) else {
            continue;
        };
        let (url, sha256) = split_fragment(&full);
        let filename = if label.is_empty() {
            url.rsplit('/').next().unwrap_or_default().to_owned()
        } else {
            label
        };
        if crate::pure::parse_filename(&filename).is_err() {
            continue;
        }
        files.push(RemoteFile {
            filename,
            url,
            sha256,
            requires_python: get("data-requires-python"),
            yanked: get("data-yanked"),
        });
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_html_pages_with_relative_links() {
        let html = r#"<html><body><h1>Links for six</h1>
<a href="../../packages/six-1.16.0-py2.py3-none-any.whl#sha256=ABC" data-requires-python="&gt;=2.7">six-1.16.0-py2.py3-none-any.whl</a><br>
<A HREF='/files/six-1.15.0.tar.gz' data-yanked="">six-1.15.0.tar.gz</A>
<a href="https://elsewhere.invalid/x">not a distribution</a>
</body></html>"#;
        let files = parse_html(html, "http://127.0.0.1:1/simple/six/");
        assert_eq!(files.len(), 2);
        assert_eq!(
            files[0].url,
            "http://127.0.0.1:1/packages/six-1.16.0-py2.py3-none-any.whl"
        );
        assert_eq!(files[0].sha256.as_deref(), Some("abc"));
        assert_eq!(files[0].requires_python.as_deref(), Some(">=2.7"));
        assert_eq!(files[1].url, "http://127.0.0.1:1/files/six-1.15.0.tar.gz");
        assert_eq!(files[1].yanked.as_deref(), Some(""));
    }

    #[test]
    fn reads_json_pages() -> Result<(), String> {
        let json = r#"{"meta":{"api-version":"1.1"},"name":"six","files":[
            {"filename":"six-1.16.0-py2.py3-none-any.whl","url":"/f/six.whl","hashes":{"sha256":"aa"},"requires-python":">=2.7","yanked":"bad"}]}"#;
        let files = parse_json(json, "http://127.0.0.1:1/simple/six/")?;
        assert_eq!(files[0].url, "http://127.0.0.1:1/f/six.whl");
        assert_eq!(files[0].yanked.as_deref(), Some("bad"));
        assert!(parse_json("{", "http://x.invalid/").is_err());
        Ok(())
    }
}
