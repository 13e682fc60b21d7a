//! The integration tests, in one binary: one link instead of seventeen, and one process
//! whose threads run every test in parallel.
//!
//! Tests that need a process of their own stay apart in `tests/`: `kill` (SIGKILLs child
//! syncs), `listing_memory` (counts every allocation of its process), `logs` (installs the
//! process's logger), `region` (sets proxy variables in its environment) and
//! `cargo_build` (slow real `cargo build` runs, ignored by default and run by `.ci/run`).
//!
//! Run one file's tests with its module name as the filter: `cargo test --test it sync_disk::`.

#[path = "../common/mod.rs"]
mod common;

mod adoption;
mod bulk;
mod codegen;
mod conformance;
mod errors;
mod hostile;
mod listing;
mod pacing;
mod pull;
mod readme;
mod reliability;
mod space_calls;
mod sync;
mod sync_disk;
mod sync_durability;
mod sync_space;
mod tls;
mod transfer;
mod upload;
