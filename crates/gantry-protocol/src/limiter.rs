//! Rate limiting of failed authentication per client address: after too many failures within
//! a window, that address gets 429 with `Retry-After` until the window ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses tracked at most; the oldest windows are dropped beyond this.
const MAX_TRACKED: usize = 100_000;

pub struct AuthLimiter {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl AuthLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `addr` may try again, when it is blocked now.
    pub fn blocked(&self, addr: IpAddr) -> Option<u64> {
        let failures = self.failures.lock().ok()?;
        let (count, start) = failures.get(&addr)?;
        let elapsed = start.elapsed();
        (*count >= self.limit && elapsed < self.window)
            .then(|| (self.window - elapsed).as_secs().max(1))
    }

    /// Records a failure; returns the wait when this failure blocks the address.
    pub fn fail(&self, addr: IpAddr) -> Option<u64> {
        let Ok(mut failures) = self.failures.lock() else {
            return None;
        };
        if failures.len() >= MAX_TRACKED {
            let window = self.window;
            failures.retain(|_, (_, start)| start.elapsed() < window);
        }
        let entry = failures.entry(addr).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        (entry.0 >= self.limit).then(|| (self.window - entry.1.elapsed()).as_secs().max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let limiter = AuthLimiter::new(3, Duration::from_millis(200));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert_eq!(limiter.fail(a), None);
        assert_eq!(limiter.fail(a), None);
        assert!(limiter.fail(a).is_some());
        assert!(limiter.blocked(a).is_some());
        assert!(limiter.blocked(b).is_none());
        std::thread::sleep(Duration::from_millis(250));
        assert!(limiter.blocked(a).is_none());
    }
}
