//! Submitted forms: `application/x-www-form-urlencoded` bodies, bounded, with repeated
//! fields kept (a selection of packages is many `slug` fields).

use axum::extract::{FromRequest, Request};

use crate::error::UiError;
use crate::session::Viewer;

/// Forms carry names, queries and Rego policies at most; never files.
const MAX_FORM: usize = 256 * 1024;

pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field's trimmed value; empty counts as absent.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Refuses the form unless it carries `viewer`'s CSRF token from this site.
    pub(crate) fn check(&self, viewer: &Viewer) -> Result<(), UiError> {
        viewer.check_csrf(self.get("csrf"))
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = UiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, UiError> {
        let body = axum::body::to_bytes(request.into_body(), MAX_FORM)
            .await
            .map_err(|_| UiError::BadRequest("the form is too large".into()))?;
        Ok(Form(
            url::form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}
