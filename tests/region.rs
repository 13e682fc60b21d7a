//! A client built without a region or base URL sends each call to the host its space id
//! names (issue 9), seen from the outside: through a proxy on loopback that records the
//! host of each `CONNECT` and refuses it, so no call leaves the machine.
//!
//! One test in this file, alone in its process: it sets the proxy variables of the
//! process environment, which ureq reads when the client is built.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use storyblok_assets::{Client, ClientBuilder, RateLimit, Region, SharedPacing, Token};

/// A proxy that answers every `CONNECT` with 403 and sends its request line on.
fn refusing_proxy() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (seen, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut first = String::new();
            if reader.read_line(&mut first).unwrap_or(0) == 0 {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let _ = stream.write_all(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            if seen.send(first.trim_end().to_owned()).is_err() {
                return;
            }
        }
    });
    (format!("http://{addr}"), lines)
}

/// The client of the test: no region and no base URL, as `Client::new` builds it; no
/// pacing (and no pacing state file), no retries.
fn builder() -> ClientBuilder {
    Client::builder(Token::personal("token"))
        .rate_limit(RateLimit::Off)
        .shared_pacing(SharedPacing::Off)
        .max_retries(0)
        .timeout_call(Duration::from_secs(5))
}

/// The request line the proxy saw for a delete in `space_id`.
fn connect_line(client: &Client, space_id: u64, lines: &mpsc::Receiver<String>) -> String {
    let err = client.delete(space_id, 7).expect_err("the proxy refuses");
    lines
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("no request reached the proxy: {err:?}"))
}

#[test]
fn each_call_goes_to_the_region_its_space_id_names() {
    let (proxy, lines) = refusing_proxy();
    // SAFETY: the only test of this binary, and no other thread of it reads or writes the
    // environment.
    unsafe {
        for name in ["ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY"] {
            std::env::set_var(name, &proxy);
        }
        for name in [
            "all_proxy",
            "https_proxy",
            "http_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            std::env::remove_var(name);
        }
    }
    let client = builder().build().expect("a client");
    let cases = [
        // Tagged ids carry the region in bits 48 and up.
        ((2u64 << 48) | 7, "api-us.storyblok.com"),
        ((3 << 48) | 7, "api-ca.storyblok.com"),
        ((4 << 48) | 7, "api-ap.storyblok.com"),
        ((6 << 48) | 7, "app.storyblokchina.cn"),
        ((1 << 48) | 7, "mapi.storyblok.com"),
        // Older ids by range.
        (184_738, "mapi.storyblok.com"),
        (1_500_000, "api-us.storyblok.com"),
        // An id no rule covers: EU.
        (5_000_000, "mapi.storyblok.com"),
    ];
    for (space_id, host) in cases {
        assert_eq!(
            connect_line(&client, space_id, &lines),
            format!("CONNECT {host}:443 HTTP/1.1"),
            "space {space_id}"
        );
        assert_eq!(
            client.base_url(space_id),
            format!("https://{host}/v1"),
            "space {space_id}"
        );
    }

    // A region set on the builder wins over the id.
    let eu = builder().region(Region::Eu).build().expect("a client");
    assert_eq!(
        connect_line(&eu, (2 << 48) | 7, &lines),
        "CONNECT mapi.storyblok.com:443 HTTP/1.1"
    );
    assert!(lines.try_recv().is_err(), "one connection per call");
}
