//! Deterministic noise: the same inputs give the same draw on every machine and run, so the
//! simulator needs no random state and tests can predict it.

/// A 64-bit hash of `parts` (FNV-1a, then a SplitMix64 finaliser to spread the bits).
pub fn hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(&[0xff]) {
            h ^= u64::from(*byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A draw in [0, 1) for `parts`.
pub fn noise(parts: &[&[u8]]) -> f64 {
    (hash(parts) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_stable_spread_and_in_range() {
        assert_eq!(noise(&[b"a"]), noise(&[b"a"]));
        assert_ne!(noise(&[b"ab"]), noise(&[b"a", b"b"]));
        let draws: Vec<f64> = (0u32..1000).map(|i| noise(&[&i.to_le_bytes()])).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let mean = draws.iter().sum::<f64>() / 1000.0;
        assert!((0.45..0.55).contains(&mean), "{mean}");
    }
}
