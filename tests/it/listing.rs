//! Listing a space's assets for adoption (issue 11, item 2): `search` by the stored name,
//! `in_folder`, `page` by `page` at `per_page=100`, until the `Total` header is reached.

use crate::common;

use common::{Tree, png, setup_with, tree};
use storyblok_assets::{Manifest, SyncAction, SyncOptions};
use storyblok_assets_emulator::{Emulator, Endpoint};

/// A folder holding `logo.png` with `bytes`, and where its manifest goes (not written yet).
/// The query of each asset list request, as sorted `name=value` pairs.
fn list_queries(emulator: &Emulator) -> Vec<Vec<String>> {
    emulator
        .requests_for(Endpoint::ListAssets)
        .iter()
        .map(|r| {
            let (_, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
            let mut pairs: Vec<String> = query.split('&').map(str::to_owned).collect();
            pairs.sort();
            pairs
        })
        .collect()
}

/// Seeds `decoys` assets in `folder` that the search for `logo.png` finds but adoption
/// must pass over: half with another stored name, half with another size. They are
/// newer than anything seeded before, so the list (newest first) shows them first.
fn seed_decoys(emulator: &Emulator, folder: u64, decoys: usize) {
    for i in 0..decoys {
        if i % 2 == 0 {
            emulator.seed_asset(&format!("old-{i}-logo.png"), png(40, 20), Some(folder));
        } else {
            let mut longer = png(40, 20);
            longer.extend(std::iter::repeat_n(0, i));
            emulator.seed_asset("logo.png", longer, Some(folder));
        }
    }
}

#[test]
fn the_asset_to_adopt_is_found_on_the_second_page() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let logo = png(40, 20);
    let Tree { root, manifest } = tree("listing-page-2", &[("logo.png", &logo)]);
    let brand = s.emulator.create_folder("brand", None);
    // The one to adopt is the oldest of 101 matches: last, on page 2 of 100.
    let ours = s.emulator.seed_asset("logo.png", logo.clone(), Some(brand));
    seed_decoys(&s.emulator, brand, 100);
    let before = s.emulator.assets().len();
    s.emulator.clear_requests();

    let options = SyncOptions::dir(&root, &manifest).folder(brand);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(
        report.count(|a| matches!(a, SyncAction::Adopted)),
        1,
        "{report:?}"
    );
    assert_eq!(
        Manifest::load(&manifest).expect("manifest").assets["logo.png"].id,
        ours.id
    );
    assert_eq!(s.emulator.assets().len(), before, "no new record");
    assert!(s.emulator.requests_for(Endpoint::Sign).is_empty());
    assert!(s.emulator.requests_for(Endpoint::Upload).is_empty());
    // Only the one with the same stored name and size was downloaded to compare.
    assert_eq!(s.emulator.requests_for(Endpoint::Download).len(), 1);

    let page = |n: u32| {
        let mut pairs = vec![
            format!("in_folder={brand}"),
            format!("page={n}"),
            "per_page=100".to_owned(),
            "search=logo.png".to_owned(),
        ];
        pairs.sort();
        pairs
    };
    assert_eq!(list_queries(&s.emulator), [page(1), page(2)]);
}

#[test]
fn the_total_header_ends_the_listing_on_a_full_page() {
    // Exactly 100 matches: one full page, after which a client that ignored `Total` would
    // ask for a second page; the header says there is none.
    let s = setup_with(Emulator::builder().local_cdn(true));
    let logo = png(40, 20);
    let Tree { root, manifest } = tree("listing-total", &[("logo.png", &logo)]);
    let brand = s.emulator.create_folder("brand", None);
    let ours = s.emulator.seed_asset("logo.png", logo.clone(), Some(brand));
    seed_decoys(&s.emulator, brand, 99);
    s.emulator.clear_requests();

    let options = SyncOptions::dir(&root, &manifest).folder(brand);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(
        report.count(|a| matches!(a, SyncAction::Adopted)),
        1,
        "{report:?}"
    );
    assert_eq!(
        Manifest::load(&manifest).expect("manifest").assets["logo.png"].id,
        ours.id
    );
    let queries = list_queries(&s.emulator);
    assert_eq!(queries.len(), 1, "{queries:?}");
    assert!(queries[0].contains(&"page=1".to_owned()), "{queries:?}");
}
