//! Rendered install-index pages, kept in memory and reused while the data they were rendered
//! from is unchanged. A page is stored with a *validator* — a cheap summary of the rows it was
//! built from (count, ids, last change) — and served again only when a fresh validator
//! matches, so a change to any package of the page renders it anew. Bounded by total bytes;
//! the least recently used pages go first.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

pub struct IndexCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    pages: HashMap<String, Page>,
    bytes: usize,
    clock: u64,
}

struct Page {
    validator: String,
    body: Bytes,
    /// A number kept with the page (cargo keeps the last change time for Last-Modified).
    extra: i64,
    used: u64,
}

impl IndexCache {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The page stored under `key` if it was rendered from data with this `validator`.
    pub fn get(&self, key: &str, validator: &str) -> Option<Bytes> {
        self.get_with(key, validator).map(|(body, _)| body)
    }

    /// [`Self::get`] with the number stored beside the page.
    pub fn get_with(&self, key: &str, validator: &str) -> Option<(Bytes, i64)> {
        let mut inner = self.inner.lock().ok()?;
        inner.clock += 1;
        let clock = inner.clock;
        let page = inner.pages.get_mut(key)?;
        if page.validator != validator {
            return None;
        }
        page.used = clock;
        Some((page.body.clone(), page.extra))
    }

    pub fn put(&self, key: String, validator: String, body: Bytes) {
        self.put_with(key, validator, body, 0);
    }

    /// [`Self::put`] with a number kept beside the page.
    pub fn put_with(&self, key: String, validator: String, body: Bytes, extra: i64) {
        if body.len() > self.max_bytes / 4 {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.clock += 1;
        let clock = inner.clock;
        if let Some(old) = inner.pages.remove(&key) {
            inner.bytes -= old.body.len();
        }
        while inner.bytes + body.len() > self.max_bytes {
            let Some(oldest) = inner
                .pages
                .iter()
                .min_by_key(|(_, p)| p.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(p) = inner.pages.remove(&oldest) {
                inner.bytes -= p.body.len();
            }
        }
        inner.bytes += body.len();
        inner.pages.insert(
            key,
            Page {
                validator,
                body,
                extra,
                used: clock,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_matching_validators_and_stays_bounded() {
        let cache = IndexCache::new(400);
        cache.put("a".into(), "v1".into(), Bytes::from(vec![b'a'; 100]));
        assert!(cache.get("a", "v1").is_some());
        assert!(cache.get("a", "v2").is_none());
        assert!(cache.get("b", "v1").is_none());
        cache.put("b".into(), "v1".into(), Bytes::from(vec![b'b'; 100]));
        cache.put("c".into(), "v1".into(), Bytes::from(vec![b'c'; 100]));
        assert!(cache.get("a", "v1").is_some());
        // Full: the least recently used page (b) makes room.
        cache.put("d".into(), "v1".into(), Bytes::from(vec![b'd'; 100]));
        cache.put("e".into(), "v1".into(), Bytes::from(vec![b'e'; 100]));
        assert!(cache.get("b", "v1").is_none());
        assert!(cache.get("a", "v1").is_some());
        assert!(cache.get("e", "v1").is_some());
        // Too large to keep at all.
        cache.put("big".into(), "v1".into(), Bytes::from(vec![0; 200]));
        assert!(cache.get("big", "v1").is_none());
    }
}
