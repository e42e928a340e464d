//! Cargo crates for Gantry: the sparse index, the registry web API and upstream indexes.
//!
//! [`pure`] is the format itself (parsing, validation, identity, limits; no I/O beyond the
//! artifact it is handed); [`routes`] is its native protocol, and `upstream` fetches from remote indexes.
//! [`Plugin`] registers both with the server.

pub mod pure;
mod queries;
mod routes;
mod upstream;

pub use pure::Cargo;
pub use routes::Plugin;

// The toolkit and the format core under the paths this crate's modules use.
use gantry_formats::{archive, format};
use gantry_protocol::serve::*;
use gantry_protocol::{access, app, auth, client_error, error, ingest, plugin, render};
