//! Rate limiting of failed authentication per client network: after too many failures within
//! a window, that network's *failed* attempts get 429 with `Retry-After` until the window
//! ends. Callers decide what a failure is; a request that presents a valid token is never
//! refused here (many CI runners share one address behind NAT, and one broken job must not
//! lock out the others).
//!
//! IPv4 clients are counted per address. IPv6 clients are counted per /64: one host usually
//! holds a whole /64 and could otherwise take a fresh address for every attempt. The table is
//! bounded: when it is full, expired windows are dropped, then the oldest ones.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Networks tracked at most.
const MAX_TRACKED: usize = 100_000;

pub struct AuthLimiter {
    limit: u32,
    window: Duration,
    max_tracked: usize,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

/// The key an address is counted under: an IPv4 address (IPv4-mapped IPv6 included) as is,
/// an IPv6 address as its /64.
fn network(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

impl AuthLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::with_capacity(limit, window, MAX_TRACKED)
    }

    fn with_capacity(limit: u32, window: Duration, max_tracked: usize) -> Self {
        Self {
            limit,
            window,
            max_tracked: max_tracked.max(1),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `addr`'s network may fail again, when it is blocked now.
    pub fn blocked(&self, addr: IpAddr) -> Option<u64> {
        let failures = self.failures.lock().ok()?;
        let (count, start) = failures.get(&network(addr))?;
        let elapsed = start.elapsed();
        (*count >= self.limit && elapsed < self.window)
            .then(|| (self.window - elapsed).as_secs().max(1))
    }

    /// Records a failure; returns the wait when this failure blocks the network.
    pub fn fail(&self, addr: IpAddr) -> Option<u64> {
        let key = network(addr);
        let Ok(mut failures) = self.failures.lock() else {
            return None;
        };
        if failures.len() >= self.max_tracked && !failures.contains_key(&key) {
            self.make_room(&mut failures);
        }
        let entry = failures.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 = entry.0.saturating_add(1);
        (entry.0 >= self.limit).then(|| (self.window - entry.1.elapsed()).as_secs().max(1))
    }

    /// Drops expired windows; if the table is still full, the oldest eighth of it, so a flood
    /// of new networks costs one pass per many insertions.
    fn make_room(&self, failures: &mut HashMap<IpAddr, (u32, Instant)>) {
        let window = self.window;
        failures.retain(|_, (_, start)| start.elapsed() < window);
        if failures.len() < self.max_tracked {
            return;
        }
        let mut starts: Vec<Instant> = failures.values().map(|(_, start)| *start).collect();
        let cut = (starts.len() / 8).max(1).min(starts.len() - 1);
        let (_, threshold, _) = starts.select_nth_unstable(cut);
        let threshold = *threshold;
        failures.retain(|_, (_, start)| *start >= threshold);
        // Equal start times can keep the table full; then drop arbitrary entries.
        while failures.len() >= self.max_tracked {
            let Some(key) = failures.keys().next().copied() else {
                break;
            };
            failures.remove(&key);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.failures.lock().map(|f| f.len()).unwrap_or(0)
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

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() -> Result<(), std::net::AddrParseError>
    {
        let limiter = AuthLimiter::new(2, Duration::from_secs(60));
        let one: IpAddr = "2001:db8:1:2::1".parse()?;
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse()?;
        let other_64: IpAddr = "2001:db8:1:3::1".parse()?;
        assert_eq!(limiter.fail(one), None);
        assert!(limiter.fail(same_64).is_some());
        assert!(limiter.blocked(one).is_some());
        assert!(limiter.blocked(other_64).is_none());
        let v4: IpAddr = [192, 0, 2, 7].into();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse()?;
        limiter.fail(v4);
        limiter.fail(mapped);
        assert!(limiter.blocked(v4).is_some());
        Ok(())
    }

    #[test]
    fn the_table_is_bounded_and_keeps_the_newest_windows() {
        let limiter = AuthLimiter::with_capacity(2, Duration::from_secs(60), 64);
        let attacker: IpAddr = [198, 51, 100, 1].into();
        for i in 0..10_000u32 {
            let addr = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            limiter.fail(addr);
            assert!(limiter.tracked() <= 64);
        }
        // A network that just failed is among the newest and survives further churn.
        limiter.fail(attacker);
        limiter.fail(attacker);
        for i in 0..5u32 {
            limiter.fail(IpAddr::from((0x0b00_0000 + i).to_be_bytes()));
        }
        assert!(limiter.blocked(attacker).is_some());
    }
}
