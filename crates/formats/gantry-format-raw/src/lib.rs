//! Raw files for Gantry: any bytes under a name and version you give.
//!
//! [`pure`] is the format itself (parsing, validation, identity, limits; no I/O beyond the
//! artifact it is handed); [`routes`] is its native protocol.
//! [`Plugin`] registers both with the server.

pub mod pure;
mod routes;

pub use pure::Raw;
pub use routes::Plugin;

// The toolkit and the format core under the paths this crate's modules use.
use gantry_formats::{content_type, format};
use gantry_protocol::serve::*;
use gantry_protocol::{app, auth, error, plugin};
