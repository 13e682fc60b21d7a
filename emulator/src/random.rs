//! Random-ish numbers without a random number crate: a SplitMix64 sequence seeded from the
//! standard library's randomly keyed hasher, the clock and the process id. Good enough for
//! per-emulator credentials and latency jitter; not for anything secret outside tests.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The next number of the process-wide sequence.
pub(crate) fn next_u64() -> u64 {
    static STATE: OnceLock<AtomicU64> = OnceLock::new();
    let state = STATE.get_or_init(|| AtomicU64::new(seed()));
    let x = state.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    mix(x.wrapping_add(0x9e37_79b9_7f4a_7c15))
}

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// A uniformly distributed duration in `0..=max` (to the nanosecond).
pub(crate) fn duration_up_to(max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(next_u64() % nanos.saturating_add(1).max(1))
}

/// `len` characters drawn from `alphabet` (which must not be empty).
pub(crate) fn string(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| {
            let i = (next_u64() % alphabet.len().max(1) as u64) as usize;
            char::from(alphabet.get(i).copied().unwrap_or(b'A'))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_differ() {
        let a: Vec<u64> = (0..100).map(|_| next_u64()).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(b.len(), a.len());
    }

    #[test]
    fn durations_stay_in_range_and_spread() {
        assert_eq!(duration_up_to(Duration::ZERO), Duration::ZERO);
        let max = Duration::from_millis(10);
        let samples: Vec<Duration> = (0..1000).map(|_| duration_up_to(max)).collect();
        assert!(samples.iter().all(|d| *d <= max));
        assert!(samples.iter().any(|d| *d < max / 4));
        assert!(samples.iter().any(|d| *d > max * 3 / 4));
    }

    #[test]
    fn strings_use_the_alphabet() {
        let s = string(b"AB", 64);
        assert_eq!(s.len(), 64);
        assert!(s.bytes().all(|b| b == b'A' || b == b'B'));
        assert!(s.contains('A') && s.contains('B'));
        assert_ne!(string(b"0123456789", 20), string(b"0123456789", 20));
    }
}
