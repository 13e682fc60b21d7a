//! Storyblok's rate limit as the emulator keeps it: requests counted in fixed one-second
//! windows.

/// One fixed one-second window, aligned to whole Unix seconds: the emulator serves one space,
/// so every Management API request counts in it, whatever space its path names.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    /// (Unix second, requests counted in it).
    window: (u64, u32),
}

impl RateLimiter {
    /// Counts a request in the window of Unix second `second`, whatever the answer (a refused
    /// request counts too, as at Storyblok); `false` if the window already held `limit`
    /// requests. A second older than the current window's counts in the current one.
    pub(crate) fn admit(&mut self, second: u64, limit: u32) -> bool {
        if second > self.window.0 {
            self.window = (second, 0);
        }
        self.window.1 = self.window.1.saturating_add(1);
        self.window.1 <= limit
    }

    /// How many requests the window at `second` holds.
    #[cfg(test)]
    fn count(&self, second: u64) -> u32 {
        if self.window.0 == second {
            self.window.1
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_window() {
        let mut rl = RateLimiter::default();
        for _ in 0..6 {
            assert!(rl.admit(100, 6));
        }
        assert!(!rl.admit(100, 6));
        assert!(!rl.admit(100, 6));
        // Refused requests count too.
        assert_eq!(rl.count(100), 8);
        // The next whole second starts a fresh window.
        for _ in 0..6 {
            assert!(rl.admit(101, 6));
        }
        assert!(!rl.admit(101, 6));
        // A late request stamped with an older second counts in the current window.
        assert!(!rl.admit(100, 6));
        assert_eq!(rl.count(101), 8);
        assert_eq!(rl.count(100), 0);
        assert!(rl.admit(105, 6));
        assert_eq!(rl.count(105), 1);
        // A limit of zero refuses everything, and still counts.
        assert!(!rl.admit(106, 0));
        assert_eq!(rl.count(106), 1);
    }
}
