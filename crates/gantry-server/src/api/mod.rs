//! The REST API under `/api/v1`. Each resource has its own module; every handler is
//! annotated for the OpenAPI document, which the router is built from so the two cannot drift.

pub(crate) mod access_control;
pub(crate) mod audit;
pub(crate) mod decisions;
pub(crate) mod packages;
pub(crate) mod policies;
pub(crate) mod promotions;
pub(crate) mod repos;
pub(crate) mod rules;
pub(crate) mod security;
pub(crate) mod system;
pub(crate) mod tokens;
pub(crate) mod upload;
pub(crate) mod upstreams;
pub(crate) mod webhooks;

pub(crate) use gantry_protocol::repo::{load_package, load_repo, parse_destination};
