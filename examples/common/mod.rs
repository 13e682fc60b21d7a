//! What the examples share: the command line's plumbing (options, help, usage errors,
//! error chains, messages on one line); for `upload` and `upload_dir`, reading the target
//! space from the environment (or starting the built-in emulator), and a progress line on
//! stderr.
//!
//! No example installs a logger, so the `log` records of ureq, which at TRACE hold each
//! request's head, `Authorization` included, go nowhere (README: Secrets).
//!
//! (`build_script`'s build.rs part, `examples/build_script/build.rs`, uses none of it: it
//! must stand alone.)

#![allow(dead_code)] // each example uses its own part

use std::env;
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use storyblok_assets::{Client, ClientBuilder, ErrorKind, Region, SharedPacing, Token};
use storyblok_assets_emulator::Emulator;

/// The environment variables every example reads, for its `--help`.
pub const ENVIRONMENT: &str = "\
Environment:
  STORYBLOK_TOKEN        a personal access token for the Management API
  STORYBLOK_OAUTH_TOKEN  an OAuth token, used when STORYBLOK_TOKEN is not set
  STORYBLOK_SPACE_ID     the space's id (a number), unless --space gives it
  STORYBLOK_API_URL      the Management API base URL, such as http://127.0.0.1:8080/v1
                         (default: the region's, from --region or the space id)
  SSL_CERT_FILE          a PEM file of root certificates to trust instead of the
                         built-in ones, for the API and S3: a TLS-inspecting proxy's
                         root, or a test CA
  STORYBLOK_PACER_DIR    where processes on this machine share their pacing of the
                         space's rate limit: unset = this user's cache folder,
                         `off` = not shared, anything else = that folder

With neither STORYBLOK_TOKEN nor STORYBLOK_OAUTH_TOKEN set, it uses a fresh built-in
emulator on 127.0.0.1 (no credentials needed, nothing leaves the machine). To share one
emulator between runs, start `cargo run -p storyblok-assets-emulator --example serve`
and set STORYBLOK_TOKEN, STORYBLOK_API_URL and STORYBLOK_SPACE_ID to the token,
api_url and space_id of the JSON line it prints.
";

/// What a command line asks for.
pub enum Command<T> {
    /// `-h` or `--help`: print the usage on stdout and exit 0.
    Help,
    /// Do the work.
    Run(T),
}

/// The command line's arguments after the program name, and whether they ask for help
/// (`-h` or `--help` before any `--`, wherever it is).
pub fn arguments() -> (Vec<OsString>, bool) {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    let help = args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "-h" || a == "--help");
    (args, help)
}

/// The arguments after an option, to take its value from.
pub type Rest = std::vec::IntoIter<OsString>;

/// Reads the command line: help when `-h` or `--help` comes before any `--`; otherwise
/// each option is handed to `option` with the arguments after it, and says whether it
/// knew it (an unknown one is a usage error). Anything else, and everything after `--`,
/// is the one positional argument; a second is the usage error `one_at_a_time`.
pub fn parse(
    one_at_a_time: &str,
    option: impl FnMut(&str, &mut Rest) -> Result<bool, Failure>,
) -> Result<Command<Option<PathBuf>>, Failure> {
    let (args, help) = arguments();
    if help {
        return Ok(Command::Help);
    }
    parse_from(args, one_at_a_time, option).map(Command::Run)
}

/// [`parse`] of these arguments, help left out.
fn parse_from(
    args: Vec<OsString>,
    one_at_a_time: &str,
    mut option: impl FnMut(&str, &mut Rest) -> Result<bool, Failure>,
) -> Result<Option<PathBuf>, Failure> {
    let mut positional = None;
    let mut take = |arg: OsString| match positional.replace(PathBuf::from(arg)) {
        None => Ok(()),
        Some(_) => Err(Failure::Usage(one_at_a_time.into())),
    };
    let mut rest = args.into_iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            for arg in rest.by_ref() {
                take(arg)?;
            }
            break;
        }
        match arg.to_str() {
            Some(flag) if flag.starts_with('-') && flag.len() > 1 => {
                if !option(flag, &mut rest)? {
                    return Err(Failure::Usage(format!("unknown option {flag}")));
                }
            }
            _ => take(arg)?,
        }
    }
    Ok(positional)
}

/// An example's `main`: `--help` prints `usage` on stdout, otherwise `run` does the work;
/// then [`exit`] with the outcome.
pub fn main<T>(
    usage: &str,
    parse_args: impl FnOnce() -> Result<Command<T>, Failure>,
    run: impl FnOnce(T) -> Result<ExitCode, String>,
) -> ExitCode {
    let outcome = parse_args().and_then(|command| match command {
        Command::Help => {
            print!("{usage}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => Ok(run(args)?),
    });
    exit(usage, outcome)
}

/// Ends the process for a command line's outcome: the usage on stdout for help (exit 0);
/// a usage error and the usage on stderr (exit 2); a failure on stderr (exit 1).
pub fn exit(usage: &str, outcome: Result<ExitCode, Failure>) -> ExitCode {
    match outcome {
        Ok(code) => code,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {}\n\n{usage}", one_line(&message));
            ExitCode::from(2)
        }
        Err(Failure::Run(message)) => {
            eprintln!("error: {}", one_line(&message));
            ExitCode::FAILURE
        }
    }
}

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// The command line is wrong: the usage follows the message.
    Usage(String),
    /// The work failed.
    Run(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Run(message)
    }
}

/// An argument as text, for an option or an option's value.
pub fn text(arg: &OsString) -> Result<&str, Failure> {
    arg.to_str()
        .ok_or_else(|| Failure::Usage(format!("{} is not valid UTF-8", arg.to_string_lossy())))
}

/// The value after `flag`, as text.
pub fn value(flag: &str, next: Option<OsString>) -> Result<String, Failure> {
    let value = next.ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))?;
    Ok(text(&value)?.to_owned())
}

/// The value after `flag`, which must be a number.
pub fn number(flag: &str, next: Option<OsString>) -> Result<u64, Failure> {
    let value = value(flag, next)?;
    value
        .trim()
        .parse()
        .map_err(|_| Failure::Usage(format!("{flag} takes a number, not {value:?}")))
}

/// The file after `--data`.
pub fn data(next: Option<OsString>) -> Result<PathBuf, Failure> {
    next.map(PathBuf::from)
        .ok_or_else(|| Failure::Usage("--data needs a FILE.json".into()))
}

/// The value after `--region`.
pub fn region(next: Option<OsString>) -> Result<Region, Failure> {
    let code = value("--region", next)?;
    code.parse()
        .map_err(|e| Failure::Usage(format!("--region: {e}")))
}

/// An error and every cause below it (walking [`std::error::Error::source`]), each said
/// once: `cannot read x.png: No such file or directory (os error 2)`. A cause whose text
/// the line already holds (an error that prints its own cause) is not repeated.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let text = error.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = error.source();
    }
    line
}

/// `text` on one line: each control character (a server's line break, a file name's
/// terminal escape) and line or paragraph separator as its escape, `\n`, `\r`, `\t`,
/// `\u{1b}`, so that a message is one line of stderr and draws nothing on a terminal.
/// (build.rs has the same function: it stands alone.)
pub fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
}

/// A message on stderr, on one line ([`one_line`]).
pub fn say(text: &str) {
    eprintln!("{}", one_line(text));
}

/// An SDK error for the command line: [`chain`], and for a certificate the client does not
/// trust, the variable that trusts another root.
pub fn sdk_error(error: &storyblok_assets::Error) -> String {
    let mut text = chain(error);
    if matches!(error.kind(), ErrorKind::Tls { .. }) && env::var_os("SSL_CERT_FILE").is_none() {
        text.push_str(" (SSL_CERT_FILE=FILE.pem trusts the roots in that file instead)");
    }
    text
}

/// Where uploads go: a client, its space, and the emulator when there is no token.
pub struct Target {
    pub client: Client,
    pub space: u64,
    /// Kept alive while the example runs: dropping it stops the server.
    _emulator: Option<Emulator>,
}

/// An environment variable that is set to something other than blanks.
pub fn env_var(name: &str) -> Result<Option<String>, String> {
    match env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(env::VarError::NotPresent) => Ok(None),
        Err(env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

/// A path from the environment, if set.
fn env_path(name: &str) -> Option<PathBuf> {
    env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The space id from `STORYBLOK_SPACE_ID` (its value, if set).
pub fn space_from_env(value: Option<String>) -> Result<u64, String> {
    let value = value.ok_or("set --space ID or STORYBLOK_SPACE_ID to the space's id")?;
    value
        .parse()
        .map_err(|_| format!("STORYBLOK_SPACE_ID must be a number, not {value:?}"))
}

/// Trusts the roots of `SSL_CERT_FILE`, when it is set; the file's path, to name it in a
/// later error.
fn root_certificates(builder: ClientBuilder) -> Result<(ClientBuilder, Option<PathBuf>), String> {
    let Some(path) = env_path("SSL_CERT_FILE") else {
        return Ok((builder, None));
    };
    let pem = std::fs::read(&path)
        .map_err(|e| format!("cannot read SSL_CERT_FILE {}: {e}", path.display()))?;
    Ok((builder.root_certificates_pem(pem), Some(path)))
}

/// The client for `STORYBLOK_TOKEN` or `STORYBLOK_OAUTH_TOKEN`, the space from `space` or
/// `STORYBLOK_SPACE_ID`, the base URL from `STORYBLOK_API_URL` or the region, the roots
/// of `SSL_CERT_FILE`, the pacing of `STORYBLOK_PACER_DIR`. With no token, a fresh
/// emulator (knowing `folder`, if one is given).
pub fn connect(
    space: Option<u64>,
    region: Option<Region>,
    folder: Option<u64>,
) -> Result<Target, String> {
    connect_with(space, region, folder, false)
}

/// [`connect`] for an example that reads a space (pull, transfer): the built-in emulator, if
/// used, serves its files itself and holds a few sample assets to read.
pub fn connect_to_read(
    space: Option<u64>,
    region: Option<Region>,
    folder: Option<u64>,
) -> Result<Target, String> {
    connect_with(space, region, folder, true)
}

fn connect_with(
    space: Option<u64>,
    region: Option<Region>,
    folder: Option<u64>,
    samples: bool,
) -> Result<Target, String> {
    let token = match (
        env_var("STORYBLOK_TOKEN")?,
        env_var("STORYBLOK_OAUTH_TOKEN")?,
    ) {
        (Some(token), _) => Some(Token::personal(token)),
        (None, Some(token)) => Some(Token::oauth(token)),
        (None, None) => None,
    };
    let pacing = SharedPacing::from_env();
    let Some(token) = token else {
        return emulator(space, folder, pacing, samples);
    };
    let space = match space {
        Some(space) => space,
        None => space_from_env(env_var("STORYBLOK_SPACE_ID")?)?,
    };
    let mut builder = Client::builder(token).shared_pacing(pacing);
    if let Some(url) = env_var("STORYBLOK_API_URL")? {
        builder = builder.base_url(url);
    } else {
        let region = region
            .or_else(|| Region::from_space_id(space))
            .unwrap_or_default();
        builder = builder.region(region);
    }
    let (builder, certificates) = root_certificates(builder)?;
    let client = builder.build().map_err(|e| match &certificates {
        Some(path) => format!(
            "cannot set up the client (with the root certificates of SSL_CERT_FILE {}): {}",
            path.display(),
            chain(&e)
        ),
        None => format!("cannot set up the client: {}", chain(&e)),
    })?;
    Ok(Target {
        client,
        space,
        _emulator: None,
    })
}

/// A fresh built-in emulator and a client for it; with `samples`, it serves its files
/// itself and holds a few sample assets.
fn emulator(
    space: Option<u64>,
    folder: Option<u64>,
    pacing: SharedPacing,
    samples: bool,
) -> Result<Target, String> {
    if env_var("STORYBLOK_API_URL")?.is_some() {
        eprintln!("STORYBLOK_API_URL is ignored without STORYBLOK_TOKEN or STORYBLOK_OAUTH_TOKEN");
    }
    let emulator = Emulator::builder()
        .space_id(space.unwrap_or(606))
        .local_cdn(samples)
        .start()
        .map_err(|e| format!("cannot start the emulator: {}", chain(&e)))?;
    eprintln!(
        "No STORYBLOK_TOKEN or STORYBLOK_OAUTH_TOKEN set: using the built-in emulator at {}",
        emulator.api_url()
    );
    if let Some(folder) = folder {
        emulator.add_folder(folder);
    }
    if samples {
        let img = emulator.create_folder("img", folder);
        emulator.seed_asset("sample.png", SAMPLE_PNG.to_vec(), Some(img));
        emulator.seed_asset("notes.txt", b"Seeded by the example.\n".to_vec(), folder);
        eprintln!("It holds two sample assets: img/sample.png and notes.txt");
    }
    let client = Client::builder(Token::personal(emulator.token()))
        .base_url(emulator.api_url())
        .shared_pacing(pacing)
        .build()
        .map_err(|e| format!("cannot set up the client: {}", chain(&e)))?;
    Ok(Target {
        client,
        space: space.unwrap_or(emulator.space_id()),
        _emulator: Some(emulator),
    })
}

/// The sample image the examples upload, and seed a built-in emulator with.
const SAMPLE_PNG: &[u8] = include_bytes!("../sample.png");

/// Rewrites one status line on stderr, only when stderr is a terminal.
pub fn status_line(text: &str) {
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = write!(stderr, "\r\x1b[2K{}", one_line(text));
        let _ = stderr.flush();
    }
}

/// Counts finished items on the status line: `[n/total] ok: what`.
pub struct Counter {
    done: std::sync::atomic::AtomicUsize,
    total: Option<usize>,
}

impl Counter {
    /// A counter of `total` items, if known.
    pub fn new(total: Option<usize>) -> Counter {
        Counter {
            done: std::sync::atomic::AtomicUsize::new(0),
            total,
        }
    }

    /// One more item done: `what`, which went well or not.
    pub fn tick(&self, ok: bool, what: impl std::fmt::Display) {
        let n = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let mark = if ok { "ok" } else { "failed" };
        match self.total {
            Some(total) => status_line(&format!("[{n}/{total}] {mark}: {what}")),
            None => status_line(&format!("[{n}] {mark}: {what}")),
        }
    }
}

/// Success when everything went well, else failure.
pub fn exit_code(all_ok: bool) -> std::process::ExitCode {
    if all_ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// Ends the status line, if one was drawn.
pub fn end_status_line() {
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = writeln!(stderr);
    }
}

/// `12.5 MiB`
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn a_chain_says_each_cause_once() {
        let io = Layer("No such file or directory (os error 2)", None);
        let error = Layer("cannot read x.png", Some(Box::new(io)));
        assert_eq!(
            chain(&error),
            "cannot read x.png: No such file or directory (os error 2)"
        );
        // A layer that already prints its cause does not get it twice.
        let inner = Layer("connection refused", None);
        let middle = Layer("io: connection refused", Some(Box::new(inner)));
        let outer = Layer("the request did not complete", Some(Box::new(middle)));
        assert_eq!(
            chain(&outer),
            "the request did not complete: io: connection refused"
        );
    }

    fn parsed(args: &[&str]) -> (Result<Option<PathBuf>, Failure>, Vec<String>) {
        let mut seen = Vec::new();
        let args = args.iter().map(OsString::from).collect();
        let result = parse_from(args, "one at a time", |flag, rest| {
            match flag {
                "--on" => seen.push(flag.to_owned()),
                "--space" => seen.push(number(flag, rest.next())?.to_string()),
                _ => return Ok(false),
            }
            Ok(true)
        });
        (result, seen)
    }

    #[test]
    fn the_command_line_gives_options_and_one_positional() {
        let (result, seen) = parsed(&["--on", "dir", "--space", "7"]);
        assert_eq!(result.expect("parsed"), Some(PathBuf::from("dir")));
        assert_eq!(seen, ["--on", "7"]);
        // After `--`, a dash is a name; `-` alone is one anyway.
        let (result, seen) = parsed(&["--", "--on"]);
        assert_eq!(result.expect("parsed"), Some(PathBuf::from("--on")));
        assert!(seen.is_empty());
        assert_eq!(parsed(&["-"]).0.expect("parsed"), Some(PathBuf::from("-")));
        assert_eq!(parsed(&[]).0.expect("parsed"), None);
        for (args, message) in [
            (&["--off"][..], "unknown option --off"),
            (&["a", "b"][..], "one at a time"),
            (&["a", "--", "b"][..], "one at a time"),
            (&["--space"][..], "--space needs a value"),
            (&["--space", "x"][..], "--space takes a number, not \"x\""),
        ] {
            match parsed(args).0 {
                Err(Failure::Usage(got)) => assert_eq!(got, message, "{args:?}"),
                other => panic!("{args:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_message_is_one_line() {
        assert_eq!(
            one_line("denied\ncargo:rustc-cfg=x\r\n\tend\u{1b}[2K\u{2028}\u{85}"),
            r"denied\ncargo:rustc-cfg=x\r\n\tend\u{1b}[2K\u{2028}\u{85}"
        );
        // Nothing else changes: backslashes, quotes, other scripts, emoji.
        let plain = r#"C:\assets\"logo".png: Größe 😀 ok"#;
        assert_eq!(one_line(plain), plain);
    }

    #[test]
    fn the_space_id_must_be_a_number() {
        assert_eq!(space_from_env(Some("184738".into())), Ok(184738));
        assert_eq!(
            space_from_env(Some("abc".into())),
            Err("STORYBLOK_SPACE_ID must be a number, not \"abc\"".into())
        );
        assert!(space_from_env(None).is_err_and(|e| e.contains("--space ID")));
    }

    #[test]
    fn the_sample_image_is_a_64x48_png() {
        let png = include_bytes!("../sample.png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes([png[16], png[17], png[18], png[19]]), 64);
        assert_eq!(u32::from_be_bytes([png[20], png[21], png[22], png[23]]), 48);
    }
}
