//! The single-range subset of HTTP `Range` that download clients use.

use gantry_blobs::BlobRange;

/// What to serve for a `Range` header against a body of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: serve the whole body (also for multi-range requests, which RFC 9110
    /// lets a server ignore).
    Full,
    Partial(BlobRange),
    Unsatisfiable,
}

pub fn parse(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        // Suffix: the last N bytes.
        let Ok(n) = end.parse::<u64>() else {
            return RangeRequest::Full;
        };
        if n == 0 {
            return RangeRequest::Unsatisfiable;
        }
        BlobRange {
            start: size.saturating_sub(n),
            end: size,
        }
    } else {
        let Ok(first) = start.parse::<u64>() else {
            return RangeRequest::Full;
        };
        let last = if end.is_empty() {
            size.saturating_sub(1)
        } else {
            match end.parse::<u64>() {
                Ok(last) if last >= first => last.min(size.saturating_sub(1)),
                _ => return RangeRequest::Full,
            }
        };
        if first >= size {
            return RangeRequest::Unsatisfiable;
        }
        BlobRange {
            start: first,
            end: last + 1,
        }
    };
    if range.start >= range.end {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(start: u64, end: u64) -> RangeRequest {
        RangeRequest::Partial(BlobRange { start, end })
    }

    #[test]
    fn parses_ranges() {
        assert_eq!(parse(None, 10), RangeRequest::Full);
        assert_eq!(parse(Some("bytes=0-4"), 10), partial(0, 5));
        assert_eq!(parse(Some("bytes=5-"), 10), partial(5, 10));
        assert_eq!(parse(Some("bytes=-3"), 10), partial(7, 10));
        assert_eq!(parse(Some("bytes=8-100"), 10), partial(8, 10));
        assert_eq!(parse(Some("bytes=10-"), 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-1,3-4"), 10), RangeRequest::Full);
        assert_eq!(parse(Some("bytes=5-2"), 10), RangeRequest::Full);
        assert_eq!(parse(Some("items=0-1"), 10), RangeRequest::Full);
        assert_eq!(parse(Some("bytes=0-0"), 0), RangeRequest::Unsatisfiable);
    }
}
