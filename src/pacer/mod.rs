//! Pacing Management API calls to Storyblok's rate limit: for every clone and thread of a
//! client, and for every process of the machine that calls the same space.
//!
//! # The limit
//!
//! Storyblok counts calls per space in fixed one-second windows (3/s Starter, 6/s paid),
//! refused ones included, and caps 30 requests in flight. A call is counted when it
//! reaches the server.
//!
//! # Slots
//!
//! For a rate of `N` calls per second the pacer has `N` slots. A call takes a free slot
//! when it starts; when it ends, the slot stays taken for one more second, less a margin
//! `m` learned from call durations: no fixed one-second window then counts more than `N`
//! calls. [`Space::margin`] has the argument, and the assumptions it rests on.
//!
//! # A rate that adapts
//!
//! How the rate opens, falls on a 429 and recovers is stated once, for users, in the crate
//! docs' [pacing and retries](crate#pacing-and-retries); [`book`] is its code.
//!
//! # Across processes
//!
//! With [`SharedPacing::Machine`] (the default) or [`SharedPacing::Dir`], the ledger of
//! slots and rate for each API host and space lives in a state file that every process
//! updates under a file lock ([`shared`]), so the processes of one machine keep to the
//! limit together. The folder is made on a client's first paced call, not when the client
//! is built. Machines do not share: each adapts to the 429s it sees.
//!
//! - *A process that dies* (killed, crashed) frees its slots within seconds: each running
//!   call names its process, and a process that can lock another's owner file knows that
//!   one is dead (a waiting one looks at most every half second). Its calls end there, each
//!   slot held from then as if its call had just ended: the call was counted at the latest
//!   when its process died, so the next call in the slot is counted more than a second
//!   after it, as [`Space::margin`] argues. A call whose process is alive, or not named (an older version's),
//!   keeps its slot until its time budget is over.
//! - *Time* is read once the state file is locked: whatever another process wrote is
//!   then in the past. A time later than it can honestly be (a clock stepped back) is
//!   clamped, never dropped: a 429 stays as recent as now, a hold ends at most two seconds
//!   from now (the longest hold, and later than the hold's true end in the clock stepped
//!   back), a running call's slot stays taken. A clock stepped forward shortens holds:
//!   the wall clock is the one every process shares, and the pacer trusts it.
//!
//! # What a pacer keeps
//!
//! No file open: a state file is opened for each update and closed after it, however many
//! spaces a client calls (each process that shares keeps one owner file open per folder).
//! In memory, a lane per space called; past 256 spaces, beginning a new one forgets those
//! at rest, at most once a second: no call waiting or running, no slot taken, no 429 in
//! the last ten minutes. A forgotten space starts afresh if called again (its margin
//! learned anew, its ledger read from the state file, or a fresh one in memory): it loses
//! speed, never safety.

mod book;
mod shared;

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use book::{Book, MAX_BUDGET, MAX_RATE, SECOND, Slot, Wait};
use shared::{Dir, Place, StateFile};

/// How fast the client may call Storyblok's Management API.
///
/// S3 uploads are not paced: only Management API calls count against Storyblok's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimit {
    /// At most this many calls in any one-second window (the default is 6, the paid plans'
    /// limit; the Starter plan allows 3). At most 1000: a higher rate is taken as 1000.
    PerSecond(u32),
    /// No pacing; 429 answers are still retried.
    Off,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::PerSecond(6)
    }
}

/// Whether the clients of one machine share their pacing of a space.
///
/// Cargo runs a workspace's build scripts in parallel, CI runs jobs side by side: several
/// processes may call one space at once, on one rate limit. By default they share their
/// slots through a small state file per API host and space, so together they keep to the
/// limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SharedPacing {
    /// Share with every client of this user on this machine, through a state file in the
    /// user's cache folder (or, failing that, a temporary folder named with the user's id).
    /// Which folder is read from the environment when the client is built; nothing is made
    /// in it before the client's first call.
    #[default]
    Machine,
    /// Share through state files in this folder (for example one that several containers
    /// mount), made on the client's first call if missing.
    Dir(std::path::PathBuf),
    /// Pace this client (and its clones) alone.
    Off,
}

impl SharedPacing {
    /// The sharing `STORYBLOK_PACER_DIR` asks for: unset or empty, [`SharedPacing::Machine`];
    /// `off`, [`SharedPacing::Off`]; any other value, [`SharedPacing::Dir`] of that folder.
    ///
    /// ```no_run
    /// use storyblok_assets::{Client, SharedPacing, Token};
    ///
    /// # fn main() -> Result<(), storyblok_assets::Error> {
    /// let client = Client::builder(Token::personal("a-personal-access-token"))
    ///     .shared_pacing(SharedPacing::from_env())
    ///     .build()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_env() -> SharedPacing {
        SharedPacing::from_env_value(std::env::var_os("STORYBLOK_PACER_DIR").as_deref())
    }

    /// The sharing a value of `STORYBLOK_PACER_DIR` asks for (`None` when it is unset), as
    /// [`SharedPacing::from_env`] reads it.
    fn from_env_value(value: Option<&std::ffi::OsStr>) -> SharedPacing {
        match value {
            None => SharedPacing::Machine,
            Some(value) if value.is_empty() => SharedPacing::Machine,
            Some(value) if value == "off" => SharedPacing::Off,
            Some(value) => SharedPacing::Dir(value.into()),
        }
    }
}

/// How often a call waiting on another process's running call looks again.
const POLL: Duration = Duration::from_millis(5);
/// Calls timed before the margin is used.
const TIMED_BEFORE_MARGIN: usize = 8;
/// How many recent calls the spread of call durations is taken over.
const RECENT: usize = 16;
// Only the last RECENT calls are kept: the margin would never be used.
const _: () = assert!(TIMED_BEFORE_MARGIN <= RECENT);
/// The largest margin ever used.
const MAX_MARGIN: Duration = Duration::from_millis(250);
/// How many spaces a pacer keeps before it forgets those at rest ([`Lane::at_rest`]).
const KEPT_SPACES: usize = 256;
/// How often, at most, a pacer looks for spaces to forget.
const FORGET_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct Pacer {
    /// Calls per second; `None` when pacing is off.
    limit: Option<u32>,
    max_in_flight: usize,
    /// How long a call may run: its slot frees itself after that if its process dies.
    budget: Duration,
    /// How long a running call's slot is claimed for, in ns: its budget and a second.
    claim: u64,
    /// Where the ledgers are to be shared, if they are.
    place: Option<Place>,
    /// The folder they are shared in, found (and made) on the first paced call; `None`
    /// when it cannot be.
    dir: OnceLock<Option<Dir>>,
    /// Each space's pacing; locked only to find a space.
    spaces: Mutex<Spaces>,
}

/// The spaces a pacer keeps.
struct Spaces {
    lanes: HashMap<u64, Arc<Lane>>,
    /// When spaces at rest were last forgotten.
    forgot: Option<Instant>,
}

/// One space's pacing, locked on its own: a space that waits on its state file (up to
/// the file lock's patience) holds up no other space, nor the end of another's calls.
struct Lane {
    space: Mutex<Space>,
    /// Signalled when a call of the space ends.
    changed: Condvar,
}

/// What the pacer knows of one space.
struct Space {
    ledger: Ledger,
    in_flight: usize,
    /// The slots this process's calls run in: in a shared ledger, the others' are other
    /// processes'.
    mine: Vec<usize>,
    /// When the space's waiters may next read the state file: one reads it per poll, not
    /// every one.
    read_after: Option<Instant>,
    /// The shortest call timed.
    shortest: Option<Duration>,
    /// The durations of the last [`RECENT`] calls.
    recent: std::collections::VecDeque<Duration>,
}

/// A space's ledger, and where it is kept.
enum Ledger {
    /// In this process alone: sharing is off, the folder could not be used, or the state
    /// file failed (pacing then goes on from the ledger last read from it).
    Memory(Book),
    /// In a state file every process sharing the folder reads and writes; `last` is the
    /// ledger as last read from it.
    Shared { file: StateFile, last: Book },
}

impl Ledger {
    /// The ledger in memory, or the one last read from the state file.
    fn book(&self) -> &Book {
        match self {
            Ledger::Memory(book) | Ledger::Shared { last: book, .. } => book,
        }
    }
}

/// A call's place in flight and in the rate, given back when dropped.
pub(crate) struct Permit<'a> {
    pacer: &'a Pacer,
    lane: Arc<Lane>,
    slot: Option<usize>,
    started: Instant,
    started_at: u64,
}

impl Permit<'_> {
    /// When the call took its place, ns since the epoch.
    pub(crate) fn started_at(&self) -> u64 {
        self.started_at
    }
}

/// Now, in ns since the epoch.
fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Pacer {
    pub(crate) fn new(
        limit: RateLimit,
        max_in_flight: usize,
        budget: Duration,
        sharing: &SharedPacing,
    ) -> Pacer {
        let limit = match limit {
            // Capped, or the rate would not survive the state file's round trip. (0 is
            // refused by the builder, and the ledger reads it as 1.)
            RateLimit::PerSecond(n) => Some(n.min(MAX_RATE)),
            RateLimit::Off => None,
        };
        // The client caps it there too; a claim past it is not believed by other processes.
        let budget = budget.min(Duration::from_nanos(MAX_BUDGET));
        // Only read from the environment here: nothing is made before the first call.
        let place = match (limit, sharing) {
            (None, _) | (_, SharedPacing::Off) => None,
            (_, SharedPacing::Machine) => Some(Place::machine()),
            (_, SharedPacing::Dir(path)) => Some(Place::At(path.clone())),
        };
        Pacer {
            limit,
            max_in_flight: max_in_flight.max(1),
            budget,
            claim: budget.as_secs() * SECOND + u64::from(budget.subsec_nanos()) + SECOND,
            place,
            dir: OnceLock::new(),
            spaces: Mutex::new(Spaces {
                lanes: HashMap::new(),
                forgot: None,
            }),
        }
    }

    /// The folder ledgers are shared in, found (and made) the first time it is asked for.
    fn dir(&self) -> Option<&Dir> {
        self.dir
            .get_or_init(|| self.place.as_ref().and_then(Place::find))
            .as_ref()
    }

    /// The pacing of a space, begun if it was not. Past [`KEPT_SPACES`] spaces, beginning
    /// one forgets those at rest (at most once per [`FORGET_EVERY`]).
    /// A space begun by a call is shared in this pacer's folder, found (and made) by the
    /// first call that paces.
    fn lane(&self, space_id: u64, host: &str) -> Arc<Lane> {
        let mut spaces = crate::mutex::lock(&self.spaces);
        if let Some(lane) = spaces.lanes.get(&space_id) {
            return Arc::clone(lane);
        }
        if spaces.lanes.len() >= KEPT_SPACES
            && spaces.forgot.is_none_or(|at| at.elapsed() >= FORGET_EVERY)
        {
            let now = now_ns();
            spaces.lanes.retain(|_, lane| !lane.at_rest(now));
            spaces.forgot = Some(Instant::now());
        }
        let lane = Arc::new(Lane {
            space: Mutex::new(Space::new(
                self.limit.unwrap_or(1),
                now_ns(),
                self.limit
                    .and_then(|_| self.dir())
                    .map(|dir| dir.state_file(host, space_id)),
            )),
            changed: Condvar::new(),
        });
        spaces.lanes.insert(space_id, Arc::clone(&lane));
        lane
    }

    /// The pacing of a space, if it was begun (and not forgotten).
    fn begun(&self, space_id: u64) -> Option<Arc<Lane>> {
        let spaces = crate::mutex::lock(&self.spaces);
        spaces.lanes.get(&space_id).cloned()
    }

    /// Waits for a place in flight and a free slot of `space`'s rate (at API `host`), then
    /// takes both.
    pub(crate) fn acquire(&self, space_id: u64, host: &str) -> Permit<'_> {
        let lane = self.lane(space_id, host);
        let (started_at, slot) = self.wait_for_slot(&lane);
        Permit {
            pacer: self,
            lane,
            slot,
            started: Instant::now(),
            started_at,
        }
    }

    /// Waits for a place in flight and a free slot of the space in `lane`, and takes both:
    /// when, and which slot (`None` when pacing is off).
    fn wait_for_slot(&self, lane: &Lane) -> (u64, Option<usize>) {
        let mut space = lane.lock();
        let waiting_since = Instant::now();
        loop {
            if space.in_flight >= self.max_in_flight {
                space = lane.wait(space, None);
                continue;
            }
            let Some(limit) = self.limit else {
                space.in_flight += 1;
                return (now_ns(), None);
            };
            // A shared ledger whose slots stay taken for a whole call budget is stuck (a
            // hung or hostile process): pace alone from here on.
            if space.is_shared() && waiting_since.elapsed() > self.budget {
                space.pace_alone(now_ns());
            }
            // One waiter at a time reads the state file, once per poll.
            if space.is_shared()
                && let Some(at) = space.read_after
                && let Some(wait) = at.checked_duration_since(Instant::now())
            {
                space = lane.wait(space, Some(wait));
                continue;
            }
            let owner = space.owner();
            // A slot taken is written back; none found changes nothing, and is not.
            let (taken, now) = space.with_book(
                limit,
                |book, now| (book.take(now, limit, now + self.claim, owner), now),
                |(taken, _)| taken.is_ok(),
            );
            match taken {
                Ok(slot) => {
                    space.in_flight += 1;
                    space.mine.push(slot);
                    return (now, Some(slot));
                }
                Err(Wait::Until(until)) => {
                    let wait = Duration::from_nanos(until.saturating_sub(now));
                    // Another process's release is not signalled here: look again soon.
                    let wait = if space.is_shared() {
                        wait.min(POLL * 4)
                    } else {
                        wait
                    };
                    let wait = wait.max(Duration::from_millis(1));
                    space.read_after = Some(Instant::now() + wait);
                    space = lane.wait(space, Some(wait));
                }
                Err(Wait::Poll) => {
                    // Every slot is running: a release here wakes this wait, one in another
                    // process does not; nor does the rate growing. Look again soon.
                    let wait = if space.is_shared() { POLL } else { POLL * 20 };
                    space.read_after = Some(Instant::now() + wait);
                    space = lane.wait(space, Some(wait));
                }
            }
        }
    }

    /// A 429 answered a call that started at `started_at`; `learned` is the limit the
    /// answer named, if it did.
    pub(crate) fn throttled(&self, space_id: u64, started_at: u64, learned: Option<u32>) {
        let Some(limit) = self.limit else {
            return;
        };
        if let Some(lane) = self.begun(space_id) {
            lane.lock().with_book(
                limit,
                |book, now| book.throttled(started_at, now, learned, limit),
                |_| true,
            );
        }
    }

    /// The rate in force for a space, for tests.
    #[cfg(test)]
    fn rate(&self, space_id: u64) -> f64 {
        let limit = self.limit.unwrap_or(1);
        self.begun(space_id).map_or(f64::from(limit), |lane| {
            lane.lock()
                .with_book(limit, |b, now| b.rate_at(now, limit), |_| false)
        })
    }
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, Space> {
        crate::mutex::lock(&self.space)
    }

    /// Whether the space can be forgotten at `now`, losing nothing but speed: no call
    /// waits on it or runs in it, and its ledger is at rest ([`Book::at_rest`]). One that
    /// is busy (its state file's lock awaited) is not.
    fn at_rest(self: &Arc<Self>, now: u64) -> bool {
        // Only the map holds it: no permit, no waiter, no 429 being noted.
        Arc::strong_count(self) == 1
            && self
                .space
                .try_lock()
                .is_ok_and(|space| space.in_flight == 0 && space.ledger.book().at_rest(now))
    }

    /// Waits for the end of a call of the space, at most `timeout`.
    fn wait<'g>(
        &self,
        guard: MutexGuard<'g, Space>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'g, Space> {
        crate::mutex::wait(&self.changed, guard, timeout)
    }
}

impl Space {
    /// A space not called yet, at `configured` calls per second, its ledger in `file` or
    /// in memory.
    fn new(configured: u32, now: u64, file: Option<StateFile>) -> Space {
        let book = Book::new(configured, now);
        Space {
            ledger: match file {
                Some(file) => Ledger::Shared { file, last: book },
                None => Ledger::Memory(book),
            },
            in_flight: 0,
            mine: Vec::new(),
            read_after: None,
            shortest: None,
            recent: std::collections::VecDeque::with_capacity(RECENT),
        }
    }

    /// Runs `change` on the shared ledger, or the one in memory when there is none, at the
    /// time read once the ledger is locked (its times clamped to it, [`Book::clamp`]); a
    /// shared ledger is written back when `changed` says `change`'s result changed it. A
    /// shared ledger that fails is dropped for the rest of the run: pacing goes on here.
    fn with_book<T>(
        &mut self,
        limit: u32,
        change: impl Fn(&mut Book, u64) -> T,
        changed: impl Fn(&T) -> bool,
    ) -> T {
        if let Ledger::Shared { file, last } = &mut self.ledger {
            match file.update(limit, now_ns, &change, &changed) {
                Ok((result, book)) => {
                    // Kept, so pacing carries on from it if the file fails later.
                    *last = book;
                    return result;
                }
                Err(_) => self.pace_alone(now_ns()),
            }
        }
        let now = now_ns();
        match &mut self.ledger {
            Ledger::Memory(book) | Ledger::Shared { last: book, .. } => {
                book.clamp(now);
                change(book, now)
            }
        }
    }

    /// The id this process's calls are named by in the space's ledger (0 in memory).
    fn owner(&self) -> u64 {
        match &self.ledger {
            Ledger::Shared { file, .. } => file.owner(),
            Ledger::Memory(_) => 0,
        }
    }

    /// Leaves the state file for the rest of the run, pacing on from the last ledger read
    /// from it. The calls it says other processes run may be real, but may also never end
    /// (a hung process, a hostile file: the reason to leave it): each is given a hold
    /// from `now`, as if it had just ended, rather than the hour it may claim.
    fn pace_alone(&mut self, now: u64) {
        let mut book = self.ledger.book().clone();
        let until = now + book.hold();
        for (index, slot) in book.slots.iter_mut().enumerate() {
            if matches!(slot, Slot::Running { .. }) && !self.mine.contains(&index) {
                *slot = Slot::Held(until);
            }
        }
        self.ledger = Ledger::Memory(book);
    }

    /// Whether the ledger is a state file's.
    fn is_shared(&self) -> bool {
        matches!(self.ledger, Ledger::Shared { .. })
    }

    /// The margin `m` a slot's hold may be shortened by, once enough calls were timed
    /// ([`TIMED_BEFORE_MARGIN`]).
    ///
    /// For a rate of `N` calls per second the pacer has `N` slots. A call takes a free slot
    /// when it starts; when it ends, the slot stays taken for one more second, less a margin
    /// `m`. Why that is safe, for two calls one after the other in one slot:
    ///
    /// - call 1 starts at `S1`, is counted at `A1`, and its answer arrives at `E1`; call 2
    ///   starts at `S2 ≥ E1 + 1 s − m` and is counted at `A2`;
    /// - split each call's duration `D = E − S` at the moment it is counted: the time before,
    ///   `f = A − S` (the request's way there, and whatever the server does before it counts),
    ///   and the time after, `b = E − A` (the rest of the work, and the answer's way back);
    /// - then `A2 − A1 = (S2 − E1) + f2 + b1 ≥ 1 s − m + f2 + b1`, which is at least one
    ///   second whenever `m ≤ f2 + b1`.
    ///
    /// So with `m` at most the smallest `f` plus the smallest `b`, no two calls of a slot are
    /// counted within a second of each other, and no fixed one-second window, wherever its
    /// boundaries fall, counts more than `N` calls: however far the server is, however
    /// long connections take to set up. `m = 0` is always safe; it makes each slot cycle in
    /// one second plus a round trip, `N / (1 s + D)` calls per second (91% of the limit at a
    /// 100 ms round trip).
    ///
    /// The pacer does not know `f` and `b` apart, only each call's `D = f + b`, and the
    /// least `D` it has seen is at least, but possibly more than, the least `f` plus the
    /// least `b` (the two may never have been least in the same call). So it takes
    ///
    /// `m = Dmin − min(s, Dmin / 2)`
    ///
    /// where `Dmin` is the shortest call timed and `s` the spread (longest less shortest) of
    /// the last 16: the shortest call less the jitter seen, but never more than half of it.
    /// Each part rests on an assumption, and `m` is safe when either holds:
    ///
    /// - *the spread covers the jitter*: the least `f + b` to come is no lower than `Dmin − s`
    ///   (after at least 8 calls, a spread of 16 misses the low end of independent jitter
    ///   only with vanishing odds; with no jitter it is exact);
    /// - *each part within twice its least value*: then `Dmin ≤ 2 (min f + min b)`, and half
    ///   of it is safe whatever the spread.
    ///
    /// Queueing and slow servers only lengthen calls, which makes `Dmin` a looser bound, not
    /// an unsafe one. `m` is never more than 250 ms. At a steady 100 ms round trip with no
    /// jitter a slot cycles in about 1.005 s (over 99% of the limit); a jittery round trip
    /// falls back to half the shortest.
    fn margin(&self) -> u64 {
        if self.recent.len() < TIMED_BEFORE_MARGIN {
            return 0;
        }
        let (Some(shortest), Some(longest), Some(least)) = (
            self.shortest,
            self.recent.iter().max(),
            self.recent.iter().min(),
        ) else {
            return 0;
        };
        let spread = longest.saturating_sub(*least);
        let margin = shortest.saturating_sub(spread.min(shortest / 2));
        u64::try_from(margin.min(MAX_MARGIN).as_nanos()).unwrap_or(0)
    }

    /// Notes how long a call took.
    fn timed(&mut self, took: Duration) {
        self.shortest = Some(self.shortest.map_or(took, |s| s.min(took)));
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(took);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let took = self.started.elapsed();
        let mut space = self.lane.lock();
        space.in_flight = space.in_flight.saturating_sub(1);
        space.timed(took);
        if let (Some(slot), Some(limit)) = (self.slot, self.pacer.limit) {
            let margin = space.margin();
            // The call ended before the state file's lock was had: a later end only holds
            // the slot longer.
            space.with_book(limit, |book, end| book.release(slot, end, margin), |_| true);
            // The space's waiters may look at the state file at once.
            space.read_after = None;
            if let Some(mine) = space.mine.iter().position(|&s| s == slot) {
                space.mine.swap_remove(mine);
            }
        }
        drop(space);
        self.lane.changed.notify_all();
    }
}

/// The limit a 429 body names: `Rate limit of 6 request per second has been reached.`
pub(crate) fn limit_in(message: &str) -> Option<u32> {
    let rest = message.split("Rate limit of ").nth(1)?;
    let number: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let limit: u32 = number.parse().ok()?;
    (1..=MAX_RATE).contains(&limit).then_some(limit)
}

#[cfg(test)]
mod tests {
    use super::book::DECREASE;
    use super::shared::tests::TempDir;
    use super::*;

    fn pacer(limit: RateLimit, in_flight: usize) -> Pacer {
        Pacer::new(
            limit,
            in_flight,
            Duration::from_secs(60),
            &SharedPacing::Off,
        )
    }

    #[test]
    fn a_fresh_pacer_opens_with_a_quarter_of_the_limit_then_grows() {
        let pacer = pacer(RateLimit::PerSecond(8), 30);
        let start = Instant::now();
        let first: Vec<_> = (0..2).map(|_| pacer.acquire(1, "h")).collect();
        assert_eq!(pacer.rate(1), 2.0, "a fresh ledger opens at a quarter");
        // Two slots, both running: a third needs the rate to grow, a second later.
        let third = pacer.acquire(1, "h");
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(pacer.rate(1) > 2.0);
        drop((first, third));
    }

    #[test]
    fn a_slot_stays_taken_for_a_second_after_its_call() {
        let pacer = Arc::new(pacer(RateLimit::PerSecond(4), 30));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (pacer, calls) = (pacer.clone(), calls.clone());
                std::thread::spawn(move || {
                    for _ in 0..3 {
                        let permit = pacer.acquire(1, "h");
                        std::thread::sleep(Duration::from_millis(20)); // the round trip
                        let ended = Instant::now();
                        let started = permit.started;
                        drop(permit);
                        crate::mutex::lock(&calls).push((started, ended));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let mut calls = crate::mutex::lock(&calls).clone();
        calls.sort();
        assert_eq!(calls.len(), 12);
        // Of any 5 calls, two shared a slot: the later started at least a second, less the
        // margin (at most the shortest call, 20 ms here), after the earlier ended.
        for w in calls.windows(5) {
            let last_start = w[4].0;
            let earliest_end = w[..4].iter().map(|c| c.1).min().expect("four");
            assert!(
                last_start + Duration::from_millis(21) >= earliest_end + Duration::from_secs(1),
                "{w:?}"
            );
        }
    }

    /// A space that timed calls of these durations, in ms.
    fn timed(durations: impl IntoIterator<Item = u64>) -> Space {
        let mut space = Space::new(6, now_ns(), None);
        for ms in durations {
            space.timed(Duration::from_millis(ms));
        }
        space
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn the_margin_waits_for_eight_calls_then_is_the_shortest_call_when_none_vary() {
        assert_eq!(timed([]).margin(), 0);
        assert_eq!(timed([100; 7]).margin(), 0, "seven calls are too few");
        assert_eq!(timed([100; 8]).margin(), 100 * MS, "no jitter: all of Dmin");
        assert_eq!(
            timed([120, 100, 110, 105, 100, 115, 100, 100]).margin(),
            80 * MS,
            "Dmin less a spread below half of it"
        );
    }

    #[test]
    fn the_margin_is_half_the_shortest_call_under_wide_jitter() {
        assert_eq!(timed([100, 300].repeat(4)).margin(), 50 * MS);
        assert_eq!(timed([100, 3000].repeat(4)).margin(), 50 * MS);
        // The spread is that of the last 16 calls: once the jitter is gone, so is its cost.
        let mut calm = [100, 300].repeat(4);
        calm.extend([100; RECENT]);
        assert_eq!(timed(calm).margin(), 100 * MS);
    }

    #[test]
    fn the_margin_is_capped_at_a_quarter_second() {
        assert_eq!(MAX_MARGIN, Duration::from_millis(250));
        assert_eq!(timed([400; 8]).margin(), 250 * MS, "no jitter");
        assert_eq!(
            timed([600, 2000].repeat(4)).margin(),
            250 * MS,
            "half of 600"
        );
        assert_eq!(timed([260; 8]).margin(), 250 * MS);
        assert_eq!(timed([240; 8]).margin(), 240 * MS, "under the cap");
    }

    #[test]
    fn spaces_are_paced_apart() {
        let pacer = Arc::new(pacer(RateLimit::PerSecond(1), 30));
        // Space 1's one slot stays taken: a call of space 2 that waited for it would wait
        // for ever.
        let a = pacer.acquire(1, "h");
        let (done, other) = std::sync::mpsc::channel();
        {
            let pacer = pacer.clone();
            std::thread::spawn(move || {
                drop(pacer.acquire(2, "h"));
                let _ = done.send(());
            });
        }
        other
            .recv_timeout(Duration::from_secs(10))
            .expect("another space, another slot");
        drop(a);
    }

    #[test]
    fn in_flight_is_capped() {
        let pacer = Arc::new(pacer(RateLimit::Off, 2));
        let a = pacer.acquire(1, "h");
        let _b = pacer.acquire(1, "h");
        let (entered, waiter) = std::sync::mpsc::channel();
        {
            let pacer = pacer.clone();
            std::thread::spawn(move || {
                let _c = pacer.acquire(1, "h");
                let _ = entered.send(Instant::now());
            });
        }
        std::thread::sleep(Duration::from_millis(100));
        let released = Instant::now();
        drop(a);
        let entered = waiter
            .recv_timeout(Duration::from_secs(10))
            .expect("the third call enters once a place is free");
        assert!(entered >= released, "the third call waited for a place");
    }

    #[test]
    fn a_429_lowers_the_rate_and_a_named_limit_caps_it() {
        let pacer = pacer(RateLimit::PerSecond(8), 30);
        let permit = pacer.acquire(7, "h");
        let started = permit.started_at();
        drop(permit);
        assert_eq!(pacer.rate(7), 2.0, "a fresh ledger opens at a quarter");
        pacer.throttled(7, started, None);
        assert_eq!(pacer.rate(7), 1.0, "one slot fewer than the two refused");
        pacer.throttled(7, started, None);
        assert_eq!(pacer.rate(7), 1.0, "the same burst counts once");
        let capped = super::tests::pacer(RateLimit::PerSecond(8), 30);
        drop(capped.acquire(7, "h"));
        capped.throttled(7, now_ns(), Some(1));
        assert_eq!(capped.rate(7), 1.0, "the limit a 429 names caps the rate");
    }

    #[test]
    fn off_never_waits() {
        let pacer = pacer(RateLimit::Off, 1000);
        // Far more than any rate's slots, all held at once: none waits for a slot, since
        // none takes one.
        let permits: Vec<_> = (0..500).map(|_| pacer.acquire(1, "h")).collect();
        assert_eq!(permits.len(), 500);
        assert!(permits.iter().all(|permit| permit.slot.is_none()));
        pacer.throttled(1, now_ns(), None);
        assert!(
            pacer
                .begun(1)
                .is_some_and(|lane| lane.lock().ledger.book().slots.is_empty())
        );
    }

    #[test]
    fn sharing_is_read_from_the_environment() {
        use std::ffi::OsStr;
        assert_eq!(SharedPacing::from_env_value(None), SharedPacing::Machine);
        assert_eq!(
            SharedPacing::from_env_value(Some(OsStr::new(""))),
            SharedPacing::Machine,
            "empty is unset, not a folder named nothing"
        );
        assert_eq!(
            SharedPacing::from_env_value(Some(OsStr::new("off"))),
            SharedPacing::Off
        );
        assert_eq!(
            SharedPacing::from_env_value(Some(OsStr::new("/mnt/pacer"))),
            SharedPacing::Dir("/mnt/pacer".into())
        );
        assert_eq!(
            SharedPacing::from_env_value(Some(OsStr::new("Off"))),
            SharedPacing::Dir("Off".into()),
            "only `off` opts out"
        );
    }

    #[test]
    fn limits_are_read_from_storyblok_words() {
        assert_eq!(
            limit_in("Rate limit of 6 request per second has been reached. Retry later."),
            Some(6)
        );
        assert_eq!(limit_in("Rate limit of 3 requests per second"), Some(3));
        for other in [
            "Too Many Requests",
            "Rate limit of x",
            "Rate limit of 0 request",
            "Rate limit of 99999999999 request",
        ] {
            assert_eq!(limit_in(other), None, "{other}");
        }
    }

    /// A pacer at 6/s sharing its slots through `dir`, with calls of `budget`.
    fn shared_at_six(dir: &TempDir, budget: Duration) -> Arc<Pacer> {
        Arc::new(Pacer::new(
            RateLimit::PerSecond(6),
            30,
            budget,
            &SharedPacing::Dir(dir.0.clone()),
        ))
    }

    #[test]
    fn a_rate_above_the_ceiling_is_capped_and_survives_the_state_file() {
        let dir = TempDir::new();
        let pacer = Pacer::new(
            RateLimit::PerSecond(5000),
            30,
            Duration::from_secs(60),
            &SharedPacing::Dir(dir.0.clone()),
        );
        let permit = pacer.acquire(3, "h");
        drop(permit);
        let before = pacer.rate(3);
        pacer.throttled(3, now_ns(), None);
        assert_eq!(pacer.rate(3), before * DECREASE, "a 429 is not forgotten");
        assert_eq!(pacer.limit, Some(MAX_RATE));
    }

    #[test]
    fn a_state_file_stuck_for_a_call_budget_is_left_without_stalling() {
        let dir = TempDir::made();
        let pacer = shared_at_six(&dir, Duration::from_millis(300));
        // Every slot runs for an hour, in processes that hang (or a file that lies).
        let hour = now_ns() + 3600 * SECOND;
        let slots = format!(" r{hour}").repeat(6);
        let ledger = format!("storyblok-assets pacer 1\nrate 6\nslots{slots}\n");
        std::fs::write(dir.0.join("h-9.pacer"), ledger).expect("written");
        let start = Instant::now();
        let (sent, got) = std::sync::mpsc::channel();
        {
            let pacer = pacer.clone();
            std::thread::spawn(move || {
                let permit = pacer.acquire(9, "h");
                let _ = sent.send(start.elapsed());
                drop(permit);
            });
        }
        let took = got
            .recv_timeout(Duration::from_secs(3))
            .expect("a permit within a call budget and a hold");
        // The file is trusted for a call budget, and the calls it said were running are
        // given a hold (a second at 6/s) when it is left: they may be real.
        assert!(took >= Duration::from_millis(1200), "{took:?}");
    }

    #[test]
    fn a_space_that_paces_alone_keeps_its_own_calls_running() {
        let now = now_ns();
        let mut book = Book::new(2, now);
        book.rate = 2.0;
        let (far, end) = (now + 3600 * SECOND, now + SECOND / 2);
        let far = Slot::Running {
            expires: far,
            owner: 0,
        };
        book.slots = vec![far, far, Slot::Held(end)];
        let mut space = Space::new(2, now, None);
        space.ledger = Ledger::Memory(book);
        space.mine = vec![1];
        space.pace_alone(now);
        assert_eq!(
            space.ledger.book().slots,
            [Slot::Held(now + SECOND), far, Slot::Held(end)]
        );
    }

    #[test]
    fn a_space_waiting_on_its_state_file_holds_up_no_other() {
        let dir = TempDir::new();
        let pacer = shared_at_six(&dir, Duration::from_secs(60));
        drop((pacer.acquire(1, "h"), pacer.acquire(2, "h")));
        // Another process holds space 1's state file locked.
        let other = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.0.join("h-1.pacer"))
            .expect("the state file");
        other.lock().expect("locked");
        let waiting = {
            let pacer = pacer.clone();
            std::thread::spawn(move || drop(pacer.acquire(1, "h")))
        };
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        drop(pacer.acquire(2, "h"));
        let took = start.elapsed();
        other.unlock().expect("unlocked");
        waiting.join().expect("thread");
        // Held up, it would wait out the file lock's patience (2 s) first.
        assert!(took < Duration::from_millis(1500), "{took:?}");
    }

    #[test]
    fn calls_waiting_on_a_state_file_leave_it_unwritten() {
        let dir = TempDir::made();
        let pacer = shared_at_six(&dir, Duration::from_secs(60));
        // Every slot runs, in other processes, for another 400 ms.
        let until = now_ns() + 400 * 1_000_000;
        let path = dir.0.join("h-4.pacer");
        let slots = format!(" r{until}").repeat(6);
        let ledger = format!("storyblok-assets pacer 1\nrate 6\nslots{slots}\n");
        std::fs::write(&path, &ledger).expect("written");
        let seen = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("a time");
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let pacer = pacer.clone();
                std::thread::spawn(move || drop(pacer.acquire(4, "h")))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(250));
        let modified = std::fs::metadata(&path).and_then(|m| m.modified());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), ledger);
        assert_eq!(modified.expect("a time"), seen);
        for waiter in waiters {
            waiter.join().expect("a slot once the others' calls expire");
        }
    }

    #[test]
    fn two_pacers_share_a_ledger_through_a_folder() {
        let temp = TempDir::new();
        let dir = temp.0.clone();
        let sharing = SharedPacing::Dir(dir.clone());
        let one = Pacer::new(
            RateLimit::PerSecond(8),
            30,
            Duration::from_secs(60),
            &sharing,
        );
        let two = Pacer::new(
            RateLimit::PerSecond(8),
            30,
            Duration::from_secs(60),
            &sharing,
        );
        // Eight a second, opening at two: one slot each, then both held.
        let start = Instant::now();
        let a = one.acquire(5, "mapi.example");
        let b = two.acquire(5, "mapi.example");
        assert!(start.elapsed() < Duration::from_millis(500));
        drop((a, b));
        // Both slots are held for about a second: a third call, from either, waits.
        let c = one.acquire(5, "mapi.example");
        assert!(
            start.elapsed() >= Duration::from_millis(700),
            "{:?}",
            start.elapsed()
        );
        drop(c);
        // A 429 seen by one slows the other.
        let before = one.rate(5);
        two.throttled(5, now_ns(), None);
        assert!(one.rate(5) < before, "{} then {before}", one.rate(5));
    }

    /// What the child of [`a_killed_process_frees_its_slots_within_seconds_a_live_one_does_not`]
    /// is told, and says when it holds every slot.
    const KILLED_CHILD: &str = "pacer::tests::a_process_holding_every_slot_until_killed";
    const KILLED_CHILD_DIR: &str = "STORYBLOK_PACER_TEST_KILLED_DIR";
    const EVERY_SLOT_TAKEN: &str = "every slot taken";

    /// Kills the child process when dropped, whatever the test's outcome.
    struct Killed(std::process::Child);

    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    #[cfg(unix)]
    fn a_killed_process_frees_its_slots_within_seconds_a_live_one_does_not() {
        use std::io::BufRead;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = TempDir::made();
        // At the full rate already: the child need not wait for it to grow.
        std::fs::write(
            dir.0.join("h-1.pacer"),
            "storyblok-assets pacer 1\nrate 6\n",
        )
        .expect("written");
        let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", KILLED_CHILD, "--ignored", "--nocapture"])
            .args(["--test-threads=1"])
            .env(KILLED_CHILD_DIR, &dir.0)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the child test runs");
        let stdout = child.stdout.take().expect("its output");
        let mut child = Killed(child);
        let (ready, taken) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                if line.is_ok_and(|line| line.ends_with(EVERY_SLOT_TAKEN)) {
                    let _ = ready.send(());
                }
            }
        });
        taken
            .recv_timeout(Duration::from_secs(20))
            .expect("the child takes every slot");
        // Every slot runs in the child, for its call budget of a minute.
        let pacer = shared_at_six(&dir, Duration::from_secs(60));
        let got = Arc::new(AtomicUsize::new(0));
        let (all, every) = std::sync::mpsc::channel();
        {
            let got = got.clone();
            std::thread::spawn(move || {
                let permits: Vec<_> = (0..6)
                    .map(|_| {
                        let permit = pacer.acquire(1, "h");
                        got.fetch_add(1, Ordering::SeqCst);
                        permit
                    })
                    .collect();
                let _ = all.send(());
                drop(permits);
            });
        }
        // Longer than a hold (a second at 6/s): slots of a child taken for dead would be
        // free by then.
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(
            got.load(Ordering::SeqCst),
            0,
            "a live process's running calls keep their slots"
        );
        child.0.kill().expect("SIGKILL");
        child.0.wait().expect("reaped");
        // Not after the child's call budget (a minute): within seconds of its death.
        every
            .recv_timeout(Duration::from_secs(10))
            .expect("every slot, soon after the process that held them was killed");
    }

    #[test]
    #[ignore = "run by a_killed_process_frees_its_slots_within_seconds_a_live_one_does_not"]
    fn a_process_holding_every_slot_until_killed() {
        let Some(dir) = std::env::var_os(KILLED_CHILD_DIR) else {
            return;
        };
        let pacer = Pacer::new(
            RateLimit::PerSecond(6),
            30,
            Duration::from_secs(60),
            &SharedPacing::Dir(dir.into()),
        );
        let permits: Vec<_> = (0..6).map(|_| pacer.acquire(1, "h")).collect();
        println!("{EVERY_SLOT_TAKEN}");
        // Killed long before this.
        std::thread::sleep(Duration::from_secs(120));
        drop(permits);
    }

    #[test]
    fn a_429_another_process_records_while_a_call_waits_for_the_lock_is_kept() {
        use std::io::{Seek, Write};
        let dir = TempDir::new();
        let pacer = shared_at_six(&dir, Duration::from_secs(60));
        drop(pacer.acquire(8, "h"));
        let path = dir.0.join("h-8.pacer");
        // Another process holds the state file locked.
        let mut other = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("the state file");
        other.lock().expect("locked");
        let waiting = {
            let pacer = pacer.clone();
            std::thread::spawn(move || drop(pacer.acquire(8, "h")))
        };
        std::thread::sleep(Duration::from_millis(100));
        // Meanwhile it was answered a 429 that named a limit of 2 calls a second.
        let at = now_ns();
        let ledger = format!(
            "storyblok-assets pacer 1\nrate 2\ndecreased {at}\ngrown {at}\nlearned 2\nslots\n"
        );
        other.set_len(0).expect("cut");
        other.rewind().expect("rewound");
        other.write_all(ledger.as_bytes()).expect("written");
        other.unlock().expect("unlocked");
        waiting.join().expect("thread");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(&format!("\ndecreased {at}\n")), "{text}");
        assert!(text.contains("\nlearned 2\n"), "{text}");
        assert_eq!(pacer.rate(8), 2.0, "the limit learned is kept");
    }

    /// Open file descriptors of this process.
    #[cfg(target_os = "linux")]
    fn open_files() -> usize {
        std::fs::read_dir("/proc/self/fd").expect("listed").count()
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_pacer_over_thousands_of_spaces_keeps_few_files_open_and_forgets_idle_ones() {
        let dir = TempDir::new();
        let pacer = shared_at_six(&dir, Duration::from_secs(60));
        drop(pacer.acquire(0, "h"));
        let before = open_files();
        for space in 1..=2000 {
            drop(pacer.acquire(space, "h"));
        }
        let after = open_files();
        // Other tests of this binary open files too, but not thousands.
        assert!(after < before + 100, "{before} then {after} open");
        // Once their slots are free (held 2 / 1.5 s at the opening rate), idle spaces are
        // forgotten.
        std::thread::sleep(Duration::from_millis(1500));
        drop(pacer.acquire(3000, "h"));
        let kept = crate::mutex::lock(&pacer.spaces).lanes.len();
        assert!(kept <= KEPT_SPACES, "{kept} spaces kept");
    }
}
