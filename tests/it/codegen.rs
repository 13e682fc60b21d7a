//! `Manifest::rust_consts` and `Manifest::save` from the outside: the generated Rust is
//! compiled with rustc, hostile file names included, and saving never writes through a
//! planted symlink (at the manifest's path; the random temporary names are
//! guarded by a unit test in src/manifest.rs).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use storyblok_assets::{ErrorKind, Manifest};

/// A fresh, empty folder for one test of this file.
fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir(&format!("codegen-{name}"))
}

/// A manifest holding a complete entry for each `(path, url)`.
fn manifest(entries: &[(&str, &str)]) -> Manifest {
    let assets: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .enumerate()
        .map(|(i, (path, url))| {
            let entry = json!({
                "id": i + 1,
                "url": url,
                "size": 3,
                "sha256": "ab",
            });
            ((*path).to_owned(), entry)
        })
        .collect();
    serde_json::from_value(json!({ "version": 1, "assets": assets })).expect("a valid manifest")
}

/// Runs rustc (`$RUSTC` if set) with `args`, failing the test with its output if it fails.
fn rustc(args: &[&std::ffi::OsStr]) {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", Path::new(&rustc).display()));
    assert!(
        output.status.success(),
        "rustc {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn generated_constants_compile_with_hostile_names() {
    // Each path, its expected constant, and a URL that is hostile too.
    let cases: &[(&str, &str, &str)] = &[
        ("img/logo.png", "IMG_LOGO_PNG", "https://a/logo.png"),
        ("quote\"d.png", "QUOTE_D_PNG", "https://a/\"q\""),
        ("back\\slash.png", "BACK_SLASH_PNG", "https://a/back\\slash"),
        ("brace}.png", "BRACE__PNG", "https://a/}"),
        (
            "new\npub const INJECTED: &str = \"\";\n//.png",
            "NEW_PUB_CONST_INJECTED___STR__________PNG",
            "https://a/newline\n",
        ),
        (
            "carriage\rreturn.png",
            "CARRIAGE_RETURN_PNG",
            "https://a/\r",
        ),
        (
            "tab\tbell\u{7}nul\0.png",
            "TAB_BELL_NUL__PNG",
            "https://a/\u{7f}",
        ),
        ("3d.glb", "_3D_GLB", "https://a/3d.glb"),
        ("-dash-.png", "_DASH__PNG", "https://a/dash"),
        ("café/ünï.png", "CAF___N__PNG", "https://a/caf\u{e9}"),
        ("rtl\u{202e}gnp.exe", "RTL_GNP_EXE", "https://a/\u{202e}"),
        ("comment*/end.png", "COMMENT__END_PNG", "https://a/*/"),
        ("open/*comment.png", "OPEN__COMMENT_PNG", "https://a//*"),
        ("line//comment.png", "LINE__COMMENT_PNG", "https://a//"),
        ("tick`s.png", "TICK_S_PNG", "https://a/`"),
    ];
    let entries: Vec<(&str, &str)> = cases.iter().map(|(p, _, u)| (*p, *u)).collect();
    let code = manifest(&entries)
        .rust_consts()
        .expect("no two names clash");

    // No path reaches the output raw: every line is one of the generated shapes.
    for line in code.lines() {
        assert!(
            line.starts_with("// Generated")
                || line.starts_with("#[doc = \"")
                || line == "#[allow(dead_code)]"
                || line.starts_with("pub const "),
            "unexpected line {line:?} in\n{code}"
        );
    }

    let dir = temp_dir("compile");
    let generated = dir.join("assets.rs");
    std::fs::write(&generated, &code).expect("write the generated file");

    // 1. The file on its own is a valid crate, warnings denied.
    rustc(&[
        "--edition".as_ref(),
        "2021".as_ref(),
        "--crate-type".as_ref(),
        "lib".as_ref(),
        "--emit=metadata".as_ref(),
        "-D".as_ref(),
        "warnings".as_ref(),
        "-o".as_ref(),
        dir.join("libassets.rmeta").as_os_str(),
        generated.as_os_str(),
    ]);

    // 2. Included in a module of a program that uses some constants only, warnings (and so
    // dead_code) denied; the program checks each constant's value.
    let mut checks = String::new();
    for (_, name, url) in cases {
        checks.push_str(&format!("    check(assets::{name}, {url:?});\n"));
    }
    let main = format!(
        "mod assets {{\n    include!({generated:?});\n}}\n\n\
         fn check(got: &str, want: &str) {{\n    \
         if got != want {{\n        eprintln!(\"{{got:?}} != {{want:?}}\");\n        \
         std::process::exit(1);\n    }}\n}}\n\n\
         fn main() {{\n{checks}    println!(\"ok\");\n}}\n"
    );
    let main_rs = dir.join("main.rs");
    std::fs::write(&main_rs, main).expect("write main.rs");
    let program = dir.join(format!("check{}", std::env::consts::EXE_SUFFIX));
    rustc(&[
        "--edition".as_ref(),
        "2021".as_ref(),
        "--crate-type".as_ref(),
        "bin".as_ref(),
        "-D".as_ref(),
        "warnings".as_ref(),
        "-o".as_ref(),
        program.as_os_str(),
        main_rs.as_os_str(),
    ]);
    let run = Command::new(&program)
        .output()
        .expect("run the check program");
    assert!(
        run.status.success() && run.stdout == b"ok\n",
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn an_unused_constant_is_not_dead_code() {
    let code = manifest(&[("a.png", "https://a/a"), ("b.png", "https://a/b")])
        .rust_consts()
        .expect("no two names clash");
    let dir = temp_dir("dead-code");
    let generated = dir.join("assets.rs");
    std::fs::write(&generated, &code).expect("write the generated file");
    let main_rs = dir.join("main.rs");
    std::fs::write(
        &main_rs,
        format!(
            "mod assets {{\n    include!({generated:?});\n}}\n\n\
             fn main() {{\n    println!(\"{{}}\", assets::A_PNG);\n}}\n"
        ),
    )
    .expect("write main.rs");
    rustc(&[
        "--edition".as_ref(),
        "2021".as_ref(),
        "--crate-type".as_ref(),
        "bin".as_ref(),
        "--emit=metadata".as_ref(),
        "-D".as_ref(),
        "dead_code".as_ref(),
        "-o".as_ref(),
        dir.join("main.rmeta").as_os_str(),
        main_rs.as_os_str(),
    ]);
}

#[test]
fn a_name_depends_on_its_path_alone() {
    let before = manifest(&[("img/logo.png", "https://a/logo")])
        .rust_consts()
        .expect("one file");
    assert!(
        before.contains("pub const IMG_LOGO_PNG: &str = \"https://a/logo\";"),
        "{before}"
    );
    // Adding a file whose name maps to the same constant never re-points it: it is an
    // error naming both paths and the constant.
    let err = manifest(&[
        ("img/logo.png", "https://a/logo"),
        ("img-logo.png", "https://a/other"),
    ])
    .rust_consts()
    .expect_err("a clash");
    let ErrorKind::InvalidInput { message } = err.kind() else {
        panic!("{err:?}");
    };
    for part in ["img/logo.png", "img-logo.png", "IMG_LOGO_PNG", "rename"] {
        assert!(message.contains(part), "{message}");
    }
}

/// The names in a folder, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read the folder")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

// The temporary file's name is random and created new (`create_new`), so a symlink
// planted at it is skipped, never followed: the unit test
// `manifest::tests::a_taken_temporary_name_is_skipped_never_followed` guards that, since
// the name cannot be guessed from out here. What can be planted from out here is a
// symlink at the manifest's own path, and what can be seen is every file the save leaves.
#[cfg(unix)]
#[test]
fn save_never_writes_through_a_planted_symlink() {
    let dir = temp_dir("symlink");
    let path = dir.join("assets.json");
    let outside = temp_dir("symlink-outside");
    let target = outside.join("target.txt");
    std::fs::write(&target, "untouched").expect("write the target");
    // The manifest's own name points outside its folder: the save replaces the link, and
    // writes nothing through it.
    std::os::unix::fs::symlink(&target, &path).expect("plant a symlink");
    let manifest = manifest(&[("a.png", "https://a/a")]);
    manifest.save(&path).expect("save");
    assert_eq!(
        std::fs::read_to_string(&target).expect("read the target"),
        "untouched"
    );
    assert!(
        !std::fs::symlink_metadata(&path)
            .expect("the manifest")
            .file_type()
            .is_symlink()
    );
    assert_eq!(Manifest::load(&path).expect("load"), manifest);
    // Nothing else is written: no temporary file is left beside the manifest, and the
    // folder the link pointed to holds only what it held.
    assert_eq!(names_in(&dir), ["assets.json"]);
    assert_eq!(names_in(&outside), ["target.txt"]);
    // Saving again over the manifest it wrote: the same.
    let changed = self::manifest(&[("a.png", "https://a/a"), ("b.png", "https://a/b")]);
    changed.save(&path).expect("save again");
    assert_eq!(Manifest::load(&path).expect("load"), changed);
    assert_eq!(names_in(&dir), ["assets.json"]);
    assert_eq!(
        std::fs::read_to_string(&target).expect("read the target"),
        "untouched"
    );
}
