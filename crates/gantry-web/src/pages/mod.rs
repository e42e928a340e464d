//! One module per page (or group of forms on a page).

pub(crate) mod actions;
pub(crate) mod audit;
pub(crate) mod automation;
pub(crate) mod home;
pub(crate) mod namespace;
pub(crate) mod package;
pub(crate) mod policies;
pub(crate) mod promote;
pub(crate) mod repo;
pub(crate) mod security;
pub(crate) mod sign_in;
pub(crate) mod tokens;
pub(crate) mod upload;
pub(crate) mod webhooks;
