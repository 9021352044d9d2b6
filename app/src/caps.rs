//! Counted places, per key and in all (server only): how many live streams one user, and
//! everyone together, may hold open at once. Taking a place never waits: over a cap it is
//! refused, so a flood costs a refusal, not a queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// At most `per_key` places for one key and `total` for all keys together.
#[derive(Debug)]
pub struct Caps {
    per_key: usize,
    total: usize,
    held: Mutex<(HashMap<String, usize>, usize)>,
}

/// Which cap refused a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The key already holds `per_key` places.
    Key(usize),
    /// All keys together hold `total`.
    All(usize),
}

/// A place taken; given back when dropped.
#[derive(Debug)]
pub struct Place {
    caps: Arc<Caps>,
    key: String,
}

impl Caps {
    pub fn new(per_key: usize, total: usize) -> Arc<Caps> {
        Arc::new(Caps {
            per_key,
            total,
            held: Mutex::default(),
        })
    }

    /// A place for `key`, or which cap is full.
    pub fn take(self: &Arc<Self>, key: &str) -> Result<Place, Full> {
        let mut held = crate::locks::lock(&self.held);
        let (per_key, total) = &mut *held;
        if *total >= self.total {
            return Err(Full::All(self.total));
        }
        let mine = per_key.entry(key.to_string()).or_default();
        if *mine >= self.per_key {
            return Err(Full::Key(self.per_key));
        }
        *mine += 1;
        *total += 1;
        Ok(Place {
            caps: self.clone(),
            key: key.to_string(),
        })
    }

    /// Places held by `key`, and by all.
    #[cfg(test)]
    fn held(&self, key: &str) -> (usize, usize) {
        let held = crate::locks::lock(&self.held);
        (held.0.get(key).copied().unwrap_or(0), held.1)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut held = crate::locks::lock(&self.caps.held);
        let (per_key, total) = &mut *held;
        *total -= 1;
        if let Some(mine) = per_key.get_mut(&self.key) {
            *mine -= 1;
            if *mine == 0 {
                per_key.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_capped_per_key_and_in_all_and_given_back() {
        let caps = Caps::new(2, 3);
        let a1 = caps.take("alice").unwrap();
        let _a2 = caps.take("alice").unwrap();
        assert_eq!(caps.take("alice").unwrap_err(), Full::Key(2));
        let _b1 = caps.take("bob").unwrap();
        assert_eq!(caps.take("carol").unwrap_err(), Full::All(3));
        drop(a1);
        assert_eq!(caps.held("alice"), (1, 2));
        let _c1 = caps.take("carol").unwrap();
        assert_eq!(caps.take("alice").unwrap_err(), Full::All(3));
    }
}
