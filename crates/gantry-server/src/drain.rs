//! Keeps reading a request body the handler did not read, after an early answer.
//!
//! A handler that refuses an upload before reading it (unknown repository, missing version,
//! no rights, too large) drops the body. The server would then close the connection while the
//! client is still writing, and the client sees "broken pipe" or "connection reset" instead of
//! the answer: the kernel discards the unread answer on a reset. Clients such as twine do not
//! send `Expect: 100-continue`, so the server cannot ask them to wait. This layer keeps the
//! unread body alive and discards it in the background, up to [`DRAIN_MAX_BYTES`] and
//! [`DRAIN_MAX_TIME`], so the client reads the answer, then the connection closes (or is
//! reused when the body ended).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http_body::Frame;

/// The most bytes of an unread body discarded after an early answer.
pub(crate) const DRAIN_MAX_BYTES: u64 = 1024 * 1024 * 1024;
/// The longest time spent discarding an unread body after an early answer.
pub(crate) const DRAIN_MAX_TIME: Duration = Duration::from_secs(30);

type Slot = Arc<Mutex<Option<Body>>>;

/// The request body as the handler sees it: the real body stays in a slot the middleware
/// keeps, so dropping this one does not drop the connection's body.
struct SharedBody(Slot);

impl http_body::Body for SharedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Ok(mut slot) = self.0.lock() else {
            return Poll::Ready(None);
        };
        match slot.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().map(http_body::Body::is_end_stream))
            .unwrap_or(true)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().map(http_body::Body::size_hint))
            .unwrap_or_default()
    }
}

/// Middleware: runs the handler on a shared body; when the handler left part of the body
/// unread, discards the rest in the background within the bounds.
pub(crate) async fn drain_unread_bodies(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if http_body::Body::is_end_stream(&body) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let slot: Slot = Arc::new(Mutex::new(Some(body)));
    let shared = Body::new(SharedBody(Arc::clone(&slot)));
    let response = next.run(Request::from_parts(parts, shared)).await;
    let left = slot.lock().ok().and_then(|mut s| s.take());
    if let Some(body) = left.filter(|b| !http_body::Body::is_end_stream(b)) {
        // A body declared larger than the bound would be cut off anyway: close at once.
        if declared.is_none_or(|len| len <= DRAIN_MAX_BYTES) {
            tokio::spawn(discard(body));
        }
    }
    response
}

async fn discard(body: Body) {
    let mut stream = body.into_data_stream();
    let mut read = 0u64;
    let outcome = tokio::time::timeout(DRAIN_MAX_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            read += chunk.len() as u64;
            if read > DRAIN_MAX_BYTES {
                break;
            }
        }
    })
    .await;
    tracing::debug!(
        bytes = read,
        timed_out = outcome.is_err(),
        "discarded an unread request body"
    );
}
