//! Go modules for Gantry: the GOPROXY protocol at `/{owner}/{repo}/go/`, module zips checked
//! by the go command's rules with their `h1:` checksums, and upstream proxies.
//!
//! [`pure`] is the format itself (module paths and their case-encoding, versions and
//! pseudo-versions, the zip rules, `go.mod`, packing a directory; no I/O beyond the
//! artifact); [`routes`] is the proxy protocol, and `upstream` reads other proxies.
//! [`Plugin`] registers both with the server.

pub mod pure;
mod queries;
mod routes;
mod upstream;

pub use pure::Go;
pub use routes::Plugin;

// The toolkit and the format core under the paths this crate's modules use.
use gantry_formats::{archive, format};
use gantry_protocol::{app, auth, error, plugin};
