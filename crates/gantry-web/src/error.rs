//! What a page shows when something fails: the API's own message with its status, as HTML.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::Answer;
use crate::layout;

#[derive(Debug, thiserror::Error)]
pub(crate) enum UiError {
    /// The API refused or failed; its message is shown as it is.
    #[error("{message}")]
    Api { status: StatusCode, message: String },
    /// A form without this session's CSRF token, or sent from another site.
    #[error("the form expired or was not sent from this site; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A form's page shown again with the API's refusal (see `Ctx::send`): an error, so that
    /// the handler ends where the refusal arrives.
    #[error("the form was refused ({})", .0.status())]
    Shown(Box<Response>),
}

impl UiError {
    pub(crate) fn from_answer(answer: &Answer) -> Self {
        UiError::Api {
            status: answer.status,
            message: answer.message(),
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            UiError::Api { status, .. } => *status,
            UiError::Csrf => StatusCode::FORBIDDEN,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            UiError::Shown(page) => page.status(),
        }
    }
}

impl From<gantry_db::DbError> for UiError {
    fn from(err: gantry_db::DbError) -> Self {
        UiError::Internal(err.to_string())
    }
}

impl From<gantry_protocol::error::AppError> for UiError {
    fn from(err: gantry_protocol::error::AppError) -> Self {
        UiError::Api {
            status: err.status(),
            message: err.to_string(),
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        if let UiError::Shown(page) = self {
            return *page;
        }
        let status = self.status();
        let message = match &self {
            UiError::Internal(detail) => {
                tracing::error!(%detail, "web page failed");
                "Something went wrong on the server; the error was logged.".to_owned()
            }
            other => other.to_string(),
        };
        let hint = match status {
            StatusCode::UNAUTHORIZED => Some("Sign in to continue."),
            StatusCode::NOT_FOUND => Some("It does not exist, or you may not see it."),
            _ => None,
        };
        layout::error_page(status, &message, hint)
    }
}
