//! Maintenance of the blob store against the metadata store: garbage collection removes blobs
//! nothing refers to, `fsck` checks that both agree. Both run inside a server (the REST routes
//! `POST /api/v1/admin/gc` and `/fsck`, behind `gantry admin gc|fsck`): on SQLite the server's
//! single writer connection then serialises them with uploads, and on PostgreSQL any replica
//! may run them; see `gantry_db::blobs` for why that is safe beside running uploads.

mod fsck;
mod gc;
#[cfg(test)]
mod tests;

pub(crate) use fsck::{fsck, FsckOptions, FsckReport};
pub(crate) use gc::{gc, GcOptions, GcReport};

/// The grace period when a request names none: far longer than any upload takes from storing
/// its bytes to recording its package.
pub(crate) const DEFAULT_GRACE_SECONDS: u64 = 3600;

/// The time before which a blob's last write must lie for it to count as garbage.
fn cutoff(grace_seconds: u64) -> i64 {
    let grace = i64::try_from(grace_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    gantry_core::time::now_millis().saturating_sub(grace)
}
