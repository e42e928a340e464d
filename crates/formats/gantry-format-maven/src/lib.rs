//! Maven artifacts for Gantry: the Maven 2 repository layout under `/{owner}/{repo}/maven/`
//! with `PUT` deploys as `mvn deploy` sends them, `maven-metadata.xml` written from the
//! repository's packages, SNAPSHOT builds, and upstream Maven repositories.
//!
//! [`pure`] is the format itself (paths, POMs, metadata documents, JAR contents; no I/O beyond
//! the artifact it is handed); `routes` is its native protocol, `upstream` fetches from remote
//! repositories. [`Plugin`] registers both with the server.

pub mod pure;
mod push;
mod queries;
mod routes;
mod upstream;

pub use pure::Maven;
pub use routes::Plugin;

// The toolkit and the format core under the paths this crate's modules use.
use gantry_formats::{archive, encode_segment, format};
use gantry_protocol::{app, auth, error};
