//! Bulk uploads: order of results, isolation of failures, calls per asset, progress.

use crate::common;

use std::sync::Mutex;

use common::{pattern, setup};
use storyblok_assets::{AssetParams, ErrorKind, Source};
use storyblok_assets_emulator::Endpoint;

#[test]
fn results_come_back_in_input_order_and_failures_stay_alone() {
    let s = setup();
    let items: Vec<(AssetParams, Source<'static>)> = (0..20)
        .map(|i| {
            let request = AssetParams::new().filename(format!("file-{i}.bin"));
            let request = if i == 13 {
                request.folder(999_999)
            } else {
                request
            };
            let data = if i == 7 { Vec::new() } else { pattern(100 + i) };
            (request, Source::bytes(data))
        })
        .collect();
    let finished = Mutex::new(Vec::new());
    let results = s
        .client
        .upload_all_with(s.space, items, 4, |index, result| {
            finished.lock().expect("lock").push((index, result.is_ok()));
        });

    assert_eq!(results.len(), 20);
    for (i, result) in results.iter().enumerate() {
        match (i, result) {
            (7, Err(err)) => {
                assert_eq!(err.kind(), &ErrorKind::EmptySource);
                assert_eq!(err.asset_id(), None);
            }
            (13, Err(err)) => assert_eq!(err.status(), Some(422), "{err}"),
            (i, Ok(asset)) => {
                let stored = s.emulator.asset(asset.id).expect("record");
                assert_eq!(
                    stored.filename,
                    format!("file-{i}.bin"),
                    "result {i} is its own"
                );
                let object = s.emulator.object(&stored.key).expect("object");
                assert_eq!(object.bytes, pattern(100 + i));
            }
            (i, other) => panic!("item {i}: unexpected {other:?}"),
        }
    }
    assert_eq!(s.emulator.assets().len(), 18);
    let mut finished = finished.into_inner().expect("lock");
    finished.sort();
    assert_eq!(finished.len(), 20, "on_result once per item");
    assert!(finished.iter().all(|&(i, ok)| ok == (i != 7 && i != 13)));
}

#[test]
fn two_calls_per_asset_one_without_validation() {
    let s = setup();
    let validated: Vec<_> = (0..5)
        .map(|i| {
            (
                AssetParams::new().filename(format!("v{i}.txt")),
                Source::bytes(b"v".to_vec()),
            )
        })
        .collect();
    assert!(
        s.client
            .upload_all(s.space, validated, 3)
            .iter()
            .all(Result::is_ok)
    );
    let mapi = |emulator: &storyblok_assets_emulator::Emulator| {
        emulator
            .requests()
            .iter()
            .filter(|r| r.endpoint != Endpoint::Upload)
            .count()
    };
    assert_eq!(mapi(&s.emulator), 10);
    s.emulator.clear_requests();
    let unvalidated: Vec<_> = (0..5)
        .map(|i| {
            (
                AssetParams::new()
                    .filename(format!("u{i}.txt"))
                    .validate_upload(false),
                Source::bytes(b"u".to_vec()),
            )
        })
        .collect();
    assert!(
        s.client
            .upload_all(s.space, unvalidated, 3)
            .iter()
            .all(Result::is_ok)
    );
    assert_eq!(mapi(&s.emulator), 5);
    assert!(
        s.emulator
            .requests()
            .iter()
            .all(|r| r.endpoint != Endpoint::Other),
        "no extra GET of the asset"
    );
}

#[test]
fn nothing_to_do_and_zero_concurrency_are_fine() {
    let s = setup();
    let none: Vec<(AssetParams, Source<'static>)> = Vec::new();
    assert!(s.client.upload_all(s.space, none, 8).is_empty());
    let one = vec![(
        AssetParams::new().filename("a.txt"),
        Source::bytes(&b"a"[..]),
    )];
    let results = s.client.upload_all(s.space, one, 0);
    assert!(matches!(results.as_slice(), [Ok(_)]));
}

#[test]
fn progress_reaches_the_caller_and_the_end() {
    let s = setup();
    let data = pattern(5 * 1024 * 1024 + 3);
    let seen = Mutex::new(Vec::new());
    let source = Source::bytes(&data[..]).on_progress(|sent, total| {
        seen.lock().expect("lock").push((sent, total));
    });
    s.client
        .upload(s.space, AssetParams::new().filename("big.bin"), source)
        .expect("upload");
    let seen = seen.into_inner().expect("lock");
    let total = data.len() as u64;
    assert_eq!(seen.last(), Some(&(total, total)), "told at the end");
    assert!(seen.len() >= 5, "at least once per MiB: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "always forward: {seen:?}"
    );
}
