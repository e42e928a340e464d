//! The one error type of request handlers, rendered as the Contract's JSON envelope
//! `{"error": {"code": "...", "message": "..."}}`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gantry_blobs::BlobError;
use gantry_db::DbError;
use gantry_formats::FormatError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    RangeNotSatisfiable(String),
    #[error("{0}")]
    Unprocessable(String),
    /// An upstream failed.
    #[error("{0}")]
    BadGateway(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("internal error: {0}")]
    Internal(String),
    /// A store this server depends on does not answer (readiness).
    #[error("{0}")]
    Unavailable(String),
    /// A refusal on access grounds, recorded in the audit log.
    #[error("{0}")]
    Denied(Box<AppError>, Box<Denial>),
}

/// Who was refused, attached to a denial's response for the audit middleware.
#[derive(Debug, Clone)]
pub struct Denial {
    pub namespace: Option<String>,
    pub actor: String,
    pub address: Option<String>,
}

/// A denial's record as the audit middleware finds it on the response.
#[derive(Debug, Clone)]
pub struct DeniedResponse {
    pub denial: Denial,
    pub reason: String,
}

/// Body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Denied(inner, _) => inner.status(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::MethodNotAllowed(_) => "method_not_allowed",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::RangeNotSatisfiable(_) => "range_not_satisfiable",
            AppError::Unprocessable(_) => "unprocessable",
            AppError::BadGateway(_) => "bad_gateway",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Internal(_) => "internal",
            AppError::Unavailable(_) => "unavailable",
            AppError::Denied(inner, _) => inner.code(),
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        AppError::Internal(err.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Denied(inner, denial) = self {
            let reason = inner.to_string();
            let mut response = inner.into_response();
            response.extensions_mut().insert(DeniedResponse {
                denial: *denial,
                reason,
            });
            return response;
        }
        let retry_after = match &self {
            AppError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let status = self.status();
        let message = match &self {
            // Details of internal failures go to the log, not to the client.
            AppError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                "internal server error".to_owned()
            }
            // A message may quote client input; none is sent back longer than this.
            other => bounded_message(other.to_string()),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        // Clients that send credentials only when challenged (pip's keyring, some HTTP
        // libraries) need to be asked.
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"gantry\""),
            );
        }
        if let Some(wait) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, wait.into());
        }
        response
    }
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound(what) => AppError::NotFound(format!("{what} not found")),
            DbError::Conflict(message) => AppError::Conflict(message),
            other => AppError::internal(other),
        }
    }
}

impl From<BlobError> for AppError {
    fn from(err: BlobError) -> Self {
        match err {
            BlobError::TooLarge { .. } => AppError::PayloadTooLarge(err.to_string()),
            BlobError::Source(_) => AppError::BadRequest(err.to_string()),
            BlobError::NotFound(_) => AppError::internal(err),
            BlobError::BadRange => AppError::RangeNotSatisfiable(err.to_string()),
            other => AppError::internal(other),
        }
    }
}

impl From<FormatError> for AppError {
    fn from(err: FormatError) -> Self {
        match err {
            FormatError::Invalid(_) => AppError::BadRequest(err.to_string()),
            FormatError::ChecksumMismatch { .. } => AppError::Unprocessable(err.to_string()),
            FormatError::Io(_) => AppError::internal(err),
        }
    }
}

impl From<gantry_core::NameError> for AppError {
    fn from(err: gantry_core::NameError) -> Self {
        AppError::BadRequest(err.to_string())
    }
}

impl From<gantry_core::QueryError> for AppError {
    fn from(err: gantry_core::QueryError) -> Self {
        AppError::BadRequest(format!("invalid query: {err}"))
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => AppError::Unprocessable(e.body_text()),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::PayloadTooLarge(e.body_text())
            }
            other => AppError::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::BadRequest(rejection.body_text())
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        AppError::BadRequest(rejection.body_text())
    }
}

/// `Json` whose rejections are [`AppError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `Query` whose rejections are [`AppError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);

/// `Path` whose rejections are [`AppError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct ApiPath<T>(pub T);

pub type AppResult<T> = Result<T, AppError>;

/// Longest error message sent to a client.
const MAX_MESSAGE: usize = 2048;

/// The error of a handler that reads an upload body: answered like any [`AppError`] (a
/// format router's client shape reshapes it), and then the connection closes: the body may be
/// partly unread, and the client's next request must not be read as the rest of it.
#[derive(Debug)]
pub struct Closing(pub AppError);

impl<E> From<E> for Closing
where
    AppError: From<E>,
{
    fn from(err: E) -> Self {
        Self(AppError::from(err))
    }
}

impl IntoResponse for Closing {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        response
    }
}

/// Cuts a message to [`MAX_MESSAGE`] bytes (on a character boundary), marking the cut.
pub fn bounded_message(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}
