//! Composer (PHP) packages for Gantry: a Composer v2 repository at `/{owner}/{repo}/composer/`
//! (`packages.json` with its `metadata-url`, `p2/VENDOR/NAME.json` and `~dev.json`, dist zips
//! with their `shasum`), zips checked and their `composer.json` read, and upstream repositories.
//!
//! [`pure`] is the format itself (package names, Composer's version normalisation, the zip and
//! its `composer.json`, packing a directory; no I/O beyond the artifact); [`routes`] is the
//! repository protocol, and `upstream` reads other Composer repositories. [`Plugin`]
//! registers both with the server.

pub mod pure;
mod queries;
mod routes;
mod upstream;

pub use pure::Composer;
pub use routes::Plugin;

// The toolkit and the format core under the paths this crate's modules use.
use gantry_formats::{archive, format};
use gantry_protocol::{app, auth, error, plugin};
