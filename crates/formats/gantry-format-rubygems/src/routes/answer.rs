//! Answers for rendered documents: ETag (`"MD5"` of the whole document, what Bundler 2.3
//! checks a ranged read against), `Repr-Digest` (what newer Bundlers check), 304 on a
//! matching `If-None-Match`, and single byte ranges (Bundler asks for the bytes past its
//! copy of `/versions` and `/info/NAME`, one byte of overlap).

use axum::body::Body;
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    RANGE,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_protocol::range::{self, RangeRequest};

use super::snapshot::Doc;

pub(crate) const TEXT: &str = "text/plain; charset=utf-8";
pub(crate) const BINARY: &str = "application/octet-stream";

fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        })
}

/// `doc` as the answer to a GET or HEAD with these request headers.
pub(crate) fn document(
    method: &Method,
    headers: &HeaderMap,
    doc: &Doc,
    content_type: &'static str,
) -> Response {
    let mut out = HeaderMap::new();
    if let Ok(etag) = HeaderValue::from_str(&doc.etag) {
        out.insert(ETAG, etag);
    }
    if let Ok(digest) = HeaderValue::from_str(&doc.digest) {
        out.insert("repr-digest", digest);
    }
    out.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("max-age=0, private, must-revalidate"),
    );
    out.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if matches(headers, &doc.etag) {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    out.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    let size = doc.body.len() as u64;
    let wanted = range::parse(headers.get(RANGE).and_then(|v| v.to_str().ok()), size);
    let (status, body) = match wanted {
        RangeRequest::Full => (StatusCode::OK, doc.body.clone()),
        RangeRequest::Partial(r) => {
            let (start, end) = (r.start as usize, r.end as usize);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1))
            {
                out.insert(CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, doc.body.slice(start..end))
        }
        RangeRequest::Unsatisfiable => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                out.insert(CONTENT_RANGE, v);
            }
            return (StatusCode::RANGE_NOT_SATISFIABLE, out).into_response();
        }
    };
    out.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    if method == Method::HEAD {
        return (status, out).into_response();
    }
    (status, out, Body::from(body)).into_response()
}
