//! Errors in the shape each native client shows. Every route answers errors with the
//! Contract's envelope `{"error": {"code", "message"}}`; protocol clients do not read it:
//! npm prints `body.error` as a string (an object became `[object Object]`), cargo prints
//! `errors[].detail`, and twine prints the HTTP reason phrase. A format's router installs
//! [`ClientShape::apply`] so its clients print Gantry's own message; the REST API keeps the
//! envelope.

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::Response;
use axum::Router;

/// Largest error body rewritten; error bodies are a few hundred bytes.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Longest reason phrase sent: enough for any message Gantry writes, short enough for every
/// client's status-line parser.
const MAX_REASON: usize = 400;

/// How a protocol's client shows an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientShape {
    /// `{"error": "message"}` (npm's registry fetch appends `body.error` to its message).
    Npm,
    /// The envelope plus `{"errors": [{"detail": "message"}]}` (cargo's registry web API).
    Cargo,
    /// The envelope, and the message as the HTTP reason phrase (twine prints the reason).
    ReasonPhrase,
    /// The message alone as `text/plain` (the go command prints a plain-text error body of a
    /// proxy, and nothing of any other).
    PlainText,
    /// The envelope plus `"warning": message`, typed exactly `application/json`: Composer
    /// prints a failed response's `warning` ("Warning from URL: message"), and only for that
    /// type. A 404 carries none, so a lookup of an unknown package stays quiet.
    JsonWarning,
}

impl ClientShape {
    /// `router` with its error responses rewritten into this shape.
    pub fn apply<S: Clone + Send + Sync + 'static>(self, router: Router<S>) -> Router<S> {
        router.layer(axum::middleware::map_response(move |r| self.reshape(r)))
    }

    async fn reshape(self, response: Response) -> Response {
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !(response.status().is_client_error() || response.status().is_server_error()) || !is_json
        {
            return response;
        }
        let (mut parts, body) = response.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
            return Response::from_parts(parts, Body::empty());
        };
        let envelope: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let (Some(code), Some(message)) = (
            envelope["error"]["code"].as_str(),
            envelope["error"]["message"].as_str(),
        ) else {
            return Response::from_parts(parts, Body::from(bytes));
        };
        let body = match self {
            ClientShape::Npm => serde_json::json!({ "error": message, "code": code }),
            ClientShape::Cargo => serde_json::json!({
                "error": envelope["error"],
                "errors": [ { "detail": message } ],
            }),
            ClientShape::JsonWarning => {
                parts
                    .headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                if parts.status == axum::http::StatusCode::NOT_FOUND {
                    serde_json::json!({ "error": envelope["error"] })
                } else {
                    serde_json::json!({ "error": envelope["error"], "warning": message })
                }
            }
            ClientShape::PlainText => {
                let text = format!("{message}\n");
                parts.headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                parts
                    .headers
                    .insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
                return Response::from_parts(parts, Body::from(text));
            }
            ClientShape::ReasonPhrase => {
                if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(reason_phrase(message)) {
                    parts.extensions.insert(reason);
                }
                return Response::from_parts(parts, Body::from(bytes));
            }
        };
        let text = body.to_string();
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
        Response::from_parts(parts, Body::from(text))
    }
}

/// `message` as a valid reason phrase: visible ASCII and spaces, bounded.
fn reason_phrase(message: &str) -> Vec<u8> {
    let mut out: Vec<u8> = message
        .chars()
        .map(|c| match c {
            ' ' | '!'..='~' => c as u8,
            '\t' | '\n' | '\r' => b' ',
            _ => b'?',
        })
        .take(MAX_REASON)
        .collect();
    if out.is_empty() {
        out.extend_from_slice(b"Error");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_text_errors_carry_the_message_alone() {
        use axum::response::IntoResponse;
        let error = crate::error::AppError::Forbidden("package X is quarantined: held".into());
        let response = ClientShape::PlainText.reshape(error.into_response()).await;
        assert_eq!(response.status(), axum::http::StatusCode::FORBIDDEN);
        assert_eq!(
            response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("text/plain; charset=utf-8")
        );
        let body = axum::body::to_bytes(response.into_body(), 1024).await;
        assert_eq!(
            body.ok().as_deref(),
            Some(&b"package X is quarantined: held\n"[..])
        );
    }

    #[tokio::test]
    async fn json_warnings_carry_the_message_except_on_404() {
        use axum::response::IntoResponse;
        let error = crate::error::AppError::Forbidden("package X is quarantined: held".into());
        let response = ClientShape::JsonWarning
            .reshape(error.into_response())
            .await;
        assert_eq!(
            response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(body["warning"], "package X is quarantined: held");
        assert_eq!(body["error"]["code"], "forbidden");
        let missing = crate::error::AppError::NotFound("no such package".into());
        let response = ClientShape::JsonWarning
            .reshape(missing.into_response())
            .await;
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert!(body.get("warning").is_none(), "{body}");
        assert_eq!(body["error"]["message"], "no such package");
    }

    #[test]
    fn reason_phrases_are_visible_ascii_and_bounded() {
        assert_eq!(reason_phrase("a\r\nb é"), b"a  b ?".to_vec());
        assert_eq!(reason_phrase(&"x".repeat(1000)).len(), MAX_REASON);
        assert_eq!(reason_phrase(""), b"Error".to_vec());
        assert!(hyper::ext::ReasonPhrase::try_from(reason_phrase("409: é\u{202e}")).is_ok());
    }
}
