//! Upload speed and memory against curl, and a bulk run at the rate limit.
//!
//! ```text
//! cargo bench --bench performance                # 1 KiB, 100 MiB, 1 GiB and the bulk run
//! SIZES=1K,100M cargo bench --bench performance  # other sizes
//! BULK=0 cargo bench --bench performance         # skip the 100-second bulk run
//! ```
//!
//! Speed: a small sink server in its own process stands in for both the Management API
//! (sign) and S3 (it reads every byte of the form and throws it away, as fast as loopback
//! allows). The SDK (one `Client::upload`, in a process of its own) and `curl --form`
//! sending the same form post to it; each run is a fresh process, timed from spawn to
//! exit, 5 runs per size, interleaved, the median kept. Peak RSS is the process's maximum resident set
//! (`/usr/bin/time -f %M` when present; for the SDK also its own `VmHWM`).
//!
//! Bulk: 300 small files through `Client::upload_all` against the emulator enforcing
//! 6 calls/s in fixed one-second windows; the rate limit allows 300 x 2 / 6 = 100 s.
//!
//! Latest run, 2026-11-24, 2 vCPU AMD EPYC, 24 GiB, Debian 12, curl 7.88.1 (five runs
//! interleaved, median kept; timings on a shared 2-core machine vary by about 10%):
//!
//! | file | SDK s | curl s | SDK / curl | SDK peak RSS | curl peak RSS |
//! |---|---|---|---|---|---|
//! | 1 KiB | 0.004 | 0.012 | 0.36 | 4.0 MiB | 11.2 MiB |
//! | 100 MiB | 0.067 | 0.080 | 0.83 | 4.1 MiB | 11.0 MiB |
//! | 1 GiB | 0.501 | 0.592 | 0.85 | 4.1 MiB | 11.0 MiB |
//!
//! The SDK's peak for 1 GiB is 0.2 MiB over that for 1 KiB: the file streams through one
//! 512 KiB send buffer (ureq's default 128 KiB made a 1 GiB upload 1.1 to 1.3 times
//! curl's time). The SDK's 1 KiB time includes the sign call.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use storyblok_assets::{AssetParams, Client, Source, Token};
use storyblok_assets_emulator::{Emulator, Endpoint};

const RUNS: usize = 5;
const KEY: &str = "f/1/bench/file.bin";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--sink") => sink(),
        Some("--sdk") => sdk(&args[2], Path::new(&args[3])),
        _ => {
            speed()?;
            if std::env::var("BULK").as_deref() != Ok("0") {
                bulk()?;
            }
            Ok(())
        }
    }
}

// ---- the sink server -------------------------------------------------------------------

fn sink() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    println!("{port}");
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            let _ = serve(stream, port);
        });
    }
    Ok(())
}

/// One keep-alive connection: read each request, discard its body, answer.
fn serve(stream: TcpStream, port: u16) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let target = line.split(' ').nth(1).unwrap_or("").to_owned();
        let mut length = 0u64;
        let mut expect = false;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("expect") {
                expect = true;
            }
        }
        if expect {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let mut left = length;
        while left > 0 {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            reader.consume(n);
            left -= n as u64;
        }
        let body = if target.starts_with("/v1/") {
            format!(
                r#"{{"id":1,"post_url":"http://127.0.0.1:{port}/bucket","public_url":"https://s3.amazonaws.com/bucket/{KEY}","fields":{{"key":"{KEY}","acl":"public-read","Content-Type":"application/octet-stream"}}}}"#
            )
        } else {
            String::new()
        };
        let status = if body.is_empty() {
            "204 No Content"
        } else {
            "200 OK"
        };
        // One write per answer: piecewise writes meet Nagle and delayed ACKs (40 ms).
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        writer.write_all(answer.as_bytes())?;
    }
}

// ---- one SDK upload, in its own process ---------------------------------------------------

fn sdk(base_url: &str, file: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder(Token::personal("bench"))
        .base_url(base_url)
        .build()?;
    let request = AssetParams::new().validate_upload(false);
    client.upload(1, request, Source::path(file))?;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map_or("0", |v| v.trim().trim_end_matches(" kB"));
    println!("{hwm}");
    Ok(())
}

// ---- the comparison --------------------------------------------------------------------

struct Run {
    seconds: f64,
    rss_kib: Option<u64>,
}

fn has_gnu_time() -> bool {
    Command::new("/usr/bin/time")
        .args(["-f", "%M", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `program args`, under `/usr/bin/time` when present; wall time and peak RSS.
fn timed(
    program: &str,
    args: &[String],
    gnu_time: bool,
) -> Result<Run, Box<dyn std::error::Error>> {
    let mut command = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "rss=%M", program]);
        c
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let output = command.output()?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("{program} failed: {stderr}").into());
    }
    let rss_kib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("rss="))
        .and_then(|v| v.trim().parse().ok());
    Ok(Run { seconds, rss_kib })
}

fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    runs.swap_remove(runs.len() / 2)
}

fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits.parse().ok()?;
    Some(match unit.to_ascii_uppercase().as_str() {
        "" => n,
        "K" => n << 10,
        "M" => n << 20,
        "G" => n << 30,
        _ => return None,
    })
}

fn data_file(dir: &Path, size: u64) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("bench-{size}.bin"));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
        return Ok(path);
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let block: Vec<u8> = (0..1024 * 1024)
        .map(|i: u32| (i * 31 % 251) as u8)
        .collect();
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    file.flush()?;
    Ok(path)
}

fn speed() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<u64> = std::env::var("SIZES")
        .unwrap_or_else(|_| "1K,100M,1G".into())
        .split(',')
        .filter_map(parse_size)
        .collect();
    let exe = std::env::current_exe()?;
    let exe = exe.to_string_lossy().into_owned();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let gnu_time = has_gnu_time();

    let mut sink = Command::new(&exe)
        .arg("--sink")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut port = String::new();
    if let Some(out) = sink.stdout.take() {
        BufReader::new(out).read_line(&mut port)?;
    }
    let port = port.trim().to_owned();
    let api = format!("http://127.0.0.1:{port}/v1");
    let s3 = format!("http://127.0.0.1:{port}/bucket");

    println!("upload speed and memory: SDK vs curl --form, same sink server on loopback");
    println!("| file | SDK s | curl s | SDK / curl | SDK peak RSS | curl peak RSS |");
    println!("|---|---|---|---|---|---|");
    let mut baseline_rss = None;
    for size in sizes {
        let file = data_file(&dir, size)?;
        let file_arg = file.to_string_lossy().into_owned();
        let sdk_args = vec!["--sdk".to_owned(), api.clone(), file_arg.clone()];
        let curl_args: Vec<String> = [
            "-sS",
            "--fail",
            "-o",
            "/dev/null",
            "-F",
            &format!("key={KEY}"),
            "-F",
            "acl=public-read",
            "-F",
            "Content-Type=application/octet-stream",
            "-F",
            &format!("file=@{file_arg};type=application/octet-stream"),
            &s3,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Warm the page cache and both code paths once.
        timed(&exe, &sdk_args, false)?;
        timed("curl", &curl_args, false)?;
        // Interleaved, so that drift in the machine's speed hits both alike.
        let mut sdk_runs = Vec::with_capacity(RUNS);
        let mut curl_runs = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            sdk_runs.push(timed(&exe, &sdk_args, gnu_time)?);
            curl_runs.push(timed("curl", &curl_args, gnu_time)?);
        }
        let (sdk_run, curl_run) = (median(sdk_runs), median(curl_runs));
        let rss = |r: &Run| {
            r.rss_kib.map_or("n/a".to_owned(), |k| {
                format!("{:.1} MiB", k as f64 / 1024.0)
            })
        };
        println!(
            "| {} | {:.3} | {:.3} | {:.2} | {} | {} |",
            human(size),
            sdk_run.seconds,
            curl_run.seconds,
            sdk_run.seconds / curl_run.seconds,
            rss(&sdk_run),
            rss(&curl_run)
        );
        if let Some(kib) = sdk_run.rss_kib {
            match baseline_rss {
                None => baseline_rss = Some(kib),
                Some(base) => println!(
                    "  SDK peak RSS over the first size: {:+.1} MiB",
                    (kib as f64 - base as f64) / 1024.0
                ),
            }
        }
    }
    let _ = sink.kill();
    let _ = sink.wait();
    Ok(())
}

fn human(size: u64) -> String {
    match size {
        s if s >= 1 << 30 && s % (1 << 30) == 0 => format!("{} GiB", s >> 30),
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

fn bulk() -> Result<(), Box<dyn std::error::Error>> {
    let files = 300;
    let rate = 6;
    let emulator = Emulator::builder().rate_limit(Some(rate)).start()?;
    let client = Client::builder(Token::personal(emulator.token()))
        .base_url(emulator.api_url())
        .build()?;
    let items = (0..files).map(|i| {
        (
            AssetParams::new().filename(format!("bulk-{i}.txt")),
            Source::bytes(format!("file {i}").into_bytes()),
        )
    });
    let started = Instant::now();
    let results = client.upload_all(emulator.space_id(), items, 4);
    let seconds = started.elapsed().as_secs_f64();
    let failed = results.iter().filter(|r| r.is_err()).count();
    let mapi: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.endpoint != Endpoint::Upload)
        .collect();
    let too_many = mapi.iter().filter(|r| r.status == 429).count();
    let allowed = Duration::from_secs((files * 2 / rate) as u64).as_secs_f64();
    println!();
    println!("bulk: {files} files, upload_all with 4 threads, emulator at {rate}/s");
    println!(
        "| files | seconds | rate limit allows | ratio | MAPI rate | of the limit | 429s | failed |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let achieved = mapi.len() as f64 / seconds;
    println!(
        "| {files} | {seconds:.1} | {allowed:.0} | {:.3} | {achieved:.2}/s | {:.1}% | {too_many} | {failed} |",
        seconds / allowed,
        100.0 * achieved / f64::from(rate)
    );
    if failed > 0 {
        return Err("some bulk uploads failed".into());
    }
    Ok(())
}
