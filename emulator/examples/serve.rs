//! Serves one emulator for other processes: a fake Storyblok space (or several) that separate
//! clients share, with each space's rate limit counted across all of them.
//!
//! ```text
//! cargo run -p storyblok-assets-emulator --example serve -- [--port P] [--space ID]
//!     [--rate N|off] [--one-way-delay-ms MIN] [--jitter-ms J] [--retry-after S] [--local-cdn]
//! ```
//!
//! It listens on `127.0.0.1` (any free port unless `--port` says), prints one JSON line on
//! stdout, `{"api_url":..,"token":..,"oauth_token":..,"space_id":..,"spaces":[..],"s3_url":..,"addr":..}`,
//! then serves until its stdin closes or it is killed. Start it with a pipe on stdin and
//! close the pipe to stop it. Nobody reads the request log of a served emulator, so it
//! records none.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use storyblok_assets_emulator::{Emulator, EmulatorBuilder};

const USAGE: &str = "\
usage: serve [--port P] [--space ID] [--rate N|off] [--one-way-delay-ms MIN] [--jitter-ms J] [--retry-after S] [--local-cdn]

Serves a Storyblok Management API and S3 emulator on 127.0.0.1 until stdin closes.
Prints one JSON line first: api_url, token, oauth_token, space_id, spaces, s3_url, addr.

  --port P               the port to listen on (default: any free port)
  --space ID             a space to serve; repeat it for several (default 606), each
                         with its own assets, folders, tags and rate window
  --rate N|off           Management API requests per second per space (default 6)
  --one-way-delay-ms MIN latency of each trip of a Management API request (default 0)
  --jitter-ms J          plus a uniform random 0..=J ms on each trip (default 0)
  --retry-after S        send Retry-After: S with every 429 (default: none, as Storyblok)
  --local-cdn            hand out asset URLs that download from the emulator itself
  --help                 print this and exit
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Serve(Options),
}

#[derive(Debug, PartialEq)]
struct Options {
    port: u16,
    /// The first is the emulator's first space; empty: 606 alone.
    spaces: Vec<u64>,
    rate: Option<u32>,
    one_way_delay: Duration,
    jitter: Duration,
    local_cdn: bool,
    retry_after: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 0,
            spaces: Vec::new(),
            rate: Some(6),
            one_way_delay: Duration::ZERO,
            jitter: Duration::ZERO,
            local_cdn: false,
            retry_after: None,
        }
    }
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let number = |name: &str, text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{name}: not a number: {text}"))
        };
        match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--port" => {
                let text = value("--port")?;
                options.port = text
                    .parse()
                    .map_err(|_| format!("--port: not a port: {text}"))?;
            }
            "--space" => options.spaces.push(number("--space", value("--space")?)?),
            "--rate" => {
                let text = value("--rate")?;
                options.rate = if text == "off" {
                    None
                } else {
                    Some(
                        text.parse()
                            .map_err(|_| format!("--rate: not a number or off: {text}"))?,
                    )
                };
            }
            "--one-way-delay-ms" => {
                let ms = number("--one-way-delay-ms", value("--one-way-delay-ms")?)?;
                options.one_way_delay = Duration::from_millis(ms);
            }
            "--jitter-ms" => {
                options.jitter =
                    Duration::from_millis(number("--jitter-ms", value("--jitter-ms")?)?);
            }
            "--local-cdn" => options.local_cdn = true,
            "--retry-after" => {
                options.retry_after = Some(number("--retry-after", value("--retry-after")?)?);
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Command::Serve(options))
}

fn builder(options: &Options) -> EmulatorBuilder {
    let mut builder = Emulator::builder().port(options.port);
    if let Some((first, more)) = options.spaces.split_first() {
        builder = builder.space_id(*first);
        for space in more {
            builder = builder.space(*space);
        }
    }
    builder = builder
        .rate_limit(options.rate)
        .retry_after(options.retry_after)
        .local_cdn(options.local_cdn)
        .max_recorded_requests(0);
    if !options.one_way_delay.is_zero() || !options.jitter.is_zero() {
        builder = builder.one_way_delay(options.one_way_delay, options.jitter);
    }
    builder
}

/// The line printed once the emulator listens.
fn ready_line(emulator: &Emulator) -> String {
    serde_json::json!({
        "api_url": emulator.api_url(),
        "token": emulator.token(),
        "oauth_token": emulator.oauth_token(),
        "space_id": emulator.space_id(),
        "spaces": emulator.space_ids(),
        "s3_url": emulator.s3_url(),
        "addr": emulator.addr().to_string(),
    })
    .to_string()
}

/// Serves until `input` ends; the ready line goes to `output`.
fn serve(options: &Options, input: impl Read, mut output: impl Write) -> io::Result<()> {
    let emulator = builder(options).start()?;
    // One write, so that a reader sees the whole line at once.
    output.write_all(format!("{}\n", ready_line(&emulator)).as_bytes())?;
    output.flush()?;
    io::copy(&mut io::BufReader::new(input), &mut io::sink()).map(|_| ())
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Serve(options)) => match serve(&options, io::stdin(), io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("serve: {error}");
                ExitCode::FAILURE
            }
        },
        Err(message) => {
            eprintln!("serve: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_the_command_line() {
        assert_eq!(parse(args("")), Ok(Command::Serve(Options::default())));
        assert_eq!(parse(args("--local-cdn --help")), Ok(Command::Help));
        assert_eq!(
            parse(args(
                "--port 4000 --space 42 --rate off --one-way-delay-ms 40 --jitter-ms 10 --local-cdn --retry-after 1"
            )),
            Ok(Command::Serve(Options {
                port: 4000,
                spaces: vec![42],
                rate: None,
                one_way_delay: Duration::from_millis(40),
                jitter: Duration::from_millis(10),
                local_cdn: true,
                retry_after: Some(1),
            }))
        );
        assert_eq!(
            parse(args("--space 7 --space 3")),
            Ok(Command::Serve(Options {
                spaces: vec![7, 3],
                ..Options::default()
            }))
        );
        assert_eq!(
            parse(args("--rate 3")),
            Ok(Command::Serve(Options {
                rate: Some(3),
                ..Options::default()
            }))
        );
        for bad in [
            "--rate",
            "--rate many",
            "--port 70000",
            "--space -1",
            "--verbose",
        ] {
            assert!(parse(args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_served_emulator_records_no_requests() {
        let emulator = builder(&Options::default()).start().expect("starts");
        let mut socket = std::net::TcpStream::connect(emulator.addr()).expect("connects");
        write!(socket, "GET /v1/x HTTP/1.1\r\nConnection: close\r\n\r\n").expect("request");
        let mut answer = String::new();
        socket.read_to_string(&mut answer).expect("answer");
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        assert!(emulator.requests().is_empty());
    }

    /// A stdin that ends when the test says so.
    struct Pipe(std::sync::mpsc::Receiver<()>);

    impl Read for Pipe {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            let _ = self.0.recv();
            Ok(0)
        }
    }

    /// A stdout that hands each write to the test.
    struct Lines(std::sync::mpsc::Sender<Vec<u8>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _ = self.0.send(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn serves_until_stdin_closes() {
        let (close, closed) = std::sync::mpsc::channel();
        let (line, lines) = std::sync::mpsc::channel();
        let options = Options {
            spaces: vec![42, 43],
            rate: Some(2),
            local_cdn: true,
            ..Options::default()
        };
        let server = std::thread::spawn(move || serve(&options, Pipe(closed), Lines(line)));
        let printed = lines
            .recv_timeout(Duration::from_secs(5))
            .expect("a ready line");
        let ready: serde_json::Value = serde_json::from_slice(&printed).expect("JSON");
        assert!(printed.ends_with(b"\n") && !printed[..printed.len() - 1].contains(&b'\n'));
        assert_eq!(ready["space_id"], 42);
        assert_eq!(ready["spaces"], serde_json::json!([42, 43]));
        assert_eq!(ready["token"], "emulator-personal-token");
        assert_eq!(ready["oauth_token"], "emulator-oauth-token");
        let addr = ready["addr"].as_str().expect("addr").to_string();
        assert_eq!(ready["api_url"], format!("http://{addr}/v1"));

        // Another "process" uses it: three requests in one go, the third over the limit.
        let mut socket = std::net::TcpStream::connect(&addr).expect("connects");
        let request = "GET /v1/spaces/42/assets/1 HTTP/1.1\r\nAuthorization: \
                       emulator-personal-token\r\n";
        write!(
            socket,
            "{request}\r\n{request}\r\n{request}Connection: close\r\n\r\n"
        )
        .expect("requests");
        let mut answers = String::new();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let _ = socket.read_to_string(&mut answers);
        assert_eq!(
            answers.matches("HTTP/1.1 404").count() + answers.matches("HTTP/1.1 429").count(),
            3
        );
        assert!(answers.contains("HTTP/1.1 429"), "{answers}");

        drop(close);
        let finished = server.join().expect("the server thread");
        assert!(finished.is_ok());
        assert!(
            std::net::TcpStream::connect(&addr).is_err(),
            "stopped listening"
        );
    }
}
