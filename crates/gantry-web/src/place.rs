//! Where a page is: the site, a namespace (`{owner}`) or a repository (`{owner}/{repo}`).
//! The names are validated by the protocol toolkit's extractors, so a malformed one answers
//! 400 with the API's own message (shown as a page) before any request is made; the other
//! parameters of a route come from small named structs that `Path` fills by name.

use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use gantry_core::{OwnerName, RepoName};
use gantry_protocol::extract::{OwnerPath, RepoPath};
use serde::Deserialize;

use crate::api::enc;
use crate::error::UiError;
use crate::view::repo_path;

/// One step of a page's breadcrumb trail: (label, link).
pub(crate) type Crumb<'a> = (&'a str, String);

/// What a page's place gives it: the breadcrumbs that lead there.
pub(crate) trait Place {
    fn crumbs(&self) -> Vec<Crumb<'_>>;
}

/// A page of the whole site (tokens, users).
pub(crate) struct Site;

impl<S: Send + Sync> FromRequestParts<S> for Site {
    type Rejection = UiError;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, UiError> {
        Ok(Site)
    }
}

impl Place for Site {
    fn crumbs(&self) -> Vec<Crumb<'_>> {
        Vec::new()
    }
}

/// A namespace's page: `/ui/{owner}…`.
pub(crate) struct OwnerAt {
    owner: OwnerName,
}

impl OwnerAt {
    pub(crate) fn owner(&self) -> &str {
        self.owner.as_str()
    }

    /// `/ui/OWNER`, and what follows.
    pub(crate) fn ui(&self, tail: &str) -> String {
        format!("/ui/{}{tail}", enc(self.owner()))
    }

    /// `/api/v1/AREA/OWNER`.
    pub(crate) fn api(&self, area: &str) -> String {
        format!("/api/v1/{area}/{}", enc(self.owner()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OwnerAt {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, UiError> {
        let OwnerPath { owner } = OwnerPath::from_request_parts(parts, state).await?;
        Ok(Self { owner })
    }
}

impl Place for OwnerAt {
    fn crumbs(&self) -> Vec<Crumb<'_>> {
        vec![(self.owner(), self.ui(""))]
    }
}

/// A repository's page: `/ui/{owner}/{repo}…`.
pub(crate) struct RepoAt {
    owner: OwnerName,
    repo: RepoName,
}

impl RepoAt {
    pub(crate) fn owner(&self) -> &str {
        self.owner.as_str()
    }

    pub(crate) fn repo(&self) -> &str {
        self.repo.as_str()
    }

    /// `/ui/OWNER/REPO`, and what follows.
    pub(crate) fn ui(&self, tail: &str) -> String {
        format!("{}{tail}", repo_path(self.owner(), self.repo()))
    }

    /// `/api/v1/AREA/OWNER/REPO`.
    pub(crate) fn api(&self, area: &str) -> String {
        format!("/api/v1/{area}/{}/{}", enc(self.owner()), enc(self.repo()))
    }
}

/// `OWNER/REPO`, as the API names a repository.
impl fmt::Display for RepoAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RepoAt {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, UiError> {
        let RepoPath { owner, repo } = RepoPath::from_request_parts(parts, state).await?;
        Ok(Self { owner, repo })
    }
}

impl Place for RepoAt {
    fn crumbs(&self) -> Vec<Crumb<'_>> {
        vec![
            (self.owner(), format!("/ui/{}", enc(self.owner()))),
            (self.repo(), self.ui("")),
        ]
    }
}

/// A route's `{id}`, passed on to the API as it was sent (the API reads it).
#[derive(Deserialize)]
pub(crate) struct Id {
    pub(crate) id: String,
}

/// A route's `{action}`: which of a page's forms was sent.
#[derive(Deserialize)]
pub(crate) struct Action {
    pub(crate) action: String,
}

/// A route's `{slug}`: a package's permanent id.
#[derive(Deserialize)]
pub(crate) struct Slug {
    pub(crate) slug: String,
}
