//! Unpredictable-enough numbers for multipart boundaries and retry jitter, from std alone.
//!
//! std's `RandomState` seeds SipHash with per-process random keys; hashing a counter and
//! the clock with it gives values that differ per call and per process. Not for secrets.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh pseudo-random number.
pub(crate) fn next_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// A pseudo-random fraction in `[0, 1)`.
pub(crate) fn fraction() -> f64 {
    (next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_differ_and_fractions_stay_in_range() {
        let values: std::collections::HashSet<u64> = (0..1000).map(|_| next_u64()).collect();
        assert_eq!(values.len(), 1000);
        for _ in 0..1000 {
            let f = fraction();
            assert!((0.0..1.0).contains(&f), "{f}");
        }
    }
}
