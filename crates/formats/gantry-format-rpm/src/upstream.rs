//! RPM upstreams: another yum/dnf repository (its base URL), whose packages are listed in
//! this repository's repodata beside the local ones. Its `repomd.xml` and `primary` are read
//! with the toolkit's upstream client (outbound rules, pinned address, credentials only to
//! its origin), the primary's checksum checked against `repomd.xml`, and the packages kept in
//! the upstream's index cache: fresh for the upstream's TTL, stale while it is unreachable.
//! Within the TTL a server answers from memory.

use std::io::Read;
use std::sync::Arc;

use gantry_db::UpstreamRow;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::pure::remote::{self, RemotePackage};

/// Largest `repomd.xml` read.
const MAX_REPOMD: usize = 1024 * 1024;
/// Largest compressed `primary` read.
const MAX_PRIMARY_GZ: usize = 64 * 1024 * 1024;
/// Largest `primary` once decompressed.
const MAX_PRIMARY: u64 = 512 * 1024 * 1024;
const CACHE_KEY: &str = "rpm-primary";

/// An upstream's packages and a digest of them (part of the repodata's fingerprint).
pub(crate) type Remote = gantry_protocol::upstream::Held<Vec<RemotePackage>>;

/// The packages `upstream` lists: from memory within its TTL, else from its index cache or
/// fetched (stale on an outage).
pub(crate) async fn packages(app: &App, upstream: &UpstreamRow) -> Result<Arc<Remote>, String> {
    gantry_protocol::upstream::held_document(app, upstream, CACHE_KEY, || fetch(app, upstream))
        .await
}

/// Where the upstream serves `href`.
pub(crate) fn url_of(upstream: &UpstreamRow, href: &str) -> String {
    format!("{}/{href}", upstream.url.trim_end_matches('/'))
}

async fn fetch(app: &App, upstream: &UpstreamRow) -> Result<String, String> {
    let repomd_url = url_of(upstream, "repodata/repomd.xml");
    let repomd = gantry_protocol::upstream::fetch_document(
        app,
        upstream,
        &repomd_url,
        "application/xml",
        MAX_REPOMD,
    )
    .await?
    .ok_or_else(|| format!("{repomd_url} not found"))?;
    let repomd = String::from_utf8_lossy(&repomd.body).into_owned();
    let (href, sha256) = remote::primary_location(&repomd).map_err(|e| e.to_string())?;
    let primary_url = url_of(upstream, &href);
    let primary = gantry_protocol::upstream::fetch_document(
        app,
        upstream,
        &primary_url,
        "*/*",
        MAX_PRIMARY_GZ,
    )
    .await?
    .ok_or_else(|| format!("{primary_url} not found"))?;
    let got = hex::encode(Sha256::digest(&primary.body));
    if !got.eq_ignore_ascii_case(&sha256) {
        return Err(format!(
            "{primary_url} has sha256 {got}, repomd.xml says {sha256}"
        ));
    }
    tokio::task::spawn_blocking(move || read_primary(&href, &primary.body))
        .await
        .map_err(|e| e.to_string())?
}

/// The packages of a (compressed) primary, as the JSON kept in the index cache.
fn read_primary(href: &str, bytes: &[u8]) -> Result<String, String> {
    let mut xml = String::new();
    let reader: Box<dyn Read + '_> = if href.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(bytes))
    } else if href.ends_with(".xml") {
        Box::new(bytes)
    } else {
        return Err(format!(
            "{href}: only gzip or plain primary documents are read"
        ));
    };
    reader
        .take(MAX_PRIMARY + 1)
        .read_to_string(&mut xml)
        .map_err(|e| format!("{href}: {e}"))?;
    if xml.len() as u64 > MAX_PRIMARY {
        return Err(format!(
            "{href} is larger than {MAX_PRIMARY} bytes decompressed"
        ));
    }
    let packages = remote::parse_primary(&xml).map_err(|e| e.to_string())?;
    serde_json::to_string(&packages).map_err(|e| e.to_string())
}
