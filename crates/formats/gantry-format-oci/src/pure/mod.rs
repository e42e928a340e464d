//! OCI images as Gantry packages: the package is one manifest (an image, an index or an
//! artifact), named by the image name below `OWNER/REPO`, versioned by its tag (or by its
//! digest when pushed by digest alone). Parsing, names, digests and limits; no I/O.

use std::io::Read;

use gantry_formats::{
    Artifact, Declared, FileLocation, Format, FormatError, FormatInfo, Identity, Processed,
};

pub mod challenge;
pub mod contents;
pub mod digest;
pub mod manifest;
mod parsers;

pub use digest::{valid_image_name, valid_tag, Digest, DigestError};
pub use manifest::{Descriptor, Manifest, ManifestError};

/// The format's id.
pub const ID: &str = "oci";

pub struct Oci;

impl Oci {
    fn identity(declared: &Declared) -> Result<Identity, FormatError> {
        let name = declared.name.clone().unwrap_or_default();
        if !valid_image_name(&name) {
            return Err(FormatError::Invalid(format!(
                "invalid image name '{}'",
                gantry_core::names::quote_prefix(&name, 120)
            )));
        }
        let version = declared.version.clone().unwrap_or_default();
        if !valid_tag(&version) && Digest::parse(&version).is_err() {
            return Err(FormatError::Invalid(format!(
                "'{}' is neither a tag nor a digest",
                gantry_core::names::quote_prefix(&version, 120)
            )));
        }
        Ok(Identity {
            normalized_name: name.clone(),
            name,
            version,
            qualifier: String::new(),
        })
    }
}

static INFO: FormatInfo = FormatInfo {
    id: ID,
    purl_type: "oci",
    vulnerability_ecosystem: None,
    install: "podman pull {host}/{name}:{version}   # registry of {url}",
    download: None,
    bom_facts: None,
};

impl Format for Oci {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    /// A version that is a digest is pulled with `@`, a tag with `:`.
    fn install_hint(&self, repository_url: &str, name: &str, version: &str) -> String {
        let hint = INFO.install_hint(repository_url, name, version);
        if version.contains(':') {
            hint.replacen(&format!(":{version}"), &format!("@{version}"), 1)
        } else {
            hint
        }
    }

    /// Files (the manifest and its blobs) are named by digest and served by the blobs route.
    fn download_path(&self, file: &FileLocation<'_>) -> String {
        format!(
            "/v2/{}/{}/{}/blobs/{}",
            file.namespace, file.repository, file.name, file.filename
        )
    }

    fn declared_identity(&self, declared: &Declared) -> Result<Option<Identity>, FormatError> {
        Self::identity(declared).map(Some)
    }

    /// Re-reads a stored manifest (resync): its identity is what was declared at push.
    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        let identity = Self::identity(declared)?;
        let mut bytes = Vec::new();
        artifact
            .content
            .take(manifest::MAX_MANIFEST_SIZE as u64 + 1)
            .read_to_end(&mut bytes)?;
        let parsed =
            manifest::parse(&bytes, None).map_err(|e| FormatError::Invalid(e.to_string()))?;
        let digest = Digest::sha256_of(&bytes).to_string();
        Ok(Processed {
            metadata: parsed.metadata(&digest, bytes.len()),
            filename: digest,
            content_type: parsed.media_type.clone(),
            identity,
            extra_files: Vec::new(),
        })
    }
}
