//! The achieved Management API rate of a bulk upload against a server that enforces
//! Storyblok's fixed one-second window exactly (the emulator), and how many 429s it drew.
//!
//! ```text
//! cargo bench --bench bulk_rate
//! THREADS=8 PER_THREAD=50 RATE=6 cargo bench --bench bulk_rate
//! ```
//!
//! Latest run, 2026-11-28, 2 vCPU AMD EPYC, 24 GiB (on loopback a call's round trip is
//! about a millisecond, so each slot cycles in about a second and the pace is the limit):
//!
//! | files | threads | seconds | MAPI calls | achieved rate | of the limit | 429s |
//! |---|---|---|---|---|---|---|
//! | 400 | 8 | 133.2 | 800 | 6.01/s | 100.1% | 0 |

use std::time::Instant;

use storyblok_assets::{AssetParams, Client, RateLimit, Source, Token};
use storyblok_assets_emulator::{Emulator, Endpoint};

fn setting(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let threads = setting("THREADS", 8);
    let per_thread = setting("PER_THREAD", 50);
    let rate = setting("RATE", 6);
    let emulator = Emulator::builder().rate_limit(Some(rate)).start()?;
    let client = Client::builder(Token::personal(emulator.token()))
        .base_url(emulator.api_url())
        .rate_limit(RateLimit::PerSecond(rate))
        .build()?;
    let space = emulator.space_id();

    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || -> Result<(), storyblok_assets::Error> {
                for i in 0..per_thread {
                    let data = format!("file {t}-{i}").into_bytes();
                    let request = AssetParams::new().filename(format!("bench-{t}-{i}.txt"));
                    client.upload(space, request, Source::bytes(data))?;
                }
                Ok(())
            })
        })
        .collect();
    let mut failures = 0;
    for worker in workers {
        match worker.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failures += 1;
                eprintln!("upload failed: {e}");
            }
            Err(_) => failures += 1,
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let requests = emulator.requests();
    let mapi: Vec<_> = requests
        .iter()
        .filter(|r| r.endpoint != Endpoint::Upload)
        .collect();
    let too_many = mapi.iter().filter(|r| r.status == 429).count();
    let achieved = mapi.len() as f64 / seconds;
    println!("bulk upload against a {rate}/s fixed-window emulator");
    println!("  files            {}", threads * per_thread);
    println!("  threads          {threads}");
    println!("  seconds          {seconds:.1}");
    println!("  MAPI calls       {}", mapi.len());
    println!(
        "  MAPI rate        {achieved:.2}/s of {rate}/s ({:.1}% of the limit)",
        100.0 * achieved / f64::from(rate)
    );
    println!("  429 answers      {too_many}");
    println!("  failed uploads   {failures}");
    if failures > 0 {
        return Err("some uploads failed".into());
    }
    Ok(())
}
