//! RubyGems for Gantry: `gem push` and `gem yank`, the compact index Bundler and RubyGems
//! read (`/versions`, `/info/NAME`, `/names`), the legacy Marshal indexes (`specs.4.8.gz`
//! and kin, `quick/Marshal.4.8` gemspecs) and `.gem` downloads, at `/{owner}/{repo}/rubygems/`.
//!
//! [`pure`] is the format itself (reading a `.gem` and its YAML specification safely, names
//! and versions, rendering the indexes, a Marshal writer; no I/O beyond the artifact);
//! `routes` is the protocol and `upstream` reads another server's compact index.
//! [`Plugin`] registers both with the server.

pub mod pure;
mod queries;
mod routes;
mod upstream;

pub use pure::RubyGems;
pub use routes::Plugin;

// The toolkit and the format core under the paths this crate's modules use.
use gantry_formats::{archive, format};
use gantry_protocol::{app, auth, error, plugin};
