//! Image manifests and indexes (OCI and Docker schema 2), read into what the registry needs:
//! the media type, the blobs and child manifests they reference, the subject and artifact
//! type for the referrers API, and a summary for the package's metadata.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::digest::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_SCHEMA1: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// Largest manifest accepted: the specification asks registries to take at least 4 MiB.
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;
/// Most descriptors one manifest may reference (layers plus child manifests).
pub const MAX_REFERENCES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("{0}")]
    Invalid(String),
    #[error("Docker image manifest schema 1 is not supported; push with schema 2 or OCI")]
    Schema1,
}

/// A content descriptor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub platform: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    subject: Option<Descriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// A parsed manifest or index.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub config: Option<Descriptor>,
    pub layers: Vec<Descriptor>,
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX || self.media_type == DOCKER_LIST
    }

    /// Blobs this manifest references (config first), each once.
    pub fn blobs(&self) -> Vec<&Descriptor> {
        let mut seen = std::collections::HashSet::new();
        self.config
            .iter()
            .chain(&self.layers)
            .filter(|d| seen.insert(d.digest.as_str()))
            .collect()
    }

    /// The artifact type the referrers API reports: the manifest's own, else its config's
    /// media type.
    pub fn effective_artifact_type(&self) -> Option<String> {
        self.artifact_type
            .clone()
            .or_else(|| self.config.as_ref().map(|c| c.media_type.clone()))
    }

    /// The package metadata of this manifest (without what only its config blob tells).
    pub fn metadata(&self, digest: &str, size: usize) -> Value {
        let platforms: Vec<Value> = self
            .manifests
            .iter()
            .filter_map(|m| m.platform.clone())
            .collect();
        let total: i64 = size as i64
            + self.blobs().iter().map(|d| d.size.max(0)).sum::<i64>()
            + self.manifests.iter().map(|d| d.size.max(0)).sum::<i64>();
        json!({
            "digest": digest,
            "media_type": self.media_type,
            "artifact_type": self.effective_artifact_type(),
            "subject": self.subject.as_ref().map(|s| s.digest.clone()),
            "annotations": self.annotations,
            "platforms": platforms,
            "layer_count": self.layers.len(),
            "manifest_count": self.manifests.len(),
            "total_size": total,
        })
    }
}

/// Parses a manifest sent with `content_type` (the request's `Content-Type`, if any).
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, ManifestError> {
    if bytes.len() > MAX_MANIFEST_SIZE {
        return Err(ManifestError::Invalid(format!(
            "the manifest is larger than {MAX_MANIFEST_SIZE} bytes"
        )));
    }
    let content_type = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty());
    if content_type.is_some_and(|c| DOCKER_SCHEMA1.contains(&c)) {
        return Err(ManifestError::Schema1);
    }
    let raw: Raw = serde_json::from_slice(bytes)
        .map_err(|e| ManifestError::Invalid(format!("the manifest is not valid JSON: {e}")))?;
    if raw.schema_version == Some(1)
        || raw
            .media_type
            .as_deref()
            .is_some_and(|m| DOCKER_SCHEMA1.contains(&m))
    {
        return Err(ManifestError::Schema1);
    }
    if raw.schema_version != Some(2) {
        return Err(ManifestError::Invalid("schemaVersion must be 2".to_owned()));
    }
    let media_type = match (raw.media_type.as_deref(), content_type) {
        (Some(own), Some(sent)) if own != sent => {
            return Err(ManifestError::Invalid(format!(
                "the manifest's mediaType {own} differs from the Content-Type {sent}"
            )))
        }
        (Some(own), _) => own.to_owned(),
        (None, Some(sent)) => sent.to_owned(),
        (None, None) if !raw.manifests.is_empty() => OCI_INDEX.to_owned(),
        (None, None) => OCI_MANIFEST.to_owned(),
    };
    let manifest = Manifest {
        media_type,
        artifact_type: raw.artifact_type,
        config: raw.config,
        layers: raw.layers,
        manifests: raw.manifests,
        subject: raw.subject,
        annotations: raw.annotations,
    };
    check(&manifest)?;
    Ok(manifest)
}

fn check(m: &Manifest) -> Result<(), ManifestError> {
    let invalid = |msg: String| Err(ManifestError::Invalid(msg));
    match m.media_type.as_str() {
        OCI_INDEX | DOCKER_LIST => {
            if m.config.is_some() || !m.layers.is_empty() {
                return invalid("an index holds manifests, not a config or layers".into());
            }
        }
        OCI_MANIFEST | DOCKER_MANIFEST => {
            if m.config.is_none() {
                return invalid("an image manifest needs a config descriptor".into());
            }
            if !m.manifests.is_empty() {
                return invalid("an image manifest cannot list manifests".into());
            }
        }
        other => {
            return invalid(format!(
                "unsupported manifest media type '{}'",
                gantry_core::names::quote_prefix(other, 120)
            ))
        }
    }
    if m.layers.len() + m.manifests.len() > MAX_REFERENCES {
        return invalid(format!(
            "the manifest references more than {MAX_REFERENCES} descriptors"
        ));
    }
    for d in m
        .config
        .iter()
        .chain(&m.layers)
        .chain(&m.manifests)
        .chain(&m.subject)
    {
        Digest::parse(&d.digest).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        if d.size < 0 {
            return invalid(format!("descriptor {} has a negative size", d.digest));
        }
        if d.media_type.is_empty() || d.media_type.len() > 255 {
            return invalid(format!("descriptor {} has no valid mediaType", d.digest));
        }
    }
    Ok(())
}

/// Labels, OS and architecture from an image config blob (bounded by the caller).
pub fn config_summary(config: &[u8]) -> Value {
    let Ok(v) = serde_json::from_slice::<Value>(config) else {
        return Value::Null;
    };
    json!({
        "os": v.get("os"),
        "architecture": v.get("architecture"),
        "variant": v.get("variant"),
        "labels": v.pointer("/config/Labels"),
        "created": v.get("created"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: char) -> String {
        format!("sha256:{}", n.to_string().repeat(64))
    }

    #[test]
    fn image_manifests_and_indexes() {
        let m = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d('a'), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d('b'), "size": 5},
                       {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d('b'), "size": 5}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": d('c'), "size": 9},
        });
        let parsed =
            parse(m.to_string().as_bytes(), Some(OCI_MANIFEST)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.blobs().len(), 2);
        assert_eq!(parsed.subject.map(|s| s.digest), Some(d('c')));
        let index = json!({"schemaVersion": 2, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": d('a'), "size": 1, "platform": {"os": "linux", "architecture": "arm64"}}]});
        let parsed = parse(index.to_string().as_bytes(), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(parsed.is_index());
        assert_eq!(
            parsed.metadata("x", 3)["platforms"][0]["architecture"],
            "arm64"
        );
    }

    #[test]
    fn refusals() {
        let schema1 = json!({"schemaVersion": 1, "name": "x", "fsLayers": []});
        assert_eq!(
            parse(schema1.to_string().as_bytes(), None).err(),
            Some(ManifestError::Schema1)
        );
        assert!(matches!(
            parse(
                b"{}",
                Some("application/vnd.docker.distribution.manifest.v1+prettyjws")
            ),
            Err(ManifestError::Schema1)
        ));
        assert!(parse(b"not json", None).is_err());
        let mismatch = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []});
        assert!(parse(mismatch.to_string().as_bytes(), Some(OCI_MANIFEST)).is_err());
        let bad_digest = json!({"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:zz", "size": 1}});
        assert!(parse(bad_digest.to_string().as_bytes(), None).is_err());
        let big = vec![b' '; MAX_MANIFEST_SIZE + 1];
        assert!(parse(&big, None).is_err());
    }
}
