//! Fetching from upstreams: index pages (cached, served stale while an upstream is down)
//! and files (streamed through, and in `cache` mode stored as packages on the way).

pub(crate) mod cargo;
pub(crate) mod npm;
pub(crate) mod python;
