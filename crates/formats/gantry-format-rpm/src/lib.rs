//! RPM repositories for Gantry: `.rpm` uploads (headers read within bounds, bytes kept as
//! uploaded), `repodata/` written from the stored metadata and signed with the repository's
//! key, and upstream mirrors.
//!
//! [`pure`] is the format itself (no HTTP, no database); `routes` is the native protocol.
//! [`Plugin`] registers both with the server.

pub mod pure;
mod queries;
mod routes;
mod upstream;

pub use pure::Rpm;
pub use routes::Plugin;

use gantry_protocol::{app, auth, error};
