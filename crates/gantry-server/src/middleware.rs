//! Response headers every answer carries, and the request-body progress bound.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, VARY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Body as HttpBody, Frame, SizeHint};

/// Nothing Gantry serves runs scripts, loads styles or is meant to be framed: the API is
/// JSON, the index pages are bare links, and files are downloads.
const CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Adds `nosniff`, a closed content security policy and `X-Frame-Options: DENY` to every
/// response, and keeps answers to credentialed requests out of shared caches.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let credentialed = request.headers().contains_key(AUTHORIZATION);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The web interface's pages bring their own (still strict) policy; nothing else may.
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    // What a request sees depends on who asks (private repositories answer 404 to others),
    // so a cache must key on the credentials as well.
    headers.append(VARY, HeaderValue::from_static("Authorization"));
    if credentialed {
        make_private(headers);
    }
    response
}

/// `Cache-Control` of a credentialed answer: `private`, keeping a handler's `no-store`,
/// `no-cache` and ages, dropping `public`.
fn make_private(headers: &mut HeaderMap) {
    let existing = headers
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut directives: Vec<&str> = existing
        .split(',')
        .map(str::trim)
        .filter(|d| {
            !d.is_empty() && !d.eq_ignore_ascii_case("public") && !d.eq_ignore_ascii_case("private")
        })
        .collect();
    directives.insert(0, "private");
    if let Ok(value) = HeaderValue::from_str(&directives.join(", ")) {
        headers.insert(CACHE_CONTROL, value);
    }
}

/// A request body that fails when no frame arrives for `timeout`, so that a client which
/// stops sending mid-body is cut off instead of holding a connection and an upload open.
pub(crate) struct ProgressBody {
    inner: Body,
    timeout: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The whole body must arrive by then, however steadily it trickles.
    overall: Pin<Box<tokio::time::Sleep>>,
}

impl ProgressBody {
    pub(crate) fn new(inner: Body, timeout: Duration, total: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: None,
            overall: Box::pin(tokio::time::sleep(total)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum Stalled {
    #[error("the client sent no part of the request body for {0:?}")]
    NoProgress(Duration),
    #[error("the request body took longer than the upload timeout")]
    TooSlow,
}

impl HttpBody for ProgressBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.overall.as_mut().poll(cx).is_ready() && !this.inner.is_end_stream() {
            return Poll::Ready(Some(Err(Box::new(Stalled::TooSlow))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                // Progress: the clock starts again at the next wait.
                this.deadline = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Some(Err(Box::new(Stalled::NoProgress(timeout)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentialed_answers_become_private() {
        let mut h = HeaderMap::new();
        h.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        make_private(&mut h);
        assert_eq!(
            h.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
            Some("private, max-age=60")
        );
        let mut h = HeaderMap::new();
        make_private(&mut h);
        assert_eq!(
            h.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
            Some("private")
        );
    }
}
