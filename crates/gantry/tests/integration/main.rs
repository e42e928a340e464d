//! Integration suite: every test starts a real server process and talks to it over HTTP or
//! through the CLI. Set `GANTRY_TEST_DATABASE_URL=postgres://…` to run it on PostgreSQL.

mod common;

mod access_control;
mod access_matrix;
mod auth;
mod caches;
mod cargo;
mod cargo_upstream;
mod cli_listings;
mod cli_messages;
mod client_errors;
mod early_refusal;
mod hardening;
mod hardening_archives;
mod hardening_http;
mod hardening_leftovers;
mod hardening_policy;
mod maven;
mod maven_http;
mod npm;
mod npm_upstream;
mod oci;
mod oci_clients;
mod oci_scan;
mod path_names;
mod pipeline;
mod policies;
mod policy_ux;
mod promotion;
mod promotions;
mod python;
mod python_upstream;
mod raw;
mod receiver;
mod repos;
mod robustness;
mod s3;
mod scanning;
mod security_summary;
mod server;
mod severity_aliases;
mod upgrade;
mod vex;
mod webhooks;
