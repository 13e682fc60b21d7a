//! Pacing: many threads through one client against a server that enforces Storyblok's
//! fixed-window rate limit exactly, and counts every request, refused ones too. Kept in a
//! test binary of its own so that no other test competes with it for the CPU and skews
//! when requests arrive.
//!
//! The pacer's guarantee (no one-second window sees more calls than the limit, and the
//! limit is reached) does not depend on the rate, so this runs at 100 calls per second;
//! Storyblok's own 6/s, for 133 seconds, is `cargo bench --bench bulk_rate`.

mod common;

use std::time::Instant;

use common::{builder_for, pattern, setup_limited};
use storyblok_assets::{AssetParams, RateLimit, Source};
use storyblok_assets_emulator::{Emulator, Endpoint};

const RATE: u32 = 100;

#[test]
fn eight_threads_at_the_rate_limit_get_no_429() {
    let s = setup_limited(Emulator::builder().rate_limit(Some(RATE)));
    let client = builder_for(&s.emulator)
        .rate_limit(RateLimit::PerSecond(RATE))
        .build()
        .expect("client");
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let client = client.clone();
            let space = s.space;
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let name = format!("t{thread}-{i}.bin");
                        let data = pattern(100 + thread * 50 + i);
                        let asset = client
                            .upload(
                                space,
                                AssetParams::new().filename(&name),
                                Source::bytes(data.clone()),
                            )
                            .unwrap_or_else(|e| panic!("{name}: {e}"));
                        (asset.id, data)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let uploaded: Vec<(u64, Vec<u8>)> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("thread"))
        .collect();

    // 400 calls at 100/s take about 4 s (the pacer opens at half the rate, 50 at once,
    // and is at the full rate a second later); a pacer much slower than the limit fails
    // too.
    let took = started.elapsed();
    let calls = 2.0 * uploaded.len() as f64;
    assert!(
        took.as_secs_f64() < 1.3 * calls / f64::from(RATE),
        "took {took:?}"
    );
    let requests = s.emulator.requests();
    let too_many = requests.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        too_many, 0,
        "no 429 from a server that enforces exactly the limit"
    );
    assert_eq!(uploaded.len(), 200);
    assert_eq!(s.emulator.assets().len(), 200, "one record per asset");
    for (id, data) in &uploaded {
        let asset = s.emulator.asset(*id).expect("record");
        assert_eq!(&s.emulator.object(&asset.key).expect("object").bytes, data);
        assert_eq!(asset.sign_count, 1);
    }
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 200);
    assert_eq!(s.emulator.requests_for(Endpoint::Finish).len(), 200);
}

/// The pacer shortens a slot's hold by a margin learned from call durations (see
/// `src/pacer/mod.rs`); against a server whose each way takes 5 ms plus up to 25 ms of
/// jitter, counting each call when its request arrives, no window may see more than the
/// limit.
#[test]
fn jittered_round_trips_get_no_429_with_the_latency_margin() {
    let s = setup_limited(Emulator::builder().rate_limit(Some(RATE)).one_way_delay(
        std::time::Duration::from_millis(5),
        std::time::Duration::from_millis(25),
    ));
    let client = builder_for(&s.emulator)
        .rate_limit(RateLimit::PerSecond(RATE))
        .build()
        .expect("client");
    let items = (0..150).map(|i| {
        (
            AssetParams::new().filename(format!("j{i}.txt")),
            Source::bytes(format!("jitter {i}").into_bytes()),
        )
    });
    let results = client.upload_all(s.space, items, 16);
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    let too_many = s
        .emulator
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(too_many, 0);
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 150);
}
