//! Debian packages for Gantry: `.deb` uploads (the REST API and `gantry push deb`), and an
//! apt repository per Gantry repository at `/{owner}/{repo}/deb/`: signed metadata per
//! distribution (`dists/<dist>/InRelease`, `Release`, `Release.gpg`, `Packages` with `.gz`,
//! `.xz` and `by-hash/`), the `pool/`, the repository's public key, and the packages of
//! its upstreams (other apt repositories, see `upstream`) listed beside its own.
//!
//! [`pure`] is the format itself (the `.deb`'s `control`, identity, limits, the index
//! texts); `routes` is the protocol; [`Plugin`] registers both with the server.

pub mod pure;
mod queries;
mod routes;
mod upstream;

pub use pure::Deb;
pub use routes::Plugin;
