//! The toolkit every format's protocol is built on, and the state they share: the
//! application ([`app::App`]), callers and their authorisation ([`auth`], [`access`],
//! [`repo`], and the path extractors of [`extract`]), errors in the REST envelope and in each client's shape ([`error`],
//! [`client_error`]), file serving with ETag, Range, quarantine and entitlements
//! ([`serve`]), the upstream HTTP client and tee-into-cache ([`upstream`]), the ingest
//! pipeline and its jobs ([`ingest`], [`pipeline`]), and format registration ([`plugin`]).
//! A format crate depends on this crate and on `gantry-formats`; `gantry-server` assembles
//! the registered formats with the REST API.

pub mod access;
pub mod app;
pub mod auth;
pub mod caches;
pub mod client_error;
pub mod config;
pub mod error;
pub mod extract;
pub mod index_cache;
pub mod ingest;
pub mod limiter;
pub mod metrics;
pub mod negotiate;
pub mod pipeline;
pub mod plugin;
pub mod range;
pub mod render;
pub mod repo;
pub mod serve;
pub mod upstream;
