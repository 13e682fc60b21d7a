//! What a fleet of clients sharing one space sees: every Management API request counts in the
//! rate-limit window, refused ones included, and latency on the way in and out.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use storyblok_assets_emulator::*;

mod common;
use common::*;

/// Sleeps until the clock is next `offset` past a whole Unix second (this second's, if that
/// is still ahead).
fn sleep_until_second_plus(offset: Duration) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let into = Duration::from_nanos(u64::from(now.subsec_nanos()));
    let wait = if into < offset {
        offset - into
    } else {
        Duration::from_secs(1) - into + offset
    };
    std::thread::sleep(wait);
}

fn get(emulator: &Emulator) -> u16 {
    mapi(emulator, "GET", "/assets/1", "").status
}

#[test]
fn refused_requests_count_in_the_window() {
    // One request in flight at a time, two a second.
    let emulator = Emulator::builder()
        .rate_limit(Some(2))
        .max_in_flight(1)
        .start()
        .expect("starts");
    emulator.inject(Fault::delay(Endpoint::Other, 1, Duration::from_millis(300)));
    sleep_until_second_plus(Duration::from_millis(20));
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| get(&emulator));
        std::thread::sleep(Duration::from_millis(100));
        // Over the in-flight cap: 429, and it counts in the window.
        assert_eq!(get(&emulator), 429);
        assert_eq!(slow.join().ok(), Some(404));
    });
    // Two requests are in this second's window already (the refused one among them), so a
    // third is refused although only one was served.
    assert_eq!(get(&emulator), 429);
    let statuses: Vec<u16> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [404, 429, 429]);
}

#[test]
fn a_429_carries_retry_after_only_when_asked() {
    for (retry_after, expected) in [(None, None), (Some(1), Some("1"))] {
        let emulator = Emulator::builder()
            .rate_limit(Some(1))
            .retry_after(retry_after)
            .start()
            .expect("starts");
        sleep_until_second_plus(Duration::from_millis(20));
        assert_eq!(get(&emulator), 404);
        let refused = mapi(&emulator, "GET", "/assets/1", "");
        assert_eq!(refused.status, 429);
        assert_eq!(refused.header("retry-after"), expected);
    }
}

#[test]
fn requests_are_delayed_both_ways() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .one_way_delay(Duration::from_millis(300), Duration::ZERO)
        .start()
        .expect("starts");
    let started = Instant::now();
    assert_eq!(get(&emulator), 404);
    let round_trip = started.elapsed();
    assert!(round_trip >= Duration::from_millis(600), "{round_trip:?}");

    // The request is handled between the trips: its status is recorded before the answer
    // reaches the client.
    let mut socket = TcpStream::connect(emulator.addr()).expect("connects");
    write!(
        socket,
        "GET /v1/spaces/606/assets/1 HTTP/1.1\r\nAuthorization: {}\r\n\r\n",
        emulator.token()
    )
    .expect("request");
    // Margins of 150 ms or more around each trip's end, for a busy machine.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(emulator.requests()[1].status, 0, "still on its way in");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        emulator.requests()[1].status,
        404,
        "handled, on its way out"
    );
    assert_eq!(read_reply(&mut socket).map(|r| r.status), Some(404));

    // A refusal from the head (401) travels both ways too.
    let started = Instant::now();
    let reply = send(&emulator, "GET", "/v1/spaces/606/assets/1", &[], b"").expect("answer");
    assert_eq!(reply.status, 401);
    assert!(started.elapsed() >= Duration::from_millis(600));

    // S3 is not delayed: its answer comes before one trip of a Management API request
    // could have ended, however busy the machine.
    let emulator = Emulator::builder()
        .rate_limit(None)
        .one_way_delay(Duration::from_secs(2), Duration::ZERO)
        .start()
        .expect("starts");
    let started = Instant::now();
    let reply = send(
        &emulator,
        "GET",
        "/a.storyblok.com/f/606/x/none.png",
        &[],
        b"",
    )
    .expect("answer");
    assert_eq!(reply.status, 404);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_request_counts_in_the_window_it_arrives_in_after_its_inbound_trip() {
    let emulator = Emulator::builder()
        .rate_limit(Some(1))
        .one_way_delay(Duration::from_millis(300), Duration::ZERO)
        .start()
        .expect("starts");
    // A leaves at .85 and arrives at 1.15, in the next second's window; B leaves at 1.05 and
    // arrives at 1.35, in the same window: refused. Counted when their heads reached the
    // socket, they would fall into two windows and both pass.
    sleep_until_second_plus(Duration::from_millis(850));
    std::thread::scope(|scope| {
        let a = scope.spawn(|| get(&emulator));
        std::thread::sleep(Duration::from_millis(200));
        let b = get(&emulator);
        assert_eq!((a.join().ok(), b), (Some(404), 429));
    });
}

#[test]
fn jitter_spreads_the_round_trips() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .one_way_delay(Duration::ZERO, Duration::from_millis(60))
        .start()
        .expect("starts");
    let trips: Vec<Duration> = (0..12)
        .map(|_| {
            let started = Instant::now();
            assert_eq!(get(&emulator), 404);
            started.elapsed()
        })
        .collect();
    let shortest = trips.iter().min().copied().unwrap_or_default();
    let longest = trips.iter().max().copied().unwrap_or_default();
    // Each trip adds at most 60 ms: nowhere near a second, even on a busy machine.
    assert!(longest < Duration::from_secs(1), "{trips:?}");
    assert!(longest - shortest > Duration::from_millis(15), "{trips:?}");
}

#[test]
fn a_fixed_port() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let emulator = Emulator::builder()
        .rate_limit(None)
        .port(free)
        .start()
        .expect("starts on the port");
    assert_eq!(emulator.addr().port(), free);
    assert_eq!(emulator.api_url(), format!("http://127.0.0.1:{free}/v1"));
    assert_eq!(get(&emulator), 404);
    // The port is taken now.
    assert!(Emulator::builder().port(free).start().is_err());
}
