use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};

use crate::digest::{Digests, MultiHasher};

/// Size of the parts a streamed upload is cut into; bounds the memory an upload holds. S3 refuses
/// a multipart upload whose parts (all but the last) are smaller than 5 MiB (`EntityTooSmall`),
/// so this is that minimum; found by the suite's run with blobs in S3.
const CHUNK_SIZE: usize = 5 * 1024 * 1024;
/// Parts in flight at once per upload.
const MAX_IN_FLIGHT: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("upload exceeds the maximum size of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("reading the upload failed: {0}")]
    Source(String),
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("requested range is not satisfiable")]
    BadRange,
    #[error("unsupported storage URL '{0}' (use a directory path, file:///DIR, s3://BUCKET[/PREFIX] or memory:)")]
    UnsupportedUrl(String),
    #[error("blob storage error: {0}")]
    Store(#[from] object_store::Error),
    #[error("blob storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("recording the blob failed: {0}")]
    Mark(String),
}

/// A byte range, inclusive start and exclusive end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobRange {
    pub start: u64,
    pub end: u64,
}

/// An open blob: its total size, the range being read and the byte stream.
pub struct BlobReader {
    pub total_size: u64,
    pub range: BlobRange,
    pub stream: BoxStream<'static, Result<Bytes, BlobError>>,
}

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    description: String,
    /// Set for local-disk stores, whose blobs parsers may read in place.
    root: Option<std::path::PathBuf>,
    /// Told about every finished upload before it takes its content address.
    marker: Option<Arc<dyn crate::marker::BlobMarker>>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("store", &self.description)
            .finish()
    }
}

pub(crate) fn blob_path(sha256: &str) -> Path {
    let a = sha256.get(0..2).unwrap_or("00");
    let b = sha256.get(2..4).unwrap_or("00");
    Path::from(format!("sha256/{a}/{b}/{sha256}"))
}

impl BlobStore {
    /// Where a blob lies on a local-disk store.
    pub(crate) fn local_path(&self, sha256: &str) -> Option<std::path::PathBuf> {
        let root = self.root.as_ref()?;
        Some(root.join(blob_path(sha256).as_ref()))
    }

    /// Opens a store from a storage URL: a directory path, `file:///DIR`, `memory:`, or
    /// `s3://BUCKET[/PREFIX]` (credentials, region and endpoint from the usual `AWS_*`
    /// environment variables; see [`Self::s3`]).
    pub fn open(url: &str) -> Result<Self, BlobError> {
        if url == "memory:" || url == "memory://" {
            return Ok(Self::from_store(Arc::new(InMemory::new()), "memory:"));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            return Self::s3(url, rest);
        }
        let dir = match url.strip_prefix("file://") {
            Some(path) => path.to_owned(),
            None if !url.contains("://") => url.to_owned(),
            None => return Err(BlobError::UnsupportedUrl(url.to_owned())),
        };
        Self::local(FsPath::new(&dir))
    }

    /// An S3-compatible bucket. `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`
    /// and, for stores other than AWS, `AWS_ENDPOINT_URL` are read from the environment;
    /// requests are path-style unless `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`. An `http://`
    /// endpoint is allowed because the operator named it (a store on a private network).
    fn s3(url: &str, bucket_and_prefix: &str) -> Result<Self, BlobError> {
        let (bucket, prefix) = bucket_and_prefix
            .split_once('/')
            .unwrap_or((bucket_and_prefix, ""));
        if bucket.is_empty() {
            return Err(BlobError::UnsupportedUrl(url.to_owned()));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let plain_http = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
            .iter()
            .filter_map(|key| std::env::var(key).ok())
            .any(|endpoint| endpoint.starts_with("http://"));
        if plain_http {
            builder = builder.with_allow_http(true);
        }
        let store = builder.build()?;
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(PrefixStore::new(store, prefix))
        };
        Ok(Self::from_store(store, url))
    }

    /// A store on a local directory, created if missing.
    pub fn local(dir: &FsPath) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir)?;
        let store = LocalFileSystem::new_with_prefix(dir)?;
        let mut blobs = Self::from_store(Arc::new(store), &format!("file://{}", dir.display()));
        blobs.root = Some(std::fs::canonicalize(dir)?);
        Ok(blobs)
    }

    pub fn from_store(store: Arc<dyn ObjectStore>, description: &str) -> Self {
        Self {
            store,
            description: description.to_owned(),
            root: None,
            marker: None,
        }
    }

    /// Has every finished upload reported to `marker` before it is placed (see
    /// [`crate::BlobMarker`]).
    pub fn with_marker(mut self, marker: Arc<dyn crate::marker::BlobMarker>) -> Self {
        self.marker = Some(marker);
        self
    }

    pub(crate) fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Streams `body` into the store, computing digests on the way, and places it at its
    /// content address. Fails with [`BlobError::TooLarge`] as soon as more than `max_size`
    /// bytes arrive; a failed upload leaves no object behind.
    pub async fn put_stream<S, E>(&self, body: S, max_size: u64) -> Result<Digests, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let tmp = Path::from(format!("tmp/{}", uuid::Uuid::new_v4()));
        let upload = self.store.put_multipart(&tmp).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK_SIZE);
        let mut hasher = crate::parallel::Hashing::new();
        let mut body = std::pin::pin!(body);
        let outcome: Result<(), BlobError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| BlobError::Source(e.to_string()))?;
                if hasher.size() + chunk.len() as u64 > max_size {
                    return Err(BlobError::TooLarge { limit: max_size });
                }
                hasher.update(&chunk).await?;
                writer.wait_for_capacity(MAX_IN_FLIGHT).await?;
                writer.put(chunk);
            }
            Ok(())
        }
        .await;
        if let Err(err) = outcome {
            writer.abort().await.ok();
            return Err(err);
        }
        writer.finish().await?;
        let digests = hasher.finish().await?;
        if let Some(marker) = &self.marker {
            if let Err(error) = marker.mark(&digests).await {
                self.store.delete(&tmp).await.ok();
                return Err(BlobError::Mark(error));
            }
        }
        self.place(&tmp, &digests.sha256).await?;
        Ok(digests)
    }

    /// Moves a finished temporary object to its content address, or drops it when the
    /// address already holds the same bytes.
    async fn place(&self, tmp: &Path, sha256: &str) -> Result<(), BlobError> {
        let dest = blob_path(sha256);
        if self.store.head(&dest).await.is_ok() {
            self.store.delete(tmp).await?;
            return Ok(());
        }
        // Two uploads of the same bytes may race here; both renames write identical content,
        // so whichever lands last is still correct.
        self.store.rename(tmp, &dest).await?;
        Ok(())
    }

    pub async fn exists(&self, sha256: &str) -> Result<bool, BlobError> {
        match self.store.head(&blob_path(sha256)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens a blob for reading, whole or a range of it.
    pub async fn get(
        &self,
        sha256: &str,
        range: Option<BlobRange>,
    ) -> Result<BlobReader, BlobError> {
        if let Some(local) = self.get_local(sha256, range).await {
            return local;
        }
        let options = GetOptions {
            range: range.map(|r| GetRange::Bounded(r.start..r.end)),
            ..GetOptions::default()
        };
        let result = match self.store.get_opts(&blob_path(sha256), options).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::NotFound(sha256.to_owned()))
            }
            Err(object_store::Error::Generic { source, .. })
                if source.to_string().contains("range") =>
            {
                return Err(BlobError::BadRange)
            }
            Err(e) => return Err(e.into()),
        };
        let total_size = result.meta.size;
        let range = BlobRange {
            start: result.range.start,
            end: result.range.end,
        };
        let stream = result
            .into_stream()
            .map(|r| r.map_err(BlobError::from))
            .boxed();
        Ok(BlobReader {
            total_size,
            range,
            stream,
        })
    }

    /// A file with the blob's bytes for a parser to read: the blob itself on a local store,
    /// otherwise a download into `scratch_dir` (removed when the returned guard drops).
    pub async fn open_file(
        &self,
        sha256: &str,
        scratch_dir: &FsPath,
    ) -> Result<(std::fs::File, Option<tempfile::TempPath>), BlobError> {
        if let Some(root) = &self.root {
            let path = root.join(blob_path(sha256).as_ref());
            return Ok((std::fs::File::open(path)?, None));
        }
        std::fs::create_dir_all(scratch_dir)?;
        let temp = tempfile::NamedTempFile::new_in(scratch_dir)?;
        let (file, path) = temp.into_parts();
        let mut out = tokio::fs::File::from_std(file);
        let mut reader = self.get(sha256, None).await?;
        while let Some(chunk) = reader.stream.next().await {
            tokio::io::AsyncWriteExt::write_all(&mut out, &chunk?).await?;
        }
        let file = out.into_std().await;
        let mut file = file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))?;
        Ok((file, Some(path)))
    }

    /// Removes temporary upload objects (`tmp/…`) last written more than `older_than` ago:
    /// what uploads killed mid-way left. Other replicas may be writing theirs, so the caller
    /// picks an age no live upload reaches. Returns how many were removed.
    pub async fn sweep_temporary(
        &self,
        older_than: std::time::Duration,
    ) -> Result<usize, BlobError> {
        let cutoff = std::time::SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(std::time::UNIX_EPOCH);
        let mut removed = 0;
        if let Some(root) = &self.root {
            // On disk, an unfinished multipart upload is a staging file the store's listing
            // does not show; look at the directory itself.
            let dir = root.join("tmp");
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e.into()),
            };
            for entry in entries.flatten() {
                let Ok(meta) = entry.metadata() else { continue };
                let stale = meta.is_file() && meta.modified().is_ok_and(|m| m < cutoff);
                if stale && std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
            return Ok(removed);
        }
        let cutoff_ms = cutoff
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut listing = self.store.list(Some(&Path::from("tmp")));
        let mut stale = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            if meta.last_modified.timestamp_millis() < cutoff_ms {
                stale.push(meta.location);
            }
        }
        for location in stale {
            match self.store.delete(&location).await {
                Ok(()) => removed += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }

    /// Removes a blob; only garbage collection may call this. A blob already gone is not an
    /// error (S3 does not tell the two apart).
    pub async fn delete(&self, sha256: &str) -> Result<(), BlobError> {
        match self.store.delete(&blob_path(sha256)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Recomputes the digests of a stored blob (for `fsck`).
    pub async fn rehash(&self, sha256: &str) -> Result<Digests, BlobError> {
        let mut reader = self.get(sha256, None).await?;
        let mut hasher = MultiHasher::new();
        while let Some(chunk) = reader.stream.next().await {
            hasher.update(&chunk?);
        }
        Ok(hasher.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    async fn read_all(reader: BlobReader) -> Vec<u8> {
        let mut out = Vec::new();
        let mut stream = reader.stream;
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap_or_default());
        }
        out
    }

    #[tokio::test]
    async fn stores_once_and_reads_ranges() -> Result<(), BlobError> {
        let dir = tempfile::tempdir()?;
        let store = BlobStore::local(dir.path())?;
        let a = store.put_stream(body(&[b"hello ", b"world"]), 100).await?;
        let b = store.put_stream(body(&[b"hello world"]), 100).await?;
        assert_eq!(a, b);
        assert_eq!(a.size, 11);
        assert!(store.exists(&a.sha256).await?);
        let whole = store.get(&a.sha256, None).await?;
        assert_eq!(whole.total_size, 11);
        assert_eq!(read_all(whole).await, b"hello world");
        let part = store
            .get(&a.sha256, Some(BlobRange { start: 6, end: 11 }))
            .await?;
        assert_eq!(read_all(part).await, b"world");
        // Only the content-addressed object remains: no temporary leftovers.
        let tmp = std::fs::read_dir(dir.path().join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(tmp, 0);
        Ok(())
    }

    #[tokio::test]
    async fn oversize_upload_fails_and_leaves_nothing() -> Result<(), BlobError> {
        let dir = tempfile::tempdir()?;
        let store = BlobStore::local(dir.path())?;
        let err = store.put_stream(body(&[b"0123456789", b"x"]), 10).await;
        assert!(matches!(err, Err(BlobError::TooLarge { limit: 10 })));
        let leftovers = walk(dir.path());
        assert!(leftovers.is_empty(), "{leftovers:?}");
        Ok(())
    }

    #[tokio::test]
    async fn missing_blob_is_not_found() -> Result<(), BlobError> {
        let store = BlobStore::open("memory:")?;
        assert!(matches!(
            store.get(&"0".repeat(64), None).await,
            Err(BlobError::NotFound(_))
        ));
        Ok(())
    }

    fn walk(dir: &FsPath) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        files
    }

    #[tokio::test]
    async fn sweeps_only_old_temporary_files() -> Result<(), BlobError> {
        let dir = tempfile::tempdir()?;
        let store = BlobStore::local(dir.path())?;
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp)?;
        std::fs::write(tmp.join("killed-upload#1"), b"half")?;
        // Nothing is older than an hour yet.
        assert_eq!(
            store
                .sweep_temporary(std::time::Duration::from_secs(3600))
                .await?,
            0
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(
            store
                .sweep_temporary(std::time::Duration::from_millis(10))
                .await?,
            1
        );
        assert_eq!(std::fs::read_dir(&tmp)?.count(), 0);
        store.put_stream(body(&[b"kept"]), 100).await?;
        assert_eq!(store.sweep_temporary(std::time::Duration::ZERO).await?, 0);
        Ok(())
    }
}
