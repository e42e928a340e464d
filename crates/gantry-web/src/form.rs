//! Submitted forms: `application/x-www-form-urlencoded` bodies, bounded, with repeated
//! fields kept (a selection of packages is many `slug` fields).

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

use crate::error::UiError;
use crate::session::Viewer;
use crate::WebState;

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

    /// Every field, in the order sent.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl Form {
    async fn read(body: Body) -> Result<Self, UiError> {
        let body = axum::body::to_bytes(body, MAX_FORM)
            .await
            .map_err(|_| UiError::BadRequest("the form is too large".into()))?;
        Ok(Form(
            url::form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

/// A submitted form with its sender, only obtainable when the form carries the sender's CSRF
/// token and came from this site: every handler of a form takes this, so none can forget
/// the check.
pub(crate) struct Posted {
    pub(crate) viewer: Viewer,
    pub(crate) form: Form,
}

impl Posted {
    /// The sender and the form, the CSRF token checked; `parts` stay for what else the
    /// handler reads from them, which comes after this check.
    pub(crate) async fn read(
        parts: &mut Parts,
        body: Body,
        web: &WebState,
    ) -> Result<Self, UiError> {
        let viewer = Viewer::from_request_parts(parts, web).await?;
        let form = Form::read(body).await?;
        viewer.check_csrf(form.get("csrf"))?;
        Ok(Self { viewer, form })
    }
}

impl FromRequest<WebState> for Posted {
    type Rejection = UiError;

    async fn from_request(request: Request, web: &WebState) -> Result<Self, UiError> {
        let (mut parts, body) = request.into_parts();
        Self::read(&mut parts, body, web).await
    }
}
