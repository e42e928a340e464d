//! Reading blobs of a local-disk store straight from the file, in large chunks.
//! `object_store`'s local reads go through the blocking pool 8 KiB at a time; a download of a
//! large file then costs one thread hand-off per 8 KiB. Here each read fills [`CHUNK`] bytes.

use std::io::SeekFrom;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::store::{BlobError, BlobRange, BlobReader, BlobStore};

/// Bytes per read of a local blob.
pub(crate) const CHUNK: usize = 256 * 1024;

fn not_found(sha256: &str, err: std::io::Error) -> BlobError {
    if err.kind() == std::io::ErrorKind::NotFound {
        BlobError::NotFound(sha256.to_owned())
    } else {
        BlobError::Io(err)
    }
}

impl BlobStore {
    /// A local blob's bytes as a stream of [`CHUNK`]-sized reads, or `None` when the store is
    /// not a local directory.
    pub(crate) async fn get_local(
        &self,
        sha256: &str,
        range: Option<BlobRange>,
    ) -> Option<Result<BlobReader, BlobError>> {
        let path = self.local_path(sha256)?;
        Some(
            async {
                let mut file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| not_found(sha256, e))?;
                let total_size = file.metadata().await?.len();
                let range = range.unwrap_or(BlobRange {
                    start: 0,
                    end: total_size,
                });
                if range.start > range.end || range.end > total_size {
                    return Err(BlobError::BadRange);
                }
                if range.start > 0 {
                    file.seek(SeekFrom::Start(range.start)).await?;
                }
                let body = file.take(range.end - range.start);
                let stream = ReaderStream::with_capacity(body, CHUNK)
                    .map_err(BlobError::from)
                    .boxed();
                Ok(BlobReader {
                    total_size,
                    range,
                    stream,
                })
            }
            .await,
        )
    }

    /// A whole blob in memory. Only for small blobs: the caller bounds the size.
    pub async fn read_all(&self, sha256: &str) -> Result<Bytes, BlobError> {
        if let Some(path) = self.local_path(sha256) {
            return tokio::fs::read(&path)
                .await
                .map(Bytes::from)
                .map_err(|e| not_found(sha256, e));
        }
        let reader = self.get(sha256, None).await?;
        let parts: Vec<Bytes> = reader.stream.try_collect().await?;
        Ok(Bytes::from(parts.concat()))
    }
}
