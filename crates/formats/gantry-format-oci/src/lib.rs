//! OCI and Docker images for Gantry: the distribution specification v1.1 at
//! `/v2/{owner}/{repo}/{image…}/…` with the token flow registry clients expect.
//!
//! [`pure`] is the format itself (manifests, digests, names, limits; no I/O); `routes` is the
//! protocol. [`Plugin`] registers both with the server.

pub mod pure;
mod push;
mod queries;
mod routes;
mod upstream;

pub use pure::Oci;
pub use routes::Plugin;
