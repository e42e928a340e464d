//! Errors in the distribution specification's shape: `{"errors": [{"code", "message",
//! "detail"}]}` with its codes, and the bearer challenge on 401.

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_protocol::error::{bounded_message, AppError, DeniedResponse};
use serde_json::json;

/// The specification's error codes used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    BlobUnknown,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    RangeInvalid,
    Unavailable,
}

impl Code {
    fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            // Not a specification code: the closest it has for a bad chunk range is this.
            Code::RangeInvalid => "BLOB_UPLOAD_INVALID",
            Code::Unavailable => "UNAVAILABLE",
        }
    }
}

/// An error answer of the registry protocol.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct OciError {
    pub(crate) status: StatusCode,
    pub(crate) code: Code,
    pub(crate) message: String,
    /// `WWW-Authenticate` for a 401.
    pub(crate) challenge: Option<String>,
    /// Extra headers (the upload's `Range` on a 416).
    pub(crate) headers: Vec<(&'static str, String)>,
    /// The toolkit's record of an access denial, kept for the audit log.
    pub(crate) denial: Option<Box<DeniedResponse>>,
}

pub(crate) type OciResult<T> = Result<T, OciError>;

impl OciError {
    pub(crate) fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            challenge: None,
            headers: Vec::new(),
            denial: None,
        }
    }

    pub(crate) fn bad(code: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found(code: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub(crate) fn internal(err: impl std::fmt::Display) -> Self {
        AppError::internal(err).into()
    }
}

impl From<AppError> for OciError {
    fn from(err: AppError) -> Self {
        let (inner, denial) = match err {
            AppError::Denied(inner, denial) => {
                let reason = inner.to_string();
                (
                    *inner,
                    Some(Box::new(DeniedResponse {
                        denial: *denial,
                        reason,
                    })),
                )
            }
            other => (other, None),
        };
        let status = inner.status();
        let code = match &inner {
            AppError::Unauthorized(_) => Code::Unauthorized,
            AppError::Forbidden(_) => Code::Denied,
            AppError::NotFound(_) => Code::NameUnknown,
            AppError::PayloadTooLarge(_) => Code::SizeInvalid,
            AppError::RangeNotSatisfiable(_) => Code::RangeInvalid,
            AppError::TooManyRequests { .. } => Code::TooManyRequests,
            AppError::Conflict(_) => Code::Denied,
            AppError::MethodNotAllowed(_) => Code::Unsupported,
            _ => Code::Unsupported,
        };
        let message = match &inner {
            AppError::Internal(detail) => {
                tracing::error!(%detail, "registry request failed");
                "internal server error".to_owned()
            }
            other => bounded_message(other.to_string()),
        };
        Self {
            status,
            code,
            message,
            challenge: None,
            headers: Vec::new(),
            denial,
        }
    }
}

impl From<gantry_db::DbError> for OciError {
    fn from(err: gantry_db::DbError) -> Self {
        AppError::from(err).into()
    }
}

impl From<crate::upstream::UpstreamError> for OciError {
    fn from(err: crate::upstream::UpstreamError) -> Self {
        tracing::warn!(error = %err, "an upstream registry failed");
        Self::new(
            StatusCode::BAD_GATEWAY,
            Code::Unavailable,
            bounded_message(err.to_string()),
        )
    }
}

impl From<gantry_blobs::BlobError> for OciError {
    fn from(err: gantry_blobs::BlobError) -> Self {
        AppError::from(err).into()
    }
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let body = json!({"errors": [{
            "code": self.code.as_str(),
            "message": self.message,
            "detail": serde_json::Value::Null,
        }]});
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(WWW_AUTHENTICATE, challenge);
        }
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        headers.insert(
            "docker-distribution-api-version",
            HeaderValue::from_static("registry/2.0"),
        );
        if let Some(denial) = self.denial {
            response.extensions_mut().insert(*denial);
        }
        response
    }
}
