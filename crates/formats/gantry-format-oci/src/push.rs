//! `gantry push oci OWNER/REPO LAYOUT_DIR:TAG`, on the client side: an OCI image layout directory (as umoci,
//! skopeo or buildah write it) pushed through the registry API — the blobs the repository
//! lacks, then every manifest by digest (children of an index first, so the server checks
//! each digest), then the tag.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use futures::future::BoxFuture;
use gantry_client::push::{NativePush, PushRequest, Pushed};
use gantry_client::Client;
use serde_json::Value;

/// Largest `index.json` or manifest read from a layout.
const MAX_DOCUMENT: u64 = 4 * 1024 * 1024;
/// Most manifests one push carries (an index and its platforms).
const MAX_MANIFESTS: usize = 256;
/// The annotation that names a layout's tags.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A manifest of the layout: its digest, media type and bytes.
struct LayoutManifest {
    digest: String,
    media_type: String,
    bytes: Vec<u8>,
}

/// What one tag of a layout holds.
#[derive(Default)]
struct Graph {
    /// Children before their index; the tagged manifest last.
    manifests: Vec<LayoutManifest>,
    blobs: BTreeSet<String>,
}

/// The file of blob `digest`: only `sha256`/`sha512` with lowercase hex, so a digest from a
/// layout's documents cannot name a path outside `blobs/`.
fn blob_path(root: &Path, digest: &str) -> anyhow::Result<PathBuf> {
    let (algorithm, hex) = digest
        .split_once(':')
        .with_context(|| format!("invalid digest '{digest}'"))?;
    let length = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => bail!("unsupported digest algorithm in '{digest}'"),
    };
    if hex.len() != length || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        bail!("invalid digest '{digest}'");
    }
    Ok(root.join("blobs").join(algorithm).join(hex))
}

/// Reads a small regular file of the layout (no links), bounded.
fn read_document(path: &Path) -> anyhow::Result<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    if meta.len() > MAX_DOCUMENT {
        bail!("{} is larger than {MAX_DOCUMENT} bytes", path.display());
    }
    Ok(std::fs::read(path)?)
}

fn collect(root: &Path, descriptor: &Value, graph: &mut Graph, depth: usize) -> anyhow::Result<()> {
    let digest = descriptor["digest"]
        .as_str()
        .context("a descriptor without a digest")?
        .to_owned();
    if graph.manifests.iter().any(|m| m.digest == digest) {
        return Ok(());
    }
    if graph.manifests.len() >= MAX_MANIFESTS || depth > 2 {
        bail!("the layout's tag holds more than {MAX_MANIFESTS} manifests or nests too deep");
    }
    let bytes = read_document(&blob_path(root, &digest)?)?;
    let doc: Value =
        serde_json::from_slice(&bytes).with_context(|| format!("manifest {digest}"))?;
    let media_type = doc["mediaType"]
        .as_str()
        .or_else(|| descriptor["mediaType"].as_str())
        .with_context(|| format!("manifest {digest} has no media type"))?
        .to_owned();
    for child in doc["manifests"].as_array().into_iter().flatten() {
        collect(root, child, graph, depth + 1)?;
    }
    let blobs = doc["config"]
        .as_object()
        .into_iter()
        .map(|_| &doc["config"]);
    for blob in blobs.chain(doc["layers"].as_array().into_iter().flatten()) {
        let blob_digest = blob["digest"]
            .as_str()
            .with_context(|| format!("manifest {digest} names a blob without a digest"))?;
        let path = blob_path(root, blob_digest)?;
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            bail!("blob {blob_digest} is not in the layout");
        }
        graph.blobs.insert(blob_digest.to_owned());
    }
    graph.manifests.push(LayoutManifest {
        digest,
        media_type,
        bytes,
    });
    Ok(())
}

/// Reads the graph of `tag` from the layout at `root`.
fn read_layout(root: &Path, tag: &str) -> anyhow::Result<Graph> {
    let index: Value = serde_json::from_slice(&read_document(&root.join("index.json"))?)
        .context("index.json of the layout")?;
    let tagged = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["annotations"][REF_NAME].as_str() == Some(tag))
        .with_context(|| format!("the layout {} has no tag '{tag}'", root.display()))?;
    let mut graph = Graph::default();
    collect(root, tagged, &mut graph, 0)?;
    Ok(graph)
}

/// `LAYOUT_DIR:TAG` split at the last colon.
fn layout_and_tag(spec: &Path) -> anyhow::Result<(PathBuf, String)> {
    let text = spec.to_string_lossy();
    match text.rsplit_once(':') {
        Some((dir, tag)) if !dir.is_empty() && !tag.is_empty() && !tag.contains('/') => {
            Ok((PathBuf::from(dir), tag.to_owned()))
        }
        _ => bail!("give the image layout as LAYOUT_DIR:TAG (e.g. ./layout:1.0)"),
    }
}

/// The image name: `--name`, else the layout directory's name.
fn image_name(name: Option<&str>, dir: &Path) -> anyhow::Result<String> {
    if let Some(name) = name {
        return Ok(name.to_owned());
    }
    let base = dir
        .canonicalize()
        .ok()
        .and_then(|d| {
            d.file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
        })
        .context("give the image's name with --name")?;
    Ok(base)
}

/// Pushes a layout's tag through the registry API as `skopeo copy` would.
pub(crate) struct LayoutPush;

impl NativePush for LayoutPush {
    fn push<'a>(
        &'a self,
        client: &'a Client,
        request: PushRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Pushed>> {
        Box::pin(push(client, request))
    }
}

async fn push(client: &Client, request: PushRequest<'_>) -> anyhow::Result<Pushed> {
    let PushRequest { owner, repo, .. } = request;
    let (dir, tag) = layout_and_tag(request.source)?;
    let image = image_name(request.name, &dir)?;
    let graph = read_layout(&dir, &tag)?;
    let name = format!("{owner}/{repo}/{image}");
    for digest in &graph.blobs {
        if client.registry_has_blob(&name, digest).await? {
            continue;
        }
        let path = blob_path(&dir, digest)?;
        eprintln!(
            "Uploading {digest} ({} bytes) …",
            std::fs::metadata(&path)?.len()
        );
        client.registry_push_blob(&name, digest, &path).await?;
    }
    for manifest in &graph.manifests {
        client
            .registry_put_manifest(
                &name,
                &manifest.digest,
                &manifest.media_type,
                manifest.bytes.clone(),
            )
            .await?;
    }
    let top = graph
        .manifests
        .last()
        .context("the tag names no manifest")?;
    client
        .registry_put_manifest(&name, &tag, &top.media_type, top.bytes.clone())
        .await?;
    let page = client
        .list_packages(owner, repo, Some(&format!("version:{tag}")), 1, 100)
        .await?;
    let package = page
        .packages
        .into_iter()
        .find(|p| p.name == image && p.format == crate::pure::ID)
        .with_context(|| format!("{name}:{tag} was pushed but is not listed"))?;
    Ok(Pushed {
        package,
        summary: format!("Pushed {name}:{tag} ({})", top.digest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_paths_stay_inside_the_layout() {
        let root = Path::new("/l");
        let hex = "a".repeat(64);
        assert_eq!(
            blob_path(root, &format!("sha256:{hex}")).ok(),
            Some(root.join("blobs/sha256").join(&hex))
        );
        for bad in [
            "sha256:../../etc/passwd",
            "md5:abc",
            "sha256:ABC",
            "nocolon",
        ] {
            assert!(blob_path(root, bad).is_err(), "{bad}");
        }
        assert_eq!(
            layout_and_tag(Path::new("./dir:1.0")).ok(),
            Some((PathBuf::from("./dir"), "1.0".to_owned()))
        );
        assert!(layout_and_tag(Path::new("./dir")).is_err());
    }
}
