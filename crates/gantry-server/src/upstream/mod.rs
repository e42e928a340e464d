//! Upstream fetchers of each format; the shared client and file serving are in
//! `gantry_protocol::upstream`.

pub(crate) mod cargo;
pub(crate) mod npm;
pub(crate) mod python;

pub(crate) use gantry_protocol::upstream::*;
