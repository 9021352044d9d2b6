//! Failed logins counted per account and per client address, to slow password guessing.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins remembered per account and per client address, in memory: a restart
/// forgets them, which costs an attacker a restart they cannot cause.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Per account: 5 failures in 5 minutes, then wait. Per address: 20, so one office behind
/// one address is not locked out by one person's typos.
const WINDOW: Duration = Duration::from_secs(300);
const PER_ACCOUNT: usize = 5;
const PER_ADDRESS: usize = 20;

impl LoginLimiter {
    fn keys(username: &str, client: Option<IpAddr>) -> [(String, usize); 2] {
        [
            (format!("user:{username}"), PER_ACCOUNT),
            (
                format!("addr:{}", client.map(|c| c.to_string()).unwrap_or_default()),
                PER_ADDRESS,
            ),
        ]
    }

    /// `Err(seconds to wait)` when either limit is reached.
    pub fn check(&self, username: &str, client: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let mut failures = crate::locks::lock(&self.failures);
        let mut wait = 0;
        for (key, limit) in Self::keys(username, client) {
            if let Some(times) = failures.get_mut(&key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > WINDOW)
                {
                    times.pop_front();
                }
                if times.len() >= limit {
                    let oldest = *times.front().expect("non-empty");
                    wait = wait.max((WINDOW - now.duration_since(oldest)).as_secs() + 1);
                }
            }
        }
        if wait > 0 {
            Err(wait)
        } else {
            Ok(())
        }
    }

    pub fn record_failure(&self, username: &str, client: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = crate::locks::lock(&self.failures);
        // Bounded memory under a flood of made-up usernames: forget the oldest entries.
        if failures.len() > 100_000 {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        for (key, _) in Self::keys(username, client) {
            failures.entry(key).or_default().push_back(now);
        }
    }

    pub fn record_success(&self, username: &str) {
        crate::locks::lock(&self.failures).remove(&format!("user:{username}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_counts_per_account_and_per_address() {
        let limiter = LoginLimiter::default();
        let here: Option<IpAddr> = "10.0.0.1".parse().ok();
        for _ in 0..PER_ACCOUNT {
            assert!(limiter.check("alice", here).is_ok());
            limiter.record_failure("alice", here);
        }
        let wait = limiter.check("alice", here).unwrap_err();
        assert!(wait > 0 && wait <= WINDOW.as_secs() + 1, "{wait}");
        // Another account from the same address is still allowed, until the address limit.
        assert!(limiter.check("bob", here).is_ok());
        limiter.record_success("alice");
        assert!(limiter.check("alice", here).is_ok());
    }
}
