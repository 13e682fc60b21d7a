//! What adoption's listing holds in memory stays bounded (issue 15, item 12): a hostile
//! listing of many pages of tiny items, which once grew to 2 GB in 9 pages, costs about
//! one answer. A file of its own: it counts every allocation of the process, so no other
//! test may run beside it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Tree, action, png, setup_with, tree};
use storyblok_assets::SyncOptions;
use storyblok_assets_emulator::{Emulator, Endpoint, Fault};

/// The system allocator, counting the bytes live now and the most live since a reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::SeqCst) + size;
    PEAK.fetch_max(live, Ordering::SeqCst);
}

// SAFETY: every call goes to `System` with the caller's arguments unchanged; the counters
// only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller promised for `layout`.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` (so from `System`) with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as the caller promised for `ptr`, `layout` and `new_size`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
            grew(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1024 * 1024;

#[test]
fn a_listing_of_many_pages_of_tiny_items_costs_about_one_answer() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let logo = png(9, 9);
    let Tree { root, manifest } = tree("listing_memory", &[("logo.png", &logo)]);
    // Pages of 50,000 items of 9 bytes each (under 0.5 MB), none of them an asset the file
    // could adopt, and a `Total` that promises many more. Kept whole, the eight pages
    // would hold 400,000 parsed assets: over 100 MB.
    const PAGES: usize = 8;
    let page = format!(
        r#"{{"assets":[{}]}}"#,
        vec![r#"{"id":1}"#; 50_000].join(",")
    );
    for nth in 1..=PAGES {
        s.emulator.inject(
            Fault::respond(Endpoint::ListAssets, nth, 200, page.clone())
                .with_header("Total", "1000000000"),
        );
    }
    drop(page);
    let options = SyncOptions::dir(&root, &manifest).concurrency(1);

    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let report = s.client.sync(s.space, &options).expect("sync");
    let peak = PEAK.load(Ordering::SeqCst) - before;

    // Every page was read (the emulator's own, empty, ended the list), and nothing in it
    // was taken for the file.
    assert_eq!(
        s.emulator.requests_for(Endpoint::ListAssets).len(),
        PAGES + 1
    );
    assert_eq!(action(&report, "logo.png"), "Uploaded");
    assert!(
        peak < 16 * MIB,
        "the sync held {:.1} MiB at most",
        peak as f64 / MIB as f64
    );
}
