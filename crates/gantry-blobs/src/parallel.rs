//! The four digests of an upload, computed beside each other and beside the write. A small
//! upload is hashed inline (threads would cost more than they save). Past
//! [`PARALLEL_AFTER`] bytes each digest moves, with its state so far, to a blocking thread of
//! its own fed through a bounded channel: the async task only hands chunks on, so receiving
//! and writing go on while the digests run, and the four run on as many cores as there are.
//! Chunks are shared (`Bytes`), not copied; each lane holds at most [`QUEUE`] of them.

use bytes::Bytes;
use sha2::Digest;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::digest::{Digests, MultiHasher};
use crate::store::BlobError;

/// Bytes after which an upload's digests move to worker threads.
pub(crate) const PARALLEL_AFTER: u64 = 8 * 1024 * 1024;
/// Chunks waiting per digest lane: bounds the memory a slow digest can hold.
const QUEUE: usize = 32;

type Lane = (mpsc::Sender<Bytes>, JoinHandle<String>);

pub(crate) enum Hashing {
    /// Boxed: the four digest states are large, the parallel lanes small.
    Inline(Box<MultiHasher>),
    Parallel {
        size: u64,
        lanes: [Lane; 4],
    },
}

fn lane<D: Digest + Send + 'static>(mut digest: D) -> Lane {
    let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUE);
    let handle = tokio::task::spawn_blocking(move || {
        while let Some(chunk) = rx.blocking_recv() {
            digest.update(&chunk);
        }
        hex::encode(digest.finalize())
    });
    (tx, handle)
}

fn stopped() -> BlobError {
    BlobError::Source("a digest worker stopped".into())
}

impl Hashing {
    pub(crate) fn new() -> Self {
        Hashing::Inline(Box::default())
    }

    pub(crate) fn size(&self) -> u64 {
        match self {
            Hashing::Inline(h) => h.size(),
            Hashing::Parallel { size, .. } => *size,
        }
    }

    pub(crate) async fn update(&mut self, chunk: &Bytes) -> Result<(), BlobError> {
        match self {
            Hashing::Inline(h) => {
                h.update(chunk);
                if h.size() >= PARALLEL_AFTER {
                    let (size, md5, sha1, sha256, sha512) = std::mem::take(&mut **h).into_parts();
                    *self = Hashing::Parallel {
                        size,
                        lanes: [lane(md5), lane(sha1), lane(sha256), lane(sha512)],
                    };
                }
            }
            Hashing::Parallel { size, lanes } => {
                *size += chunk.len() as u64;
                for (tx, _) in lanes.iter() {
                    tx.send(chunk.clone()).await.map_err(|_| stopped())?;
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn finish(self) -> Result<Digests, BlobError> {
        match self {
            Hashing::Inline(h) => Ok((*h).finish()),
            Hashing::Parallel { size, lanes } => {
                let mut hex = Vec::with_capacity(4);
                for (tx, handle) in lanes {
                    // Closing the channel lets the lane finish once it has drained it.
                    drop(tx);
                    hex.push(handle.await.map_err(|_| stopped())?);
                }
                let [md5, sha1, sha256, sha512]: [String; 4] =
                    hex.try_into().map_err(|_| stopped())?;
                Ok(Digests {
                    size,
                    md5,
                    sha1,
                    sha256,
                    sha512,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parallel_digests_equal_inline_ones() {
        let data: Vec<u8> = (0..PARALLEL_AFTER as usize * 2 + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut inline = MultiHasher::new();
        inline.update(&data);
        let mut hashing = Hashing::new();
        for chunk in data.chunks(100_000) {
            hashing.update(&Bytes::copy_from_slice(chunk)).await.ok();
        }
        assert!(matches!(hashing, Hashing::Parallel { .. }));
        assert_eq!(hashing.finish().await.ok(), Some(inline.finish()));
    }

    /// The ceiling on this machine: each digest alone, the four in one pass, and the four in
    /// parallel lanes. `cargo test --release -p gantry-blobs -- --ignored --nocapture
    /// digest_throughput` (docs/benchmarks.md).
    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "a measurement, not a test"]
    async fn digest_throughput() {
        const TOTAL: usize = 1024 * 1024 * 1024;
        let chunk = Bytes::from(vec![7u8; 64 * 1024]);
        let n = TOTAL / chunk.len();
        let rate =
            |start: std::time::Instant| TOTAL as f64 / 1048576.0 / start.elapsed().as_secs_f64();
        fn alone<D: Digest + Default>(chunk: &[u8], n: usize) {
            let mut d = D::default();
            for _ in 0..n {
                d.update(chunk);
            }
            std::hint::black_box(d.finalize());
        }
        let t = std::time::Instant::now();
        alone::<md5::Md5>(&chunk, n);
        println!("md5 alone: {:.0} MiB/s", rate(t));
        let t = std::time::Instant::now();
        alone::<sha1::Sha1>(&chunk, n);
        println!("sha1 alone: {:.0} MiB/s", rate(t));
        let t = std::time::Instant::now();
        alone::<sha2::Sha256>(&chunk, n);
        println!("sha256 alone: {:.0} MiB/s", rate(t));
        let t = std::time::Instant::now();
        alone::<sha2::Sha512>(&chunk, n);
        println!("sha512 alone: {:.0} MiB/s", rate(t));
        let t = std::time::Instant::now();
        let mut inline = MultiHasher::new();
        for _ in 0..n {
            inline.update(&chunk);
        }
        std::hint::black_box(inline.finish());
        println!("four in one pass: {:.0} MiB/s", rate(t));
        let t = std::time::Instant::now();
        let mut hashing = Hashing::new();
        for _ in 0..n {
            hashing.update(&chunk).await.ok();
        }
        std::hint::black_box(hashing.finish().await.ok());
        println!("four in parallel lanes: {:.0} MiB/s", rate(t));
    }
}
