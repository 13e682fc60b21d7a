//! TLS for real: a full sign → upload → finish over https, and the certificates every
//! backend must refuse.
//!
//! A test certificate authority (rcgen) issues the certificates; a TLS server (rustls)
//! sits in front of the emulator on loopback and hands every decrypted byte to it, so
//! both the Management API and S3 are reached over https. Which client backend runs is
//! the crate's feature choice: `cargo test --test it tls::` is rustls with Mozilla's roots;
//! `.ci/run` runs this file again with `--no-default-features --features native-tls` and
//! with `--features platform-verifier`.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use storyblok_assets::{AssetParams, Client, ErrorKind, Source, Step, Token};
use storyblok_assets_emulator::{Emulator, Endpoint};

/// A certificate authority: its certificate (PEM) and what signs with it.
struct Authority {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2000, 1, 1);
        params.not_after = date_time_ymd(4000, 1, 1);
        let pem = params.self_signed(&key).expect("a CA certificate").pem();
        Authority {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names`, valid from `from` to `until` (years).
    fn issue(&self, names: &[&str], from: i32, until: i32) -> ServerCert {
        let key = KeyPair::generate().expect("a key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("names");
        params.not_before = date_time_ymd(from, 1, 1);
        params.not_after = date_time_ymd(until, 1, 1);
        let cert = params.signed_by(&key, &self.issuer).expect("a certificate");
        ServerCert {
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        }
    }
}

struct ServerCert {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// A TLS server on loopback that passes every decrypted byte to `backend` and back.
struct TlsFront {
    addr: SocketAddr,
    /// Connections accepted, handshakes that failed included.
    connections: Arc<AtomicUsize>,
}

impl TlsFront {
    fn bind() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        (listener, addr)
    }

    fn serve(listener: TcpListener, cert: ServerCert, backend: SocketAddr) -> TlsFront {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(cert.chain, cert.key)
            .expect("a server certificate");
        let config = Arc::new(config);
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        std::thread::spawn(move || {
            for socket in listener.incoming() {
                let Ok(socket) = socket else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                let config = Arc::clone(&config);
                std::thread::spawn(move || relay(socket, config, backend));
            }
        });
        TlsFront { addr, connections }
    }
}

/// One connection: TLS with the client on `socket`, plain TCP with `backend`. Two threads
/// share the TLS state: one decrypts what the client sends, one encrypts what comes back.
fn relay(socket: TcpStream, config: Arc<rustls::ServerConfig>, backend: SocketAddr) {
    let Ok(tls) = rustls::ServerConnection::new(config) else {
        return;
    };
    let tls = Arc::new(Mutex::new(tls));
    let Ok(mut plain) = TcpStream::connect(backend) else {
        return;
    };
    let (Ok(mut to_client), Ok(mut from_backend)) = (socket.try_clone(), plain.try_clone()) else {
        return;
    };
    // Backend → client.
    let back = {
        let tls = Arc::clone(&tls);
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = match from_backend.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut tls = tls.lock().expect("tls state");
                if tls.writer().write_all(&buf[..n]).is_err() {
                    break;
                }
                while tls.wants_write() {
                    if tls.write_tls(&mut to_client).is_err() {
                        return;
                    }
                }
            }
            let mut tls = tls.lock().expect("tls state");
            tls.send_close_notify();
            while tls.wants_write() {
                if tls.write_tls(&mut to_client).is_err() {
                    break;
                }
            }
            let _ = to_client.shutdown(std::net::Shutdown::Write);
        })
    };
    // Client → backend.
    let mut from_client = socket;
    let mut buf = [0u8; 16 * 1024];
    let mut plain_buf = [0u8; 16 * 1024];
    loop {
        let n = match from_client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut tls = tls.lock().expect("tls state");
        let mut incoming = &buf[..n];
        let mut failed = false;
        while !incoming.is_empty() {
            if tls.read_tls(&mut incoming).is_err() || tls.process_new_packets().is_err() {
                failed = true;
                break;
            }
        }
        // Handshake replies, and a failed handshake's alert.
        while tls.wants_write() {
            if tls.write_tls(&mut from_client).is_err() {
                failed = true;
                break;
            }
        }
        if failed {
            break;
        }
        loop {
            match tls.reader().read(&mut plain_buf) {
                Ok(0) => break,
                Ok(m) => {
                    if plain.write_all(&plain_buf[..m]).is_err() {
                        failed = true;
                        break;
                    }
                }
                Err(_) => break, // WouldBlock: no more plaintext for now
            }
        }
        if failed {
            break;
        }
    }
    let _ = plain.shutdown(std::net::Shutdown::Both);
    let _ = back.join();
}

/// An emulator behind a TLS front presenting `cert`, both on loopback; the sign answer's
/// `post_url` points at the front too, so S3 is reached over https as well.
fn https_emulator(cert: ServerCert) -> (Emulator, TlsFront) {
    let (listener, addr) = TlsFront::bind();
    let emulator = Emulator::builder()
        .rate_limit(None)
        .public_origin(format!("https://localhost:{}", addr.port()))
        .start()
        .expect("the emulator starts");
    let front = TlsFront::serve(listener, cert, emulator.addr());
    (emulator, front)
}

fn client(emulator: &Emulator, front: &TlsFront, root_pem: Option<&str>) -> Client {
    let mut builder = Client::builder(Token::personal(emulator.token()))
        .base_url(format!("https://localhost:{}/v1", front.addr.port()))
        .timeout_connect(Duration::from_secs(5))
        .timeout_call(Duration::from_secs(10));
    if let Some(pem) = root_pem {
        builder = builder.root_certificates_pem(pem);
    }
    builder.build().expect("a client")
}

#[test]
fn a_full_upload_over_https_with_a_trusted_root() {
    let authority = Authority::new("storyblok-assets test CA");
    let (emulator, front) = https_emulator(authority.issue(&["localhost"], 2000, 4000));
    let client = client(&emulator, &front, Some(&authority.pem));
    let bytes = common::png(3, 2);
    let asset = client
        .upload(
            emulator.space_id(),
            AssetParams::new().filename("secure.png"),
            Source::bytes(&bytes),
        )
        .expect("uploaded over https");
    let stored = emulator.asset(asset.id).expect("the record");
    assert_eq!(emulator.object(&stored.key).expect("the file").bytes, bytes);
    let post = &emulator.requests_for(Endpoint::Upload)[0];
    assert!(post.header("authorization").is_none(), "no token to S3");
    // Sign, upload and finish all went through the TLS front.
    assert_eq!(
        emulator
            .requests()
            .iter()
            .filter(|r| r.status / 100 == 2)
            .count(),
        3
    );
}

/// Signs against a front presenting `cert`, expecting a TLS refusal that says `what`.
fn assert_refused(cert: ServerCert, root_pem: Option<&str>, what: &str) {
    let (emulator, front) = https_emulator(cert);
    let client = client(&emulator, &front, root_pem);
    let err = client
        .sign(
            emulator.space_id(),
            AssetParams::new().filename("never.png"),
        )
        .expect_err("the certificate must be refused");
    match err.kind() {
        ErrorKind::Tls { host, problem } => {
            assert_eq!(host, "localhost", "{err:?}");
            assert!(problem.contains(what), "{what}: {problem}");
        }
        other => panic!("{what}: expected a TLS error, got {other:?} ({err})"),
    }
    assert_eq!(err.step(), Some(Step::Sign));
    assert!(
        std::error::Error::source(&err).is_some(),
        "the backend's words"
    );
    assert!(emulator.requests().is_empty(), "nothing reached the API");
    assert!(emulator.assets().is_empty(), "nothing was created");
    assert_eq!(
        front.connections.load(Ordering::SeqCst),
        1,
        "a certificate error is not retried"
    );
}

#[test]
fn a_certificate_from_an_unknown_authority_is_refused() {
    let trusted = Authority::new("the authority the client trusts");
    let stranger = Authority::new("an authority nobody trusts");
    let cert = stranger.issue(&["localhost"], 2000, 4000);
    assert_refused(cert, Some(&trusted.pem), "authority");
    // With the backend's own roots (Mozilla's, or the operating system's) as well.
    let cert = stranger.issue(&["localhost"], 2000, 4000);
    assert_refused(cert, None, "authority");
}

#[test]
fn an_expired_certificate_is_refused() {
    let authority = Authority::new("storyblok-assets test CA");
    let cert = authority.issue(&["localhost"], 2000, 2001);
    assert_refused(cert, Some(&authority.pem), "expired");
}

#[test]
fn a_certificate_for_another_host_is_refused() {
    let authority = Authority::new("storyblok-assets test CA");
    let cert = authority.issue(&["storyblok.example"], 2000, 4000);
    assert_refused(cert, Some(&authority.pem), "another host");
}

#[test]
fn an_s3_with_a_bad_certificate_fails_at_once_naming_the_asset() {
    let authority = Authority::new("storyblok-assets test CA");
    // S3 behind its own front with an expired certificate; the API behind a good one.
    let (s3_listener, s3_addr) = TlsFront::bind();
    let (api_listener, _) = TlsFront::bind();
    let emulator = Emulator::builder()
        .rate_limit(None)
        .public_origin(format!("https://localhost:{}", s3_addr.port()))
        .start()
        .expect("the emulator starts");
    let s3 = TlsFront::serve(
        s3_listener,
        authority.issue(&["localhost"], 2000, 2001),
        emulator.addr(),
    );
    let api = TlsFront::serve(
        api_listener,
        authority.issue(&["localhost"], 2000, 4000),
        emulator.addr(),
    );
    let client = client(&emulator, &api, Some(&authority.pem));
    let err = client
        .upload(
            emulator.space_id(),
            AssetParams::new().filename("a.png"),
            Source::bytes(&b"abc"[..]),
        )
        .expect_err("S3's certificate is expired");
    assert!(
        matches!(err.kind(), ErrorKind::Tls { problem, .. } if problem.contains("expired")),
        "{err:?}"
    );
    assert_eq!(err.step(), Some(Step::Upload));
    assert!(err.asset_id().is_some(), "the record is named");
    assert_eq!(
        s3.connections.load(Ordering::SeqCst),
        1,
        "a certificate error is not retried"
    );
}

#[test]
fn a_root_certificate_file_without_a_certificate_is_refused() {
    for pem in [
        "",
        "not pem at all",
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
    ] {
        let err = Client::builder(Token::personal("t"))
            .root_certificates_pem(pem)
            .build()
            .expect_err("no certificate");
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput { .. }),
            "{pem:?}: {err:?}"
        );
    }
}
