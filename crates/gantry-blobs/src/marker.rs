//! The hook that lets garbage collection see uploads in flight.

use futures::future::BoxFuture;

use crate::digest::Digests;

/// Told about every finished upload after its bytes are hashed and before they take their
/// content address, so the metadata store can record that the blob was just written.
///
/// Garbage collection removes only blobs whose last write is older than its grace period;
/// an upload that lands on bytes already stored (deduplication) renews them here, before the
/// store could tell a collector that the object exists. A failed mark fails the upload: its
/// bytes would otherwise be stored without protection.
pub trait BlobMarker: Send + Sync {
    fn mark<'a>(&'a self, digests: &'a Digests) -> BoxFuture<'a, Result<(), String>>;
}
