//! Requests to the REST API's router, in process, as the signed-in caller. Pages read and act
//! only through here, so every rule (privileges, private repositories, the promotion gate,
//! validation) is the API's own, applied once.

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use tower::Service;

use crate::error::UiError;
use crate::session::Viewer;

/// The most of an API answer a page reads: listings are paged, so answers stay far below.
const MAX_ANSWER: usize = 32 * 1024 * 1024;

#[derive(Clone)]
pub(crate) struct Api {
    router: Router,
}

/// An API answer: status, headers and the whole (bounded) body.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    /// The answer's JSON, or the API's error message as a page error.
    pub(crate) fn json<T: DeserializeOwned>(self) -> Result<T, UiError> {
        serde_json::from_slice(&self.accepted()?.body)
            .map_err(|e| UiError::Internal(format!("unexpected API answer: {e}")))
    }

    /// The answer when the API accepted the request; its refusal as a page error otherwise.
    pub(crate) fn accepted(self) -> Result<Self, UiError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(UiError::from_answer(&self))
        }
    }

    /// The `error.message` of an error answer.
    pub(crate) fn message(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("the request failed ({})", self.status))
    }

    pub(crate) fn header_i64(&self, name: &str) -> Option<i64> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }
}

impl Api {
    pub(crate) fn new(router: Router) -> Self {
        Self { router }
    }

    /// Sends `body` (with `content_type`) to `path_and_query` as `viewer`'s caller.
    pub(crate) async fn send(
        &self,
        viewer: &Viewer,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> Result<Answer, UiError> {
        self.send_as(viewer, None, method, path_and_query, content_type, body)
            .await
    }

    /// Calls the API with a token the browser presented (at sign-in): the API resolves it as
    /// it resolves any header, failed-attempt limit included.
    pub(crate) async fn call_with_token(
        &self,
        viewer: &Viewer,
        token: &str,
        method: Method,
        path_and_query: &str,
    ) -> Result<Answer, UiError> {
        self.send_as(
            viewer,
            Some(token),
            method,
            path_and_query,
            None,
            Body::empty(),
        )
        .await
    }

    async fn send_as(
        &self,
        viewer: &Viewer,
        token: Option<&str>,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> Result<Answer, UiError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .body(body)
            .map_err(|e| UiError::Internal(format!("cannot build an API request: {e}")))?;
        let headers = request.headers_mut();
        // Download links in answers name the host the browser used.
        if let Some(host) = &viewer.host {
            headers.insert(HOST, host.clone());
        }
        if let Some(kind) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
            headers.insert(CONTENT_TYPE, kind);
        }
        match token.map(|t| HeaderValue::from_str(&format!("Bearer {t}"))) {
            Some(Ok(bearer)) => {
                request.headers_mut().insert(AUTHORIZATION, bearer);
                for forwarded in &viewer.forwarded {
                    request
                        .headers_mut()
                        .append("x-forwarded-for", forwarded.clone());
                }
            }
            Some(Err(_)) => return Err(UiError::BadRequest("that is not a token".into())),
            None => {
                request.extensions_mut().insert(viewer.caller.clone());
            }
        }
        if let Some(peer) = viewer.peer {
            request.extensions_mut().insert(peer);
        }
        let mut router = self.router.clone();
        let response = match Service::<Request<Body>>::call(&mut router, request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, MAX_ANSWER)
            .await
            .map_err(|e| UiError::Internal(format!("cannot read an API answer: {e}")))?;
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    pub(crate) async fn call(
        &self,
        viewer: &Viewer,
        method: Method,
        path_and_query: &str,
        json: Option<&serde_json::Value>,
    ) -> Result<Answer, UiError> {
        match json {
            Some(value) => {
                let bytes = serde_json::to_vec(value)
                    .map_err(|e| UiError::Internal(format!("cannot encode a request: {e}")))?;
                self.send(
                    viewer,
                    method,
                    path_and_query,
                    Some("application/json"),
                    Body::from(bytes),
                )
                .await
            }
            None => {
                self.send(viewer, method, path_and_query, None, Body::empty())
                    .await
            }
        }
    }

    /// GETs `path_and_query` and reads its JSON.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        viewer: &Viewer,
        path_and_query: &str,
    ) -> Result<T, UiError> {
        self.call(viewer, Method::GET, path_and_query, None)
            .await?
            .json()
    }
}

/// Percent-encodes one path segment or query value.
pub(crate) fn enc(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
