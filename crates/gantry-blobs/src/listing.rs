//! Walking the stored blobs (for garbage collection and `fsck`) and probing the store.

use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;

use crate::store::{blob_path, BlobError, BlobStore};

/// A stored object under the content-addressed layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// The sha256 its key names; `None` when the key is not a well-formed content address.
    pub sha256: Option<String>,
    pub key: String,
    pub size: u64,
    /// When the object was last written, in milliseconds since the epoch.
    pub last_modified_ms: i64,
}

/// The sha256 a key `sha256/<aa>/<bb>/<hex>` names, when it is well formed.
fn sha256_of(key: &str) -> Option<String> {
    let mut parts = key.split('/');
    let (Some("sha256"), Some(a), Some(b), Some(hex), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let well_formed = hex.len() == 64
        && hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        && hex.get(0..2) == Some(a)
        && hex.get(2..4) == Some(b);
    well_formed.then(|| hex.to_owned())
}

impl BlobStore {
    /// Every object under `sha256/`, in no particular order. Temporary upload objects are not
    /// listed: they are not blobs yet.
    pub fn list_blobs(&self) -> BoxStream<'static, Result<StoredBlob, BlobError>> {
        self.object_store()
            .list(Some(&Path::from("sha256")))
            .map(|meta| {
                let meta = meta?;
                let key = meta.location.to_string();
                Ok(StoredBlob {
                    sha256: sha256_of(&key),
                    key,
                    size: meta.size,
                    last_modified_ms: meta.last_modified.timestamp_millis(),
                })
            })
            .boxed()
    }

    /// Whether the store answers: a lookup of a key that never exists must come back as
    /// "not found" rather than an error.
    pub async fn ping(&self) -> Result<(), BlobError> {
        match self
            .object_store()
            .head(&blob_path("readiness-probe"))
            .await
        {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes an object by its listed key (a malformed one, found by `fsck`).
    pub async fn delete_key(&self, key: &str) -> Result<(), BlobError> {
        match self.object_store().delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_keys_name_a_blob() {
        let hex = "ab".repeat(32);
        assert_eq!(sha256_of(&format!("sha256/ab/ab/{hex}")), Some(hex.clone()));
        assert_eq!(sha256_of(&format!("sha256/ab/cd/{hex}")), None);
        assert_eq!(sha256_of(&format!("sha256/ab/ab/{hex}/x")), None);
        assert_eq!(sha256_of("sha256/ab/ab/short"), None);
        assert_eq!(
            sha256_of(&format!("sha256/AB/AB/{}", hex.to_uppercase())),
            None
        );
    }

    #[tokio::test]
    async fn lists_stored_blobs_and_answers_pings() -> Result<(), BlobError> {
        let dir = tempfile::tempdir()?;
        let store = BlobStore::local(dir.path())?;
        store.ping().await?;
        let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(
            b"listed",
        ))]);
        let digests = store.put_stream(body, 100).await?;
        let listed: Vec<StoredBlob> = store
            .list_blobs()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].sha256.as_deref(), Some(digests.sha256.as_str()));
        assert_eq!(listed[0].size, 6);
        Ok(())
    }
}
