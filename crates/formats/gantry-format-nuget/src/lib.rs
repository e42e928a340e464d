//! NuGet packages for Gantry: the NuGet v3 protocol at `/{owner}/{repo}/nuget/v3/index.json`
//! (push, flat container, registrations, search, autocomplete, unlist), `.nupkg` archives
//! and their `.nuspec` checked with bounds, symbol packages (`.snupkg`) stored beside, and
//! upstream feeds (another Gantry).
//!
//! [`pure`] is the format itself (ids, versions as NuGet normalises them, the archive and its
//! manifest; no I/O beyond the artifact); `routes` is the protocol and `upstream` reads other
//! feeds. [`Plugin`] registers both with the server.

pub mod pure;
mod queries;
mod routes;
mod upstream;

pub use pure::NuGet;
pub use routes::Plugin;

use gantry_formats::format;
use gantry_protocol::{app, auth, error, plugin, render};
