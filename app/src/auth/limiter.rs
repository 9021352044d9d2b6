//! Logins bounded: failures counted per account and per client address to slow password
//! guessing, a bound on password checks running at once, and refusals summed for the
//! audit log so that a flood writes one row per window, not one per request.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// Per account: 5 failures in 5 minutes, then wait. Per address: 20, so one office behind
/// one address is not locked out by one person's typos.
const WINDOW: Duration = Duration::from_secs(300);
const PER_ACCOUNT: usize = 5;
const PER_ADDRESS: usize = 20;
/// Accounts and addresses remembered at most; past it the oldest are forgotten first.
const MAX_KEYS: usize = 100_000;
/// Refusals are summed per address over this long, then written as one row.
pub const REFUSALS_WINDOW: Duration = Duration::from_secs(60);
/// Addresses summed at most: past it every further refusal is summed under one catch-all
/// address, so a flood from many addresses stays bounded too.
const MAX_REFUSAL_KEYS: usize = 10_000;

/// Failed logins remembered in memory: a restart forgets them, which costs an attacker a
/// restart they cannot cause.
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// A password check holds 19 MiB and tens of milliseconds of a core: at most this
    /// many run at once, whatever arrives.
    checks: Semaphore,
    refusals: Mutex<HashMap<RefusalKey, Refusals>>,
}

/// Why a login was not even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The account or the address failed too often: wait this many seconds.
    RateLimited(u64),
    /// As many password checks as allowed are running: retry in a moment.
    Busy,
}

/// Whose refusals are summed: (address, why).
pub type RefusalKey = (String, &'static str);

/// Refusals from one address for one reason, summed since `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals {
    pub since: String,
    first: Instant,
    pub count: u64,
    /// The first few accounts tried (a flood of made-up names is not kept whole).
    pub accounts: Vec<String>,
}

/// Accounts named in one summed row.
const ACCOUNTS_SHOWN: usize = 5;

/// One login being checked: it holds a place among the concurrent checks and is counted as a
/// failure from the start, so that a burst of parallel guesses cannot pass the limit before
/// the first of them is refused. [`Attempt::succeeded`] takes the count back.
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    username: String,
    client: Option<IpAddr>,
    at: Instant,
    _check: SemaphorePermit<'a>,
}

impl Attempt<'_> {
    /// The password was right: the account's failures are forgotten and this attempt no
    /// longer counts against the address.
    pub fn succeeded(self) {
        let mut failures = crate::locks::lock(&self.limiter.failures);
        failures.remove(&account_key(&self.username));
        if let Some(times) = failures.get_mut(&address_key(self.client)) {
            if let Some(i) = times.iter().rposition(|t| *t == self.at) {
                times.remove(i);
            }
        }
    }
}

fn account_key(username: &str) -> String {
    format!("user:{username}")
}

fn address_key(client: Option<IpAddr>) -> String {
    format!(
        "addr:{}",
        client.map(super::proxies::limiter_key).unwrap_or_default()
    )
}

impl LoginLimiter {
    /// A limiter that lets `concurrent_checks` password checks run at once.
    pub fn new(concurrent_checks: usize) -> LoginLimiter {
        LoginLimiter {
            failures: Mutex::default(),
            checks: Semaphore::new(concurrent_checks),
            refusals: Mutex::default(),
        }
    }

    /// Starts checking a login, or refuses it at once (never queued): when either limit is
    /// reached, or when the concurrent checks are all taken.
    pub fn begin(&self, username: &str, client: Option<IpAddr>) -> Result<Attempt<'_>, Refused> {
        let check = self.checks.try_acquire().map_err(|_| Refused::Busy)?;
        let now = Instant::now();
        let mut failures = crate::locks::lock(&self.failures);
        let keys = [
            (account_key(username), PER_ACCOUNT),
            (address_key(client), PER_ADDRESS),
        ];
        let mut wait = 0;
        for (key, limit) in &keys {
            if let Some(times) = failures.get_mut(key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > WINDOW)
                {
                    times.pop_front();
                }
                if let Some(oldest) = times.front().filter(|_| times.len() >= *limit) {
                    wait = wait.max((WINDOW - now.duration_since(*oldest)).as_secs() + 1);
                }
            }
        }
        if wait > 0 {
            return Err(Refused::RateLimited(wait));
        }
        if failures.len() > MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        for (key, _) in keys {
            failures.entry(key).or_default().push_back(now);
        }
        Ok(Attempt {
            limiter: self,
            username: username.to_string(),
            client,
            at: now,
            _check: check,
        })
    }

    /// Counts a refusal (`why`: rate-limited, busy) of `actor` from `client`; `true` when it
    /// is the first of its window from that address, which the audit log then records as it
    /// happens (the rest are summed).
    pub fn refused(&self, why: &'static str, actor: &str, client: &str, since: &str) -> bool {
        let mut refusals = crate::locks::lock(&self.refusals);
        let mut key = (client.to_string(), why);
        if !refusals.contains_key(&key) && refusals.len() >= MAX_REFUSAL_KEYS {
            key = ("*".into(), why);
        }
        let entry = refusals.entry(key).or_insert_with(|| Refusals {
            since: since.to_string(),
            first: Instant::now(),
            count: 0,
            accounts: Vec::new(),
        });
        entry.count += 1;
        if entry.accounts.len() < ACCOUNTS_SHOWN && !entry.accounts.iter().any(|a| a == actor) {
            entry.accounts.push(actor.to_string());
        }
        entry.count == 1
    }

    /// The sums of the windows that have ended (or all of them, at shutdown), forgotten
    /// here: each becomes one audit row. A window holding only its first refusal, which was
    /// written when it happened, yields nothing.
    pub fn ended_refusals(&self, all: bool) -> Vec<(RefusalKey, Refusals)> {
        let mut refusals = crate::locks::lock(&self.refusals);
        let ended: Vec<RefusalKey> = refusals
            .iter()
            .filter(|(_, r)| all || r.first.elapsed() >= REFUSALS_WINDOW)
            .map(|(key, _)| key.clone())
            .collect();
        ended
            .into_iter()
            .filter_map(|key| refusals.remove_entry(&key))
            .filter(|(_, r)| r.count > 1)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_counts_per_account_and_per_address() {
        let limiter = LoginLimiter::new(4);
        let here: Option<IpAddr> = "10.0.0.1".parse().ok();
        for _ in 0..PER_ACCOUNT {
            drop(limiter.begin("alice", here).unwrap());
        }
        let Err(Refused::RateLimited(wait)) = limiter.begin("alice", here) else {
            panic!("alice is not limited");
        };
        assert!(wait > 0 && wait <= WINDOW.as_secs() + 1, "{wait}");
        // Another account from the same address is still allowed, until the address limit.
        limiter.begin("bob", here).unwrap().succeeded();
        for _ in 0..PER_ADDRESS - PER_ACCOUNT {
            drop(
                limiter
                    .begin(&format!("user{}", rand_name()), here)
                    .unwrap(),
            );
        }
        assert!(matches!(
            limiter.begin("carol", here),
            Err(Refused::RateLimited(_))
        ));
    }

    #[test]
    fn a_success_takes_its_count_back() {
        let limiter = LoginLimiter::new(4);
        let here: Option<IpAddr> = "10.0.0.2".parse().ok();
        for _ in 0..PER_ADDRESS * 3 {
            limiter.begin("alice", here).unwrap().succeeded();
        }
        assert!(limiter.begin("alice", here).is_ok());
    }

    #[test]
    fn attempts_in_flight_count_and_are_bounded() {
        let limiter = LoginLimiter::new(PER_ACCOUNT + 2);
        let here: Option<IpAddr> = "10.0.0.3".parse().ok();
        // Held at once, as a burst of parallel logins holds them while hashing: the sixth
        // is refused before any of the first five has finished.
        let held: Vec<_> = (0..PER_ACCOUNT)
            .map(|_| limiter.begin("alice", here).unwrap())
            .collect();
        assert!(matches!(
            limiter.begin("alice", here),
            Err(Refused::RateLimited(_))
        ));
        let more: Vec<_> = (0..2)
            .map(|i| limiter.begin(&format!("other{i}"), here).unwrap())
            .collect();
        assert!(matches!(limiter.begin("dave", here), Err(Refused::Busy)));
        drop(more);
        drop(held);
        assert!(limiter.begin("dave", here).is_ok());
    }

    #[test]
    fn refusals_are_summed_per_window() {
        let limiter = LoginLimiter::new(1);
        assert!(limiter.refused("rate-limited", "alice", "10.0.0.1", "t0"));
        for i in 0..9_999 {
            let name = format!("made-up-{i}");
            assert!(!limiter.refused("rate-limited", &name, "10.0.0.1", "t1"));
        }
        for i in 0..MAX_REFUSAL_KEYS + 10 {
            limiter.refused(
                "rate-limited",
                "bob",
                &format!("10.1.{}.{}", i / 256, i % 256),
                "t2",
            );
        }
        assert!(limiter.ended_refusals(false).is_empty());
        let ended = limiter.ended_refusals(true);
        let (_, first) = ended.iter().find(|(key, _)| key.0 == "10.0.0.1").unwrap();
        assert_eq!((first.count, first.since.as_str()), (10_000, "t0"));
        assert_eq!(first.accounts.len(), ACCOUNTS_SHOWN);
        assert_eq!(first.accounts[0], "alice");
        let catch_all = ended.iter().find(|(key, _)| key.0 == "*").unwrap();
        assert_eq!(catch_all.1.count, 11);
        assert!(ended.len() <= MAX_REFUSAL_KEYS + 1);
        assert!(limiter.ended_refusals(true).is_empty());
    }

    fn rand_name() -> String {
        crate::auth::password::random_secret(4)
    }
}
