//! npm upstreams: another registry's packuments, cached per package name.

use std::collections::BTreeMap;
use std::sync::Arc;

use gantry_db::UpstreamRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::App;

/// Largest packument read from an upstream.
const MAX_PACKUMENT: usize = 64 * 1024 * 1024;
/// Most versions taken from one packument.
const MAX_VERSIONS: usize = 50_000;

/// What an upstream says about one package: its versions (each a version document with
/// `dist`), dist-tags and publish times.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct RemotePackument {
    #[serde(default)]
    pub(crate) dist_tags: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) versions: BTreeMap<String, Value>,
    #[serde(default)]
    pub(crate) time: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

/// The name as one URL path segment (`@scope/name` → `@scope%2fname`).
pub(crate) fn escape_name(name: &str) -> String {
    name.replace('/', "%2f")
}

/// The upstream's packument of `name`: fresh from the cache, fetched, or — when the upstream
/// fails — stale from the cache. Also returns when it was fetched (for validators).
pub(crate) async fn packument(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    name: &str,
) -> Result<(RemotePackument, i64), String> {
    let cached = app
        .db
        .upstream_cache_get(upstream.id, name)
        .await
        .map_err(|e| e.to_string())?;
    let parse = |body: &str| serde_json::from_str::<RemotePackument>(body).unwrap_or_default();
    if let Some((body, fetched_at)) = &cached {
        let age = gantry_core::time::now_millis() - fetched_at;
        if age < upstream.index_ttl_seconds.saturating_mul(1000) {
            return Ok((parse(body), *fetched_at));
        }
    }
    match fetch(app, upstream, name).await {
        Ok(remote) => {
            let body = serde_json::to_string(&remote).map_err(|e| e.to_string())?;
            if let Err(e) = app.db.upstream_cache_put(upstream.id, name, &body).await {
                tracing::warn!(error = %e, "caching an upstream packument failed");
            }
            Ok((remote, gantry_core::time::now_millis()))
        }
        Err(error) => {
            app.metrics.upstream_failure(&upstream.name);
            tracing::warn!(upstream = %upstream.name, name, %error, stale = cached.is_some(), "upstream packument fetch failed");
            match cached {
                Some((body, fetched_at)) => Ok((parse(&body), fetched_at)),
                None => Err(error),
            }
        }
    }
}

async fn fetch(
    app: &Arc<App>,
    upstream: &UpstreamRow,
    name: &str,
) -> Result<RemotePackument, String> {
    let url = format!(
        "{}/{}",
        upstream.url.trim_end_matches('/'),
        escape_name(name)
    );
    let document = gantry_protocol::upstream::fetch_document(
        app,
        upstream,
        &url,
        "application/json",
        MAX_PACKUMENT,
    )
    .await?;
    let Some(document) = document else {
        return Ok(RemotePackument::default());
    };
    parse(&document.body, name).map_err(|e| format!("{url}: {e}"))
}

/// Reads a packument, keeping versions whose `dist` names a tarball.
pub(crate) fn parse(body: &[u8], name: &str) -> Result<RemotePackument, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("invalid packument: {e}"))?;
    if doc
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| n != name)
    {
        return Err(format!("the packument is of another package than {name}"));
    }
    let string_map = |v: &Value| -> BTreeMap<String, String> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut versions = BTreeMap::new();
    if let Some(all) = doc.get("versions").and_then(Value::as_object) {
        for (version, document) in all.iter().take(MAX_VERSIONS) {
            let Ok(normal) = crate::pure::normalize_version(version) else {
                continue;
            };
            if normal != *version
                || document["dist"]["tarball"].as_str().is_none()
                || !document.is_object()
            {
                continue;
            }
            versions.insert(version.clone(), document.clone());
        }
    }
    Ok(RemotePackument {
        dist_tags: string_map(&doc["dist-tags"]),
        versions,
        time: string_map(&doc["time"]),
        description: doc["description"].as_str().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_packuments() -> Result<(), String> {
        let body = br#"{"name":"@s/a","dist-tags":{"latest":"1.0.0"},"versions":{
            "1.0.0":{"name":"@s/a","version":"1.0.0","dist":{"tarball":"http://127.0.0.1:1/a.tgz","integrity":"sha512-x"}},
            "not-semver":{"dist":{"tarball":"x"}},
            "2.0.0":{"name":"@s/a","version":"2.0.0"}},"time":{"1.0.0":"2020-01-01T00:00:00.000Z"}}"#;
        let p = parse(body, "@s/a")?;
        assert_eq!(p.versions.len(), 1);
        assert_eq!(p.dist_tags["latest"], "1.0.0");
        assert!(parse(body, "other").is_err());
        assert!(parse(b"{", "a").is_err());
        assert_eq!(escape_name("@s/a"), "@s%2fa");
        Ok(())
    }
}
