//! Pacing: many threads through one client against a server that enforces Storyblok's
//! fixed-window rate limit exactly. Kept in a test binary of its own so that no other test
//! competes with it for the CPU and skews when requests arrive.

mod common;

use common::{client_for, pattern, setup_limited};
use storyblok_assets::{AssetParams, Source};
use storyblok_assets_emulator::{Emulator, Endpoint};

#[test]
fn eight_threads_at_the_rate_limit_get_no_429() {
    // The emulator enforces Storyblok's fixed one-second window at 6/s, as a paid space.
    let s = setup_limited(Emulator::builder());
    let started = std::time::Instant::now();
    let client = client_for(&s.emulator);
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let client = client.clone();
            let space = s.space;
            std::thread::spawn(move || {
                (0..50)
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

    // 800 calls at 6/s take 133 s at best; a pacer much slower than the limit fails too.
    let took = started.elapsed();
    assert!(took.as_secs_f64() < 1.3 * 800.0 / 6.0, "took {took:?}");
    let requests = s.emulator.requests();
    let too_many = requests.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        too_many, 0,
        "no 429 from a server that enforces exactly the limit"
    );
    assert_eq!(uploaded.len(), 400);
    assert_eq!(s.emulator.assets().len(), 400, "one record per asset");
    for (id, data) in &uploaded {
        let asset = s.emulator.asset(*id).expect("record");
        assert_eq!(&s.emulator.object(&asset.key).expect("object").bytes, data);
        assert_eq!(asset.sign_count, 1);
    }
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 400);
    assert_eq!(s.emulator.requests_for(Endpoint::Finish).len(), 400);
}
