//! Python packages for Gantry: wheels and sdists, the upload API, the simple API (PEP 503/691/658/714) and upstream indexes.
//!
//! [`pure`] is the format itself (parsing, validation, identity, limits; no I/O beyond the
//! artifact it is handed); [`routes`] is its native protocol, and `upstream` fetches from remote indexes.
//! [`Plugin`] registers both with the server.

pub mod pure;
mod routes;
mod upstream;

pub use pure::Python;
pub use routes::Plugin;

// The toolkit and the format core under the paths this crate's modules use.
use gantry_formats::{archive, encode_segment, format};
use gantry_protocol::serve::*;
use gantry_protocol::{app, auth, client_error, error, ingest, plugin, render};
