//! Content-addressed blob store on [`object_store`].
//!
//! Uploads stream into a temporary object under `tmp/` while md5, sha1, sha256 and sha512 are
//! computed; the finished object is then renamed to its content address
//! `sha256/<aa>/<bb>/<hex>`. Identical bytes therefore land on the same key and are stored
//! once. Nothing here holds a whole artifact in memory: at most one multipart chunk per
//! in-flight part is buffered.

mod digest;
mod listing;
mod marker;
mod parallel;
mod read;
mod store;

pub use digest::{Digests, MultiHasher};
pub use listing::StoredBlob;
pub use marker::BlobMarker;
pub use store::{BlobError, BlobRange, BlobReader, BlobStore};
