//! Content negotiation: the media types a client's `Accept` header asks for.

use axum::http::header::ACCEPT;
use axum::http::HeaderMap;

/// Each media range of the request's `Accept` header with its quality (`q`, 1.0 when absent),
/// in the order sent; nothing when the header is missing or not text.
pub fn accepted(headers: &HeaderMap) -> impl Iterator<Item = (&str, f32)> {
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|v| v.parse::<f32>().ok())
                .unwrap_or(1.0);
            (media, q)
        })
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn ranges_and_qualities() {
        let mut headers = HeaderMap::new();
        assert_eq!(super::accepted(&headers).count(), 0);
        headers.insert(
            axum::http::header::ACCEPT,
            HeaderValue::from_static("text/html;q=0.2, application/json , */*;level=1;q=0"),
        );
        let got: Vec<(&str, f32)> = super::accepted(&headers).collect();
        assert_eq!(
            got,
            vec![("text/html", 0.2), ("application/json", 1.0), ("*/*", 0.0)]
        );
    }
}
