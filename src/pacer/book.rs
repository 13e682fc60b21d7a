//! The pacer's ledger for one space: the rate in force and who holds which slot until
//! when. The same ledger lives in memory (one process) or in a state file (every process
//! of the machine); this module is the pure part: taking, releasing, slowing down and
//! recovering, and reading a ledger back from text that may be corrupt or hostile.
//!
//! Times are ns since the epoch, from the wall clock: the one clock every process of the
//! machine shares. A time later than it can honestly be ([`Book::clamp`]: the clock
//! stepped back, another machine's clock ahead of this one's in a folder they share) is
//! taken as the latest honest one, never dropped: dropping a 429's time would forget the
//! 429, and dropping a hold would free its slot.

use std::fmt::Write as _;

/// One second, in nanoseconds: the length of Storyblok's rate window.
pub(super) const SECOND: u64 = 1_000_000_000;
/// The lowest rate a 429 can push a client to: one call every two seconds.
const MIN_RATE: f64 = 0.5;
/// On a 429, the rate is multiplied by this (once per burst of 429s), and kept at or below
/// the plateau (see [`Book::plateau`]).
pub(super) const DECREASE: f64 = 0.8;
/// A new ledger starts at this share of its ceiling, and grows by [`START_GROWTH`] every
/// second until a 429 or the ceiling: alone, a client reaches full speed within a few
/// seconds; several that start together (processes on separate machines, which see only
/// their own calls) do not open with more than the space allows.
pub(super) const START: f64 = 0.25;
const START_GROWTH: f64 = 1.3;
/// For this long after a 429 (another client may be sharing the space), the rate stays at
/// its plateau, or without one probes upwards gently: [`INCREMENT`] per [`GENTLE_STEP`];
/// later, per [`RECOVERY_STEP`]. Below its plateau it climbs a step per
/// [`RECOVERY_STEP`].
const QUIET: u64 = 30 * SECOND;
const GENTLE_STEP: u64 = 8 * SECOND;
const RECOVERY_STEP: u64 = 2 * SECOND;
/// How much the rate goes up per step.
const INCREMENT: f64 = 0.25;
/// How much a 429 lowers a plateau the rate was already at.
const PLATEAU_STEP: f64 = 0.5;
/// How long a limit named by a 429 is believed without another 429.
const FORGET_LEARNED: u64 = 600 * SECOND;
/// The highest rate a ledger holds, in calls per second: a rate the pacer is configured
/// with is capped at it, so that every rate survives the state file's round trip.
pub(super) const MAX_RATE: u32 = 1000;
/// The most slots a ledger keeps (a hostile file cannot make one allocate more).
const MAX_SLOTS: usize = MAX_RATE as usize;
/// The longest a slot is held after its call ended: 1 / [`MIN_RATE`] = 2 s (see
/// [`Book::hold`]). A hold that ends later than this from now is clamped to it.
const MAX_HOLD: u64 = 2 * SECOND;
/// The longest call budget a client allows: a day.
pub(super) const MAX_BUDGET: u64 = 24 * 3600 * SECOND;
/// The longest a running call's slot is claimed for from now: a later expiry is clamped to
/// it.
const MAX_RUNNING: u64 = MAX_BUDGET + 60 * SECOND;

/// One slot of the rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    Free,
    /// A call is running in it, in the process `owner` names (0: unknown). If that process
    /// dies, the slot frees itself at `expires`, or sooner once its death is seen
    /// ([`Book::end_owners`]).
    Running {
        expires: u64,
        owner: u64,
    },
    /// Its call ended; the slot stays taken until this time.
    Held(u64),
}

/// The ledger of one space.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Book {
    /// Calls per second in force: the configured rate, or less after 429s.
    pub(super) rate: f64,
    /// When a 429 last lowered the rate, ns since the epoch; 0 when none ever did.
    pub(super) decreased: u64,
    /// When the rate last grew a step, or was lowered, or the ledger began.
    pub(super) grown: u64,
    /// The plan's limit as a 429 named it ("Rate limit of 3 request per second"); 0 when
    /// no 429 said.
    pub(super) learned: u32,
    /// Where the rate settles after a 429 (0: no 429 yet): the highest rate with one slot
    /// fewer than the rate the 429 refused. A space shared with clients this one cannot
    /// see holds as many calls a second as all their slots together; a 429 says this
    /// client's share was one slot too many. The rate climbs back here quickly, stays for
    /// [`QUIET`], and only then probes above. A 429 at the plateau (another client grew)
    /// lowers it by [`PLATEAU_STEP`], not by a slot: clients that were not the cause keep
    /// most of their share.
    pub(super) plateau: f64,
    pub(super) slots: Vec<Slot>,
}

impl Book {
    /// A fresh ledger at `configured` calls per second, begun at `now`: it starts at a
    /// quarter of the rate and grows each second (see [`START`]).
    pub(super) fn new(configured: u32, now: u64) -> Book {
        Book {
            rate: (f64::from(configured.max(1)) * START).max(MIN_RATE),
            decreased: 0,
            grown: now,
            learned: 0,
            plateau: 0.0,
            slots: Vec::new(),
        }
    }

    /// The highest rate allowed: the configured one, or the plan's limit if lower.
    fn ceiling(&self, configured: u32) -> f64 {
        let configured = f64::from(configured.max(1));
        match self.learned {
            0 => configured,
            learned => configured.min(f64::from(learned)),
        }
    }

    /// Raises the rate towards the ceiling: by [`START_GROWTH`] each second until the first
    /// 429; then quickly back to the plateau, where it stays while a 429 is recent, and a
    /// step at a time above it. A learned limit is forgotten after [`FORGET_LEARNED`]
    /// without a 429 (a plan can change).
    fn recover(&mut self, now: u64, configured: u32) {
        if self.learned != 0 && now.saturating_sub(self.decreased) >= FORGET_LEARNED {
            self.learned = 0;
        }
        let ceiling = self.ceiling(configured);
        if self.rate > ceiling {
            self.rate = ceiling;
        }
        while self.rate < ceiling {
            let recent = now.saturating_sub(self.decreased) < QUIET;
            let (step, next) = if self.decreased == 0 {
                (SECOND, self.rate * START_GROWTH)
            } else if self.rate < self.plateau {
                (RECOVERY_STEP, (self.rate + INCREMENT).min(self.plateau))
            } else if self.plateau > 0.0 && recent {
                // At the plateau while a 429 is recent: stay, and grow afresh after.
                self.grown = self.grown.max(now.saturating_sub(RECOVERY_STEP));
                return;
            } else if recent {
                (GENTLE_STEP, self.rate + INCREMENT)
            } else {
                (RECOVERY_STEP, self.rate + INCREMENT)
            };
            if now.saturating_sub(self.grown) < step {
                return;
            }
            self.rate = next.min(ceiling);
            self.grown += step;
        }
        // At the ceiling, growth starts afresh from the next decrease.
        self.grown = self.grown.max(now.saturating_sub(RECOVERY_STEP));
    }

    /// Clamps times later than they can honestly be at `now` (see the module docs): when a
    /// 429 lowered the rate or the rate last grew, to `now`; a slot's hold, to [`MAX_HOLD`]
    /// from now; a running call's expiry, to [`MAX_RUNNING`] from now. Whether any was; a
    /// shared ledger that was is written back, so that a clamp is made once, not again from
    /// every later `now`.
    pub(super) fn clamp(&mut self, now: u64) -> bool {
        let mut clamped = false;
        let mut at_most = |time: &mut u64, latest: u64| {
            if *time > latest {
                *time = latest;
                clamped = true;
            }
        };
        at_most(&mut self.decreased, now);
        at_most(&mut self.grown, now);
        for slot in &mut self.slots {
            match slot {
                Slot::Free => {}
                Slot::Held(until) => at_most(until, now.saturating_add(MAX_HOLD)),
                Slot::Running { expires, .. } => {
                    at_most(expires, now.saturating_add(MAX_RUNNING));
                }
            }
        }
        clamped
    }

    /// The processes named as running calls (other than unknown ones, 0).
    pub(super) fn owners(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().filter_map(|slot| match slot {
            Slot::Running { owner, .. } if *owner != 0 => Some(*owner),
            _ => None,
        })
    }

    /// Ends the running calls of the processes `dead` says died: each slot is held from
    /// `now`, as if its call had just ended (it may have been counted just before its
    /// process died). Whether any was.
    pub(super) fn end_owners(&mut self, now: u64, dead: impl Fn(u64) -> bool) -> bool {
        let until = now.saturating_add(self.hold());
        let mut ended = false;
        for slot in &mut self.slots {
            if let Slot::Running { owner, .. } = *slot
                && owner != 0
                && dead(owner)
            {
                *slot = Slot::Held(until);
                ended = true;
            }
        }
        ended
    }

    /// Whether forgetting the ledger at `now` loses nothing but speed: no slot is taken, and
    /// no 429 is recent enough to be remembered ([`FORGET_LEARNED`]). Forgotten, it would
    /// start afresh ([`Book::new`]).
    pub(super) fn at_rest(&self, now: u64) -> bool {
        let free = self.slots.iter().all(|slot| match *slot {
            Slot::Free => true,
            Slot::Held(until) => until <= now,
            Slot::Running { expires, .. } => expires <= now,
        });
        free && (self.decreased == 0 || now.saturating_sub(self.decreased) >= FORGET_LEARNED)
    }

    /// How many slots the rate in force allows.
    fn usable(&self) -> usize {
        // The rate is kept within [MIN_RATE, MAX_SLOTS] by every path that sets it.
        (self.rate.ceil() as usize).clamp(1, MAX_SLOTS)
    }

    /// How long a slot stays taken after its call ended, in ns: one second when the rate
    /// is whole, longer when it is not (2.5/s: 3 slots held 1.2 s each).
    pub(super) fn hold(&self) -> u64 {
        let usable = self.usable() as f64;
        ((usable / self.rate) * SECOND as f64) as u64
    }

    /// Takes a free usable slot for a call of process `owner` starting at `now`, which may
    /// run until `expires` (if its process dies, the slot frees itself then at the latest).
    /// `Err` says when the first usable slot frees (for a running call, only an estimate:
    /// poll). Times are taken as they are: [`Book::clamp`] first.
    pub(super) fn take(
        &mut self,
        now: u64,
        configured: u32,
        expires: u64,
        owner: u64,
    ) -> Result<usize, Wait> {
        self.recover(now, configured);
        let usable = self.usable();
        if self.slots.len() < usable {
            self.slots.resize(usable, Slot::Free);
        }
        // When the first held slot frees; whether any slot is running.
        let (mut first, mut running) = (None, false);
        for (index, slot) in self.slots.iter_mut().enumerate().take(usable) {
            match *slot {
                Slot::Free => {}
                Slot::Held(until) if until <= now => {}
                Slot::Running { expires, .. } if expires <= now => {}
                Slot::Held(until) => {
                    first = Some(first.map_or(until, |first: u64| first.min(until)));
                    continue;
                }
                Slot::Running { .. } => {
                    running = true;
                    continue;
                }
            }
            *slot = Slot::Running { expires, owner };
            return Ok(index);
        }
        Err(match first {
            Some(until) if !running => Wait::Until(until),
            _ => Wait::Poll,
        })
    }

    /// The call in slot `index` ended at `end`: the slot stays taken for the hold, less
    /// `margin` (see the module docs of the pacer for why that is safe).
    pub(super) fn release(&mut self, index: usize, end: u64, margin: u64) {
        let until = end + self.hold().saturating_sub(margin);
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Slot::Held(until);
        }
    }

    /// A 429 answered a call that started at `started` (ns since the epoch). Lowers the
    /// rate in force at `now` once per burst (a 429 to a call that started before the last
    /// decrease was already answered by it), and sets the plateau (see [`Book::plateau`]);
    /// a limit named in the answer caps the rate at once.
    pub(super) fn throttled(
        &mut self,
        started: u64,
        now: u64,
        learned: Option<u32>,
        configured: u32,
    ) {
        // The stored rate may lag the one in force (it grows when read): lower the latter.
        self.recover(now, configured);
        if let Some(limit) = learned.filter(|&l| l > 0) {
            self.learned = limit;
        }
        if started <= self.decreased {
            return;
        }
        let ceiling = self.ceiling(configured);
        if self.rate > ceiling {
            // The named limit is this burst's answer.
            self.rate = ceiling;
            self.decreased = now;
            self.grown = now;
            return;
        }
        let at_plateau = self.plateau > 0.0 && self.rate <= self.plateau;
        self.plateau = if at_plateau {
            self.plateau - PLATEAU_STEP
        } else {
            self.rate.ceil() - 1.0
        }
        .max(MIN_RATE);
        self.rate = (self.rate * DECREASE).clamp(MIN_RATE, self.plateau);
        self.decreased = now;
        self.grown = now;
    }

    /// The rate in force at `now`.
    #[cfg(test)]
    pub(super) fn rate_at(&mut self, now: u64, configured: u32) -> f64 {
        self.recover(now, configured);
        self.rate
    }

    /// The ledger as the state file holds it. Who runs each slot's call is a line of its
    /// own, `owners`, written when any is known: a version that does not know owners reads
    /// the rest as before (it skips lines it does not know), so it still shares the ledger.
    pub(super) fn to_text(&self) -> String {
        let mut text = format!(
            "storyblok-assets pacer 1\nrate {}\ndecreased {}\ngrown {}\nlearned {}\nplateau {}\nslots",
            self.rate, self.decreased, self.grown, self.learned, self.plateau
        );
        for slot in &self.slots {
            let _ = match slot {
                Slot::Free => write!(text, " 0"),
                Slot::Held(until) => write!(text, " {until}"),
                Slot::Running { expires, .. } => write!(text, " r{expires}"),
            };
        }
        text.push('\n');
        if self.owners().next().is_some() {
            text.push_str("owners");
            for slot in &self.slots {
                let _ = match slot {
                    Slot::Running { owner, .. } => write!(text, " {owner:x}"),
                    Slot::Free | Slot::Held(_) => write!(text, " 0"),
                };
            }
            text.push('\n');
        }
        text
    }

    /// Reads a ledger back. Whatever does not make sense is left out: an unknown line, a
    /// rate that is not a positive number, slots past [`MAX_SLOTS`], owners that are not
    /// one per slot. Times are read as written: [`Book::clamp`] makes them honest for
    /// `now`. `None` when it is not a ledger at all.
    pub(super) fn from_text(text: &str, configured: u32, now: u64) -> Option<Book> {
        let mut lines = text.lines();
        if lines.next()?.trim() != "storyblok-assets pacer 1" {
            return None;
        }
        let mut book = Book::new(configured, now);
        let mut owners = Vec::new();
        for line in lines {
            let (key, value) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
            match key {
                "rate" => {
                    if let Ok(rate) = value.trim().parse::<f64>()
                        && rate.is_finite()
                        && (MIN_RATE..=MAX_SLOTS as f64).contains(&rate)
                    {
                        book.rate = rate;
                    }
                }
                "decreased" => {
                    if let Ok(at) = value.trim().parse::<u64>() {
                        book.decreased = at;
                    }
                }
                "grown" => {
                    if let Ok(at) = value.trim().parse::<u64>() {
                        book.grown = at;
                    }
                }
                "plateau" => {
                    if let Ok(plateau) = value.trim().parse::<f64>()
                        && plateau.is_finite()
                        && (0.0..=MAX_SLOTS as f64).contains(&plateau)
                    {
                        book.plateau = plateau;
                    }
                }
                "learned" => {
                    if let Ok(learned) = value.trim().parse::<u32>()
                        && learned <= MAX_SLOTS as u32
                    {
                        book.learned = learned;
                    }
                }
                "slots" => {
                    book.slots = value
                        .split_whitespace()
                        .take(MAX_SLOTS)
                        .map(|slot| match slot.strip_prefix('r') {
                            Some(expiry) => expiry
                                .parse()
                                .map_or(Slot::Free, |expires| Slot::Running { expires, owner: 0 }),
                            None => match slot.parse() {
                                Ok(0) | Err(_) => Slot::Free,
                                Ok(until) => Slot::Held(until),
                            },
                        })
                        .collect();
                }
                "owners" => {
                    // One too many tells a list that is too long.
                    owners = value
                        .split_whitespace()
                        .take(MAX_SLOTS + 1)
                        .map(|owner| u64::from_str_radix(owner, 16).unwrap_or(0))
                        .collect();
                }
                _ => {}
            }
        }
        // Owners that are not one per slot belong to another ledger (a torn write): the
        // calls are trusted until they expire, as a version without owners would.
        if owners.len() == book.slots.len() {
            for (slot, owner) in book.slots.iter_mut().zip(owners) {
                if let Slot::Running { owner: named, .. } = slot {
                    *named = owner;
                }
            }
        }
        Some(book)
    }
}

/// When a slot may come free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wait {
    /// At this time (ns since the epoch), when a held slot's hold ends.
    Until(u64),
    /// When a running call ends: unknown, so look again soon.
    Poll,
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_800_000_000 * SECOND;

    /// A slot whose call runs until `expires`, in a process not named.
    fn running(expires: u64) -> Slot {
        Slot::Running { expires, owner: 0 }
    }

    /// A ledger already at its configured rate.
    fn full(configured: u32) -> Book {
        let mut book = Book::new(configured, T);
        book.rate = f64::from(configured);
        book
    }

    #[test]
    fn slots_are_taken_then_held_for_a_second_after_their_call() {
        let mut book = full(2);
        let a = book.take(T, 2, T + 60 * SECOND, 0).expect("a slot");
        let b = book.take(T, 2, T + 60 * SECOND, 0).expect("a slot");
        assert_ne!(a, b);
        assert_eq!(book.take(T, 2, T + 60 * SECOND, 0), Err(Wait::Poll));
        book.release(a, T + SECOND / 10, 0);
        // b still runs: when it ends is unknown.
        assert_eq!(
            book.take(T + SECOND / 2, 2, T + 60 * SECOND, 0),
            Err(Wait::Poll)
        );
        book.release(b, T + SECOND / 2, 0);
        assert_eq!(
            book.take(T + SECOND / 2, 2, T + 60 * SECOND, 0),
            Err(Wait::Until(T + SECOND / 10 + SECOND))
        );
        assert_eq!(
            book.take(T + SECOND / 10 + SECOND, 2, T + 60 * SECOND, 0),
            Ok(a)
        );
    }

    #[test]
    fn a_margin_shortens_the_hold() {
        let mut book = full(1);
        let a = book.take(T, 1, T + SECOND, 0).expect("slot");
        book.release(a, T + SECOND, SECOND / 20);
        assert_eq!(book.slots[a], Slot::Held(T + 2 * SECOND - SECOND / 20));
    }

    #[test]
    fn a_running_slot_frees_itself_when_it_expires() {
        // Its process died: the slot is free once the call's budget is over, not before.
        let mut book = full(1);
        book.slots = vec![running(T + 5)];
        assert_eq!(book.take(T + 4, 1, T + 60 * SECOND, 0), Err(Wait::Poll));
        assert_eq!(book.take(T + 5, 1, T + 60 * SECOND, 0), Ok(0));
        assert_eq!(book.slots, [running(T + 60 * SECOND)]);
    }

    #[test]
    fn a_new_ledger_starts_at_a_quarter_and_grows_each_second() {
        let mut book = Book::new(6, T);
        assert_eq!(book.rate_at(T, 6), 1.5);
        assert_eq!(book.rate_at(T + SECOND / 2, 6), 1.5);
        assert!((book.rate_at(T + SECOND, 6) - 1.5 * START_GROWTH).abs() < 1e-9);
        assert_eq!(
            book.rate_at(T + 10 * SECOND, 6),
            6.0,
            "full speed within seconds, and never above the ceiling"
        );
    }

    #[test]
    fn a_429_lowers_the_rate_once_per_burst_to_one_slot_fewer() {
        let mut book = full(6);
        book.throttled(T + 1, T + 2, None, 6);
        assert_eq!(book.plateau, 5.0, "one slot fewer than the six refused");
        assert_eq!(book.rate, 6.0 * DECREASE);
        book.throttled(T + 2, T + 3, None, 6);
        assert_eq!(
            book.rate,
            6.0 * DECREASE,
            "a call sent before the decrease is the same burst"
        );
        // Back to the plateau quickly, a step per RECOVERY_STEP; no higher while the 429
        // is recent.
        assert_eq!(book.rate_at(T + 2 + RECOVERY_STEP - 1, 6), 6.0 * DECREASE);
        assert_eq!(book.rate_at(T + 2 + RECOVERY_STEP, 6), 5.0);
        assert_eq!(book.rate_at(T + 2 + QUIET - 1, 6), 5.0);
        // Past QUIET: a step per RECOVERY_STEP above it, up to the ceiling.
        assert!(book.rate_at(T + 2 + QUIET + RECOVERY_STEP, 6) > 5.0);
        assert_eq!(book.rate_at(T + 2 + QUIET + 60 * SECOND, 6), 6.0);
        for n in 0..40 {
            book.throttled(T + 100 * SECOND + n, T + 100 * SECOND + n, None, 6);
        }
        assert_eq!(book.rate, MIN_RATE, "never below the floor");
        assert_eq!(book.plateau, MIN_RATE);
    }

    #[test]
    fn a_429_at_the_plateau_lowers_it_by_a_step_not_a_slot() {
        // Three clients of a space of 6 that see only their own calls settle at 2 slots
        // each; one that is refused while at its plateau (another grew) gives up half a
        // call a second, not a whole slot of its share.
        let mut book = full(6);
        book.rate = 2.5;
        book.throttled(T + 1, T + 1, None, 6);
        assert_eq!((book.plateau, book.rate), (2.0, 2.0));
        book.throttled(T + 2, T + 2, None, 6);
        assert_eq!((book.plateau, book.rate), (1.5, 1.5));
        assert_eq!(book.usable(), 2, "still two slots, held longer");
    }

    #[test]
    fn a_429_lowers_the_rate_in_force_not_a_stale_one() {
        // Opened at 1.5 a second, the ledger is at 4.3 four seconds later, stored rate or
        // not.
        let mut book = Book::new(6, T);
        book.throttled(T + 4 * SECOND, T + 4 * SECOND, None, 6);
        assert_eq!(
            book.plateau, 4.0,
            "one slot fewer than the five of 4.3 a second"
        );
        assert!((book.rate - 1.5 * START_GROWTH.powi(4) * DECREASE).abs() < 1e-9);
        // Long after a 429 the rate has climbed back, and a learned limit is forgotten.
        let mut book = full(6);
        book.throttled(T, T, Some(2), 6);
        assert_eq!(book.rate, 2.0);
        let later = T + FORGET_LEARNED + 60 * SECOND;
        book.throttled(later, later, None, 6);
        assert_eq!(book.rate, 6.0 * DECREASE);
        assert_eq!(book.learned, 0);
    }

    #[test]
    fn the_highest_rate_survives_the_text() {
        let mut book = full(MAX_RATE);
        assert_eq!(
            Book::from_text(&book.to_text(), MAX_RATE, T).map(|b| b.rate),
            Some(f64::from(MAX_RATE))
        );
        book.throttled(T + 1, T + 1, None, MAX_RATE);
        assert_eq!(
            Book::from_text(&book.to_text(), MAX_RATE, T + 1).map(|b| b.rate),
            Some(f64::from(MAX_RATE) * DECREASE)
        );
    }

    #[test]
    fn a_named_limit_caps_the_rate_until_forgotten() {
        let mut book = full(6);
        book.throttled(T + 10, T + 11, Some(2), 6);
        assert_eq!(book.learned, 2);
        assert!(book.rate <= 2.0);
        assert_eq!(
            book.rate_at(T + 300 * SECOND, 6),
            2.0,
            "never above the learned limit"
        );
        assert_eq!(
            book.rate_at(T + 11 + FORGET_LEARNED + 60 * SECOND, 6),
            6.0,
            "a learned limit is forgotten after a while without a 429"
        );
    }

    #[test]
    fn a_ledger_is_at_rest_once_its_slots_are_free_and_no_429_is_recent() {
        let mut book = full(2);
        assert!(book.at_rest(T));
        let a = book.take(T, 2, T + 60 * SECOND, 0).expect("a slot");
        assert!(!book.at_rest(T), "a call runs");
        book.release(a, T, 0);
        assert!(!book.at_rest(T + SECOND - 1), "its slot is held");
        assert!(book.at_rest(T + SECOND));
        book.throttled(T, T + SECOND, Some(1), 2);
        assert!(!book.at_rest(T + 2 * SECOND), "a 429 is remembered");
        assert!(book.at_rest(T + SECOND + FORGET_LEARNED));
    }

    #[test]
    fn a_fractional_rate_holds_slots_longer() {
        let mut book = full(6);
        book.rate = 2.5;
        assert_eq!(book.usable(), 3);
        assert_eq!(book.hold(), SECOND * 12 / 10);
        book.rate = MIN_RATE;
        assert_eq!(book.usable(), 1);
        assert_eq!(book.hold(), 2 * SECOND);
    }

    #[test]
    fn text_round_trips() {
        let mut book = full(6);
        book.learned = 3;
        book.rate = 2.5;
        book.plateau = 2.0;
        book.decreased = T - 5;
        book.slots = vec![Slot::Free, Slot::Held(T + 5), running(T + 60 * SECOND)];
        let text = book.to_text();
        assert_eq!(Book::from_text(&text, 6, T + 10), Some(book));
    }

    #[test]
    fn hostile_ledgers_are_read_safely() {
        let now = T;
        for text in [
            "",
            "garbage",
            "storyblok-assets pacer 2\nrate 6",
            "\u{0}\u{1}",
        ] {
            assert_eq!(Book::from_text(text, 6, now), None, "{text:?}");
        }
        let hostile = format!(
            "storyblok-assets pacer 1\nrate NaN\ndecreased 99999999999999999999\ngrown {}\nlearned 4000000000\nslots {} r{} x -1 {}\nowners 0 zz\nunknown line",
            now + SECOND,
            now + 3600 * SECOND,
            u64::MAX,
            " 1".repeat(5000)
        );
        let mut book = Book::from_text(&hostile, 6, now).expect("a ledger");
        assert!(book.clamp(now));
        assert_eq!(
            book.rate,
            6.0 * START,
            "an impossible rate is not believed: a fresh start"
        );
        assert_eq!(book.decreased, 0, "a time that is no number is not read");
        assert_eq!(book.grown, now, "a time in the future is now");
        assert_eq!(book.learned, 0);
        assert_eq!(book.slots.len(), MAX_SLOTS);
        assert_eq!(book.owners().count(), 0, "owners not one per slot");
        // Holds and calls that claim too long are cut to the longest honest ones: a hold
        // is over in two seconds; a call, like any, in a day (when a waiting pacer leaves
        // the file after its own call budget, as for any call that never ends).
        assert_eq!(book.slots[0], Slot::Held(now + MAX_HOLD));
        assert_eq!(book.slots[1], running(now + MAX_RUNNING));
        assert_eq!(
            book.take(now, 6, now + SECOND, 0),
            Err(Wait::Poll),
            "1.5 a second: the first two slots, one held, one running"
        );
        assert!(!book.clamp(now), "clamped once");
        for text in [
            "storyblok-assets pacer 1\nrate 0",
            "storyblok-assets pacer 1\nrate -3",
            "storyblok-assets pacer 1\nrate 1e300",
        ] {
            assert_eq!(
                Book::from_text(text, 6, now).expect("ledger").rate,
                6.0 * START,
                "{text}"
            );
        }
        let owners = format!(
            "storyblok-assets pacer 1\nslots r{now} r{now} r{now}\nowners 1a 10000000000000000 +2{}",
            " 3".repeat(5000)
        );
        let book = Book::from_text(&owners, 6, now).expect("a ledger");
        assert_eq!(
            book.owners().count(),
            0,
            "too many owners: none is believed"
        );
        let owners = format!(
            "storyblok-assets pacer 1\nslots r{now} r{now} 5\nowners 1a 10000000000000000 7"
        );
        let book = Book::from_text(&owners, 6, now).expect("a ledger");
        assert_eq!(
            book.owners().collect::<Vec<_>>(),
            [0x1a],
            "one too long is unknown; a held slot has none"
        );
    }

    #[test]
    fn a_429_from_the_future_is_kept_as_one_from_now() {
        // Another process recorded a 429 after this one read its clock, or the clock
        // stepped back: either way the 429 and the limit it named stand.
        let later = T + 5 * SECOND;
        let text = format!(
            "storyblok-assets pacer 1\nrate 2\ndecreased {later}\ngrown {later}\nlearned 2\nslots\n"
        );
        let mut book = Book::from_text(&text, 6, T).expect("a ledger");
        assert!(book.clamp(T));
        assert_eq!((book.decreased, book.grown, book.learned), (T, T, 2));
        assert_eq!(book.rate_at(T, 6), 2.0, "the learned limit holds");
        assert_eq!(book.rate_at(T + QUIET, 6), 2.0);
        // A 429 to a call that started before it is the same burst.
        book.throttled(T - 1, T + 1, None, 6);
        assert_eq!(book.rate, 2.0);
    }

    #[test]
    fn a_clock_stepped_back_frees_no_held_slot() {
        let mut book = full(2);
        let a = book.take(T, 2, T + 60 * SECOND, 0).expect("a slot");
        let b = book.take(T, 2, T + 60 * SECOND, 0).expect("a slot");
        book.release(a, T + SECOND / 10, 0);
        book.release(b, T + SECOND / 10, 0);
        // The clock steps back an hour: both holds end more than an hour from now.
        let now = T - 3600 * SECOND;
        assert!(book.clamp(now));
        assert_eq!(book.slots, [Slot::Held(now + MAX_HOLD); 2]);
        assert_eq!(
            book.take(now, 2, now + 60 * SECOND, 0),
            Err(Wait::Until(now + MAX_HOLD))
        );
        assert_eq!(book.take(now + MAX_HOLD, 2, now + 60 * SECOND, 0), Ok(0));
    }

    #[test]
    fn owners_survive_the_text_and_a_dead_ones_calls_are_held_from_now() {
        let mut book = full(6);
        let mine = book.take(T, 6, T + 60 * SECOND, 0xa1).expect("a slot");
        let theirs = book.take(T, 6, T + 60 * SECOND, 0xb2).expect("a slot");
        let unknown = book.take(T, 6, T + 60 * SECOND, 0).expect("a slot");
        let held = book.take(T, 6, T + 60 * SECOND, 0xb2).expect("a slot");
        book.release(held, T, 0);
        let text = book.to_text();
        // A version that does not know owners skips their line and reads the rest.
        let (before, owners) = text.split_once("owners").expect("an owners line");
        let mut unnamed = book.clone();
        unnamed.slots = unnamed
            .slots
            .iter()
            .map(|slot| match *slot {
                Slot::Running { expires, .. } => running(expires),
                other => other,
            })
            .collect();
        assert_eq!(before, unnamed.to_text());
        assert_eq!(owners, " a1 b2 0 0 0 0\n", "one per slot");
        let mut read = Book::from_text(&text, 6, T).expect("a ledger");
        assert_eq!(read, book);
        let now = T + SECOND;
        assert!(read.end_owners(now, |owner| owner == 0xb2));
        assert_eq!(
            read.slots[mine],
            Slot::Running {
                expires: T + 60 * SECOND,
                owner: 0xa1
            }
        );
        assert_eq!(read.slots[theirs], Slot::Held(now + SECOND));
        assert_eq!(
            read.slots[unknown],
            running(T + 60 * SECOND),
            "never ended early"
        );
        assert!(!read.end_owners(now, |owner| owner == 0xb2));
    }
}
