//! A few raw, SigV4-signed requests to the ministack server: make a bucket that takes
//! `acl=public-read`, read an object back, and post a browser form by hand.

use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use storyblok_assets_emulator::sigv4::{
    Credentials, EMPTY_SHA256, Request, SigV4Signer, amz_date, uri_encode,
};

/// The ministack server `.ci/run` started, from `MINISTACK_ENDPOINT`, `MINISTACK_ACCESS_KEY`
/// and `MINISTACK_SECRET_KEY`.
pub struct MiniStack {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// `127.0.0.1:PORT`.
    pub host: String,
    pub credentials: Credentials,
    agent: ureq::Agent,
}

/// An S3 answer: status, headers we look at, and the body as text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// The text of the first `<tag>` element of an XML error.
    pub fn xml(&self, tag: &str) -> Option<String> {
        let start = self.body.find(&format!("<{tag}>"))? + tag.len() + 2;
        let end = self.body[start..].find(&format!("</{tag}>"))? + start;
        Some(self.body[start..end].to_string())
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need a ministack server (AUTH=true, SERVICES=s3). \
             Run them with .ci/run, or start ministack as the README's \"Conformance against a \
             real S3\" section shows and export MINISTACK_ENDPOINT, MINISTACK_ACCESS_KEY and \
             MINISTACK_SECRET_KEY"
        )
    })
}

impl MiniStack {
    pub fn from_env() -> MiniStack {
        let endpoint = env("MINISTACK_ENDPOINT").trim_end_matches('/').to_string();
        let host = endpoint
            .strip_prefix("http://")
            .unwrap_or_else(|| {
                panic!("MINISTACK_ENDPOINT must be http://host:port, not {endpoint}")
            })
            .to_string();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(120)))
            .build();
        MiniStack {
            endpoint,
            host,
            credentials: Credentials {
                access_key: env("MINISTACK_ACCESS_KEY"),
                secret_key: env("MINISTACK_SECRET_KEY"),
                region: "us-east-1".into(),
            },
            agent: ureq::Agent::new_with_config(config),
        }
    }

    /// An anonymous (unsigned) `GET /{bucket}/{key}`.
    pub fn get_anonymous(&self, bucket: &str, key: &str) -> Answer {
        let url = format!("{}/{bucket}/{}", self.endpoint, uri_encode(key, true));
        self.finish(self.agent.get(&url).call())
    }

    /// A signer that issues Storyblok-shaped policies for `bucket` on this server.
    pub fn signer(&self, bucket: &str) -> SigV4Signer {
        SigV4Signer {
            endpoint: self.endpoint.clone(),
            bucket: bucket.into(),
            credentials: self.credentials.clone(),
        }
    }

    fn signed(&self, request: &Request<'_>) -> (String, Vec<(String, String)>) {
        let query = request.query_string();
        let url = if query.is_empty() {
            format!("{}{}", self.endpoint, request.path)
        } else {
            format!("{}{}?{query}", self.endpoint, request.path)
        };
        let headers = request.sign(&self.credentials, &amz_date(SystemTime::now()));
        (url, headers)
    }

    /// A new, empty bucket with a unique name that accepts `acl=public-read` objects, as
    /// Storyblok's bucket does: object ownership `ObjectWriter`, no public access block.
    pub fn new_bucket(&self, purpose: &str) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let bucket = format!(
            "sb-{purpose}-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = format!("/{bucket}");

        let create = Request {
            method: "PUT",
            host: &self.host,
            path: &path,
            query: &[],
            headers: &[("x-amz-object-ownership", "ObjectWriter")],
            payload_hash: EMPTY_SHA256,
        };
        let (url, headers) = self.signed(&create);
        let answer = self.finish(
            headers
                .iter()
                .fold(self.agent.put(&url), |r, (n, v)| r.header(n, v))
                .send_empty(),
        );
        assert_eq!(answer.status, 200, "PUT {path} (create bucket): {answer:?}");

        let unblock = Request {
            method: "DELETE",
            host: &self.host,
            path: &path,
            query: &[("publicAccessBlock", "")],
            headers: &[],
            payload_hash: EMPTY_SHA256,
        };
        let (url, headers) = self.signed(&unblock);
        let answer = self.finish(
            headers
                .iter()
                .fold(self.agent.delete(&url), |r, (n, v)| r.header(n, v))
                .call(),
        );
        assert!(
            matches!(answer.status, 200 | 204),
            "DELETE {path}?publicAccessBlock: {answer:?}"
        );
        bucket
    }

    fn finish(&self, result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut response = result.expect("ministack answers");
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .expect("a readable answer");
        Answer { status, body }
    }

    /// A signed `GET /{bucket}/{key}`; the caller reads (and compares) the body.
    pub fn get(&self, bucket: &str, key: &str) -> ureq::http::Response<ureq::Body> {
        let path = format!("/{bucket}/{}", uri_encode(key, true));
        let request = Request {
            method: "GET",
            host: &self.host,
            path: &path,
            query: &[],
            headers: &[],
            payload_hash: "UNSIGNED-PAYLOAD",
        };
        let (url, headers) = self.signed(&request);
        headers
            .iter()
            .fold(self.agent.get(&url), |r, (n, v)| r.header(n, v))
            .call()
            .expect("ministack answers a GET")
    }

    /// The stored object's status, `Content-Type` and `Cache-Control`, after checking that
    /// its bytes are exactly what `expected` yields (streamed: nothing is held in full).
    pub fn assert_object(&self, bucket: &str, key: &str, expected: impl Read) -> Stored {
        let response = self.get(bucket, key);
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let stored = Stored {
            content_type: header("content-type"),
            cache_control: header("cache-control"),
        };
        let mut body = response.into_body();
        if status != 200 {
            let text = body.read_to_string().unwrap_or_default();
            panic!("GET {bucket}/{key}: {status} {text}");
        }
        assert_same_bytes(body.into_reader(), expected, key);
        stored
    }

    /// The status and error code of a signed GET of a key that should not exist.
    pub fn missing(&self, bucket: &str, key: &str) -> Answer {
        let result = Ok(self.get(bucket, key));
        self.finish(result)
    }

    /// POSTs a browser form by hand: `fields` verbatim, then the file part last.
    pub fn post_form(&self, post_url: &str, fields: &[(String, String)], file: &[u8]) -> Answer {
        let boundary = "conformance-boundary-7d1f0c";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let result = self
            .agent
            .post(post_url)
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..]);
        self.finish(result)
    }
}

/// Headers of a stored object.
#[derive(Debug)]
pub struct Stored {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
}

/// Reads both streams in step and panics at the first difference or length mismatch.
pub fn assert_same_bytes(mut actual: impl Read, mut expected: impl Read, what: &str) {
    let mut a = vec![0u8; 1 << 16];
    let mut e = vec![0u8; 1 << 16];
    let mut offset: u64 = 0;
    loop {
        let n = actual.read(&mut a).expect("read the stored object");
        if n == 0 {
            let mut rest = [0u8; 1];
            let left = expected.read(&mut rest).expect("read the expected bytes");
            assert_eq!(
                left, 0,
                "{what}: the stored object ends early, at byte {offset}"
            );
            return;
        }
        expected.read_exact(&mut e[..n]).unwrap_or_else(|err| {
            panic!("{what}: the stored object is longer than expected, past byte {offset}: {err}")
        });
        if a[..n] != e[..n] {
            let i = a[..n]
                .iter()
                .zip(&e[..n])
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            panic!("{what}: byte {} differs", offset + i as u64);
        }
        offset += n as u64;
    }
}
