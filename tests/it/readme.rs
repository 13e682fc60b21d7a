//! README.md is the landing page: what it points at must exist, and the two commands it
//! gives must be the ones CI runs. (Its Rust blocks compile as doc-tests, see src/lib.rs.)

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The targets of the Markdown links `[text](target)` in `text`.
fn link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn every_file_the_readme_links_to_or_names_exists() {
    let readme = read("README.md");
    let mut local: Vec<&str> = link_targets(&readme)
        .into_iter()
        .filter(|target| !target.contains("://") && !target.starts_with('#'))
        .collect();
    // Paths it names in code spans (all of them in the crate's package too, where CI
    // runs these tests again).
    for path in [
        "examples/build_script/build.rs",
        "examples/sample.png",
        "src/s3/form.rs",
        "src/codec",
        "tests/cargo_build.rs",
        ".ci/run",
    ] {
        assert!(readme.contains(path), "README no longer names {path}");
        local.push(path);
    }
    assert!(local.contains(&"CHANGELOG.md") && local.contains(&"LICENSE"));
    for path in local {
        assert!(
            root().join(path).exists(),
            "README points at {path}, which is missing"
        );
    }
}

#[test]
fn the_readme_links_to_sections_the_crate_docs_have() {
    let readme = read("README.md");
    let docs = [
        read("src/lib.rs"),
        read("src/doc/sync.md"),
        read("src/doc/pacing.md"),
        read("src/doc/testing.md"),
    ]
    .concat();
    let prefix = "https://docs.rs/storyblok-assets/latest/storyblok_assets/#";
    let anchors: Vec<&str> = link_targets(&readme)
        .into_iter()
        .filter_map(|target| target.strip_prefix(prefix))
        .collect();
    assert!(anchors.len() >= 5, "{anchors:?}");
    for anchor in anchors {
        // rustdoc's id of a heading: lower case, spaces made dashes, other punctuation
        // (`:`, `,`, `(`) dropped.
        let found = docs.lines().any(|line| {
            let heading = line.trim_start_matches("//!").trim_start();
            let id: String = heading
                .trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect();
            heading.starts_with('#') && id == anchor
        });
        assert!(
            found,
            "README links to #{anchor}, a heading the crate docs lack"
        );
    }
}

#[test]
fn the_two_commands_are_the_ones_ci_runs() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    let block = readme
        .split("## The two commands")
        .nth(1)
        .and_then(|rest| rest.split("```sh\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("README's two commands in a sh block");
    let commands: Vec<&str> = block
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run --example upload -- examples/sample.png",
            "cargo test"
        ]
    );
    assert!(ci.contains("cargo run --quiet --example upload -- examples/sample.png"));
    assert!(ci.lines().any(|line| line.trim() == "cargo test"));
}
