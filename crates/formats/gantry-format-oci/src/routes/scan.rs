//! What an image package contains, for the scan job: the packages installed by the layers of
//! each image manifest it holds (every platform of an index), with the layer and path each
//! was found at.

use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use gantry_db::{PackageFileRow, PackageRow};
use gantry_protocol::app::App;
use gantry_protocol::error::{AppError, AppResult};
use gantry_protocol::plugin::Component;
use serde_json::json;

use crate::pure::contents::{read_layer, Compression, Image};
use crate::pure::manifest::{self, MAX_MANIFEST_SIZE};
use crate::queries::ComponentQueries;

/// Reads a stored manifest, bounded.
async fn read_manifest(app: &App, sha256: &str) -> AppResult<Vec<u8>> {
    let mut reader = app.blobs.get(sha256, None).await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = reader.stream.next().await {
        bytes.extend_from_slice(&chunk?);
        if bytes.len() > MAX_MANIFEST_SIZE {
            return Err(AppError::BadRequest(
                "a stored manifest is too large".into(),
            ));
        }
    }
    Ok(bytes)
}

pub(crate) async fn components(app: &App, package: &PackageRow) -> AppResult<Vec<Component>> {
    let by_digest: HashMap<&str, &PackageFileRow> = package
        .files
        .iter()
        .map(|f| (f.filename.as_str(), f))
        .collect();
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let manifests = package
        .files
        .iter()
        .filter(|f| f.content_type != crate::queries::OCI_BLOB_CONTENT_TYPE);
    for file in manifests {
        let bytes = read_manifest(app, &file.sha256).await?;
        let Ok(parsed) = manifest::parse(&bytes, Some(&file.content_type)) else {
            continue;
        };
        let mut image = Image::default();
        for layer in &parsed.layers {
            let Some(compression) = Compression::of_media_type(&layer.media_type) else {
                tracing::info!(layer = %layer.digest, media_type = %layer.media_type, "not a tar layer: not scanned");
                continue;
            };
            let Some(stored) = by_digest.get(layer.digest.as_str()) else {
                continue;
            };
            let (content, guard) = app
                .blobs
                .open_file(&stored.sha256, &app.scratch_dir())
                .await?;
            let read = tokio::task::spawn_blocking(move || {
                let mut content = content;
                read_layer(&mut content, compression)
            })
            .await
            .map_err(AppError::internal)?;
            drop(guard);
            match read {
                Ok(contents) => image.apply(&layer.digest, contents),
                Err(error) => {
                    tracing::warn!(%error, layer = %layer.digest, "cannot read an image layer")
                }
            }
        }
        for found in image.installed() {
            let location = json!({"layer": found.layer, "path": found.path});
            let key = (
                found.ecosystem.clone(),
                found.name.clone(),
                found.version.clone(),
                location.to_string(),
            );
            if seen.insert(key) {
                out.push(Component {
                    ecosystem: found.ecosystem,
                    name: found.name,
                    version: found.version,
                    location,
                });
            }
        }
    }
    let names: Vec<(String, String)> = out
        .iter()
        .map(|c| (c.ecosystem.clone(), c.name.clone()))
        .collect();
    app.db.oci_record_components(package.id, &names).await?;
    Ok(out)
}
