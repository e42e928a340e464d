//! npm packages for Gantry: the registry API (packuments, tarballs, publish, dist-tags, unpublish) and upstream registries.
//!
//! [`pure`] is the format itself (parsing, validation, identity, limits; no I/O beyond the
//! artifact it is handed); [`routes`] is its native protocol, and `upstream` fetches from remote indexes.
//! [`Plugin`] registers both with the server.

pub mod pure;
mod queries;
mod routes;
mod upstream;

pub use pure::Npm;
pub use routes::Plugin;

// The toolkit and the format core under the paths this crate's modules use.
use gantry_formats::{archive, encode_segment, format, ReadSeek};
use gantry_protocol::serve::*;
use gantry_protocol::{access, app, auth, client_error, error, ingest, plugin, render};

/// Entry points for the fuzz targets in `fuzz/`. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    /// Splits an npm publish document fed in chunks of `chunk` bytes, as it streams in.
    pub fn npm_publish(document: &[u8], chunk: usize) {
        let mut splitter = crate::routes::split::Splitter::new(64 * 1024);
        for part in document.chunks(chunk.max(1)) {
            if splitter.feed(part).is_err() {
                return;
            }
        }
        let _ = splitter.finish();
    }
}
