//! README.md's reference `build.rs` is the build_script example's, word for word: the
//! text users copy must be the text CI runs.

#[test]
fn the_readme_build_rs_is_the_examples() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let example = std::fs::read_to_string(format!("{root}/examples/build_script/build.rs"))
        .expect("examples/build_script/build.rs");
    let opening = "```rust,no_run\n//! build.rs:";
    let start = readme
        .find(opening)
        .expect("README shows the build.rs in a rust,no_run block")
        + "```rust,no_run\n".len();
    let end = start + readme[start..].find("\n```").expect("the block ends") + 1;
    let shown = &readme[start..end];
    if shown != example {
        let first = shown
            .lines()
            .zip(example.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(shown.lines().count().min(example.lines().count()));
        panic!(
            "README's build.rs differs from examples/build_script/build.rs from line {}:\n  README:  {:?}\n  example: {:?}",
            first + 1,
            shown.lines().nth(first),
            example.lines().nth(first)
        );
    }
}
