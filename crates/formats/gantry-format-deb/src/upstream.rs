//! Debian upstreams: another apt repository (its base URL, the directory holding `dists/` and
//! `pool/`). For each distribution a client asks this repository for, the upstream's
//! `dists/<dist>/Release` of the same name is read, then every `Packages` index it names for
//! its components and architectures, each checked against the sha256 and size the `Release`
//! gives. All reads use the toolkit's upstream client (outbound rules, pinned address,
//! credentials only to its origin); the packages are kept in the upstream's index cache:
//! fresh for its TTL, stale while it is unreachable. Within the TTL a server answers from
//! memory.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use gantry_db::UpstreamRow;
use gantry_protocol::app::App;
use sha2::{Digest, Sha256};

use crate::pure::remote::{self, RemoteDeb};

/// Largest `Release` read.
const MAX_RELEASE: usize = 4 * 1024 * 1024;
/// Largest compressed `Packages` read.
const MAX_PACKAGES_COMPRESSED: usize = 64 * 1024 * 1024;
/// Largest `Packages` once decompressed.
const MAX_PACKAGES_TEXT: u64 = 512 * 1024 * 1024;
/// An upstream distribution's packages, with a digest of them (part of the generation's
/// validator).
pub(crate) type Remote = gantry_protocol::upstream::Held<Vec<RemoteDeb>>;

/// The packages `upstream` lists in `dist`: from memory within its TTL, else from its index
/// cache or fetched (stale on an outage). A distribution the upstream does not have lists
/// nothing.
pub(crate) async fn packages(
    app: &App,
    upstream: &UpstreamRow,
    dist: &str,
) -> Result<Arc<Remote>, String> {
    let key = format!("deb-dist:{dist}");
    gantry_protocol::upstream::held_document(app, upstream, &key, || fetch(app, upstream, dist))
        .await
}

/// Where the upstream serves `path`.
pub(crate) fn url_of(upstream: &UpstreamRow, path: &str) -> String {
    format!("{}/{path}", upstream.url.trim_end_matches('/'))
}

async fn fetch(app: &App, upstream: &UpstreamRow, dist: &str) -> Result<String, String> {
    let release_url = url_of(upstream, &format!("dists/{dist}/Release"));
    let Some(release) = gantry_protocol::upstream::fetch_document(
        app,
        upstream,
        &release_url,
        "text/plain",
        MAX_RELEASE,
    )
    .await?
    else {
        // The upstream has no such distribution: nothing to list, kept for the TTL.
        return Ok("[]".to_owned());
    };
    let text = String::from_utf8_lossy(&release.body);
    let release = remote::parse_release(remote::signed_text(&text))
        .map_err(|e| format!("{release_url}: {e}"))?;
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    for (component, _arch, index) in release.indexes {
        let url = url_of(upstream, &format!("dists/{dist}/{}", index.path));
        let document = gantry_protocol::upstream::fetch_document(
            app,
            upstream,
            &url,
            "*/*",
            MAX_PACKAGES_COMPRESSED,
        )
        .await?
        .ok_or_else(|| format!("{url} is named by the Release but not found"))?;
        let got = hex::encode(Sha256::digest(&document.body));
        if got != index.sha256 || document.body.len() as u64 != index.size {
            return Err(format!(
                "{url} has sha256 {got} and {} bytes, the Release says {} and {}",
                document.body.len(),
                index.sha256,
                index.size
            ));
        }
        let path = index.path.clone();
        let text = tokio::task::spawn_blocking(move || decompress(&path, &document.body))
            .await
            .map_err(|e| e.to_string())??;
        remote::add_packages(&text, &component, &mut out, &mut seen)
            .map_err(|e| format!("{url}: {e}"))?;
    }
    serde_json::to_string(&out).map_err(|e| e.to_string())
}

/// A `Packages` index as text, decompressed under a bound.
fn decompress(path: &str, bytes: &[u8]) -> Result<String, String> {
    let reader: Box<dyn Read + '_> = if path.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(bytes))
    } else if path.ends_with(".xz") {
        Box::new(liblzma::read::XzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };
    let mut text = String::new();
    reader
        .take(MAX_PACKAGES_TEXT + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{path}: {e}"))?;
    if text.len() as u64 > MAX_PACKAGES_TEXT {
        return Err(format!(
            "{path} is larger than {MAX_PACKAGES_TEXT} bytes decompressed"
        ));
    }
    Ok(text)
}
