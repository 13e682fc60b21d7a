//! AWS Signature Version 4, as much of it as Storyblok's uploads and their tests need: the
//! POST policy signature Storyblok puts in `x-amz-signature` (the emulator signs its own
//! policies with it, and [`SigV4Signer`] signs for an S3 server written by others), and
//! header-signed requests (create a bucket, read an object back) for tests against such a
//! server.
//!
//! HMAC-SHA256 and SHA-256 come from RustCrypto's `hmac` and `sha2`; only the canonical
//! strings are written here, and the tests at the bottom check them against AWS's own
//! published examples.

use std::time::SystemTime;

use crate::PolicySigner;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The SHA-256 of an empty payload, in hex.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `data`, in lower-case hex.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any size");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The signing key: HMAC("AWS4" + secret, day) → region → service → "aws4_request".
pub(crate) fn signing_key(secret: &str, day: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), day.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// `x-amz-signature` of a POST policy: hex(HMAC(signing key, base64 policy)).
pub fn policy_signature(secret: &str, day: &str, region: &str, policy_base64: &str) -> String {
    hex(&hmac_sha256(
        &signing_key(secret, day, region, "s3"),
        policy_base64.as_bytes(),
    ))
}

/// URI-encodes per AWS: unreserved `A-Z a-z 0-9 - _ . ~` kept, everything else `%XX`
/// (upper-case hex, per UTF-8 byte); `/` kept when `keep_slash` (object key paths).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` for a time.
pub fn amz_date(time: SystemTime) -> String {
    crate::clock::format_amz_date(time)
}

/// An access key pair and its region. `Debug` shows the secret as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id, such as `AKIAIOSFODNN7EXAMPLE`.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
    /// The region, such as `us-east-1`.
    pub region: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"[redacted]")
            .field("region", &self.region)
            .finish()
    }
}

impl Credentials {
    /// A fresh key pair in `us-east-1`, shaped like AWS's (a 20-character access key id
    /// starting `AKIA`, a 40-character secret), different for every call. Each emulator signs
    /// its own policies with one of these.
    pub fn random() -> Credentials {
        const ID: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        Credentials {
            access_key: format!("AKIA{}", crate::random::string(ID, 16)),
            secret_key: crate::random::string(SECRET, 40),
            region: "us-east-1".into(),
        }
    }

    /// `access_key/day/region/s3/aws4_request`.
    pub fn credential(&self, day: &str) -> String {
        format!("{}/{day}/{}/s3/aws4_request", self.access_key, self.region)
    }
}

/// A request to sign with an `Authorization` header.
pub struct Request<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// `host[:port]`, exactly as the `Host` header will carry it.
    pub host: &'a str,
    /// The path as sent, already URI-encoded (see [`uri_encode`]).
    pub path: &'a str,
    /// Query parameters, not encoded; `("publicAccessBlock", "")` for a bare flag.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to send and sign besides `host`, `x-amz-date` and `x-amz-content-sha256`.
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    pub payload_hash: &'a str,
}

impl Request<'_> {
    /// The query string as sent and as signed: encoded, sorted, `name=` for an empty value.
    pub fn query_string(&self) -> String {
        let mut pairs: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
            .collect();
        pairs.sort();
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The headers to send (`Host` is sent by the HTTP client from the URL): the caller's,
    /// `x-amz-date`, `x-amz-content-sha256` and `Authorization`.
    pub fn sign(&self, credentials: &Credentials, amz_date: &str) -> Vec<(String, String)> {
        let mut signed: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        signed.push(("host".into(), self.host.into()));
        signed.push(("x-amz-content-sha256".into(), self.payload_hash.into()));
        signed.push(("x-amz-date".into(), amz_date.into()));
        signed.sort();
        let canonical_headers: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        let signed_headers = signed
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canonical_request = format!(
            "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
            self.method,
            self.path,
            self.query_string(),
            self.payload_hash
        );
        let day = amz_date.get(..8).unwrap_or(amz_date);
        let scope = format!("{day}/{}/s3/aws4_request", credentials.region);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical_request.as_bytes())
        );
        let signature = hex(&hmac_sha256(
            &signing_key(&credentials.secret_key, day, &credentials.region, "s3"),
            string_to_sign.as_bytes(),
        ));
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
            .collect();
        headers.push(("x-amz-date".into(), amz_date.into()));
        headers.push(("x-amz-content-sha256".into(), self.payload_hash.into()));
        headers.push((
            "Authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope},SignedHeaders={signed_headers},Signature={signature}",
                credentials.access_key
            ),
        ));
        headers
    }
}

/// Signs POST policies the way Storyblok's backend does for its own bucket, for an S3
/// server at `endpoint` (path-style: `post_url` is `{endpoint}/{bucket}`).
#[derive(Clone, Debug)]
pub struct SigV4Signer {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub endpoint: String,
    /// The bucket uploads go to.
    pub bucket: String,
    /// The key pair that signs.
    pub credentials: Credentials,
}

impl PolicySigner for SigV4Signer {
    fn post_url(&self) -> String {
        format!("{}/{}", self.endpoint, self.bucket)
    }

    fn bucket(&self) -> String {
        self.bucket.clone()
    }

    fn credential(&self, amz_date: &str) -> String {
        self.credentials
            .credential(amz_date.get(..8).unwrap_or(amz_date))
    }

    fn signature(&self, amz_date: &str, policy_base64: &str) -> String {
        policy_signature(
            &self.credentials.secret_key,
            amz_date.get(..8).unwrap_or(amz_date),
            &self.credentials.region,
            policy_base64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// AWS's "Deriving the signing key" example (service `iam`).
    #[test]
    fn signing_key_matches_aws_example() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    /// AWS's "Example: GET Object" of header-based authentication (S3 API reference).
    #[test]
    fn get_object_matches_aws_example() {
        let credentials = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
        };
        let request = Request {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            query: &[],
            headers: &[("Range", "bytes=0-9")],
            payload_hash: EMPTY_SHA256,
        };
        let headers = request.sign(&credentials, "20130524T000000Z");
        let authorization = &headers
            .iter()
            .find(|(n, _)| n == "Authorization")
            .unwrap()
            .1;
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    /// AWS's "Example: Browser-Based Upload using HTTP POST (Using AWS Signature Version 4)".
    #[test]
    fn policy_signature_matches_aws_post_example() {
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
        assert_eq!(
            policy_signature(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "20151229",
                "us-east-1",
                policy
            ),
            "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
        );
    }

    #[test]
    fn credentials_hide_their_secret_and_differ() {
        let credentials = Credentials::random();
        let shown = format!("{credentials:?}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains(&credentials.secret_key), "{shown}");
        assert!(shown.contains(&credentials.access_key), "{shown}");
        assert_eq!(credentials.access_key.len(), 20);
        assert!(credentials.access_key.starts_with("AKIA"));
        assert_eq!(credentials.secret_key.len(), 40);
        assert_eq!(credentials.region, "us-east-1");
        let other = Credentials::random();
        assert_ne!(credentials.access_key, other.access_key);
        assert_ne!(credentials.secret_key, other.secret_key);
        // The signer around them does not print the secret either.
        let signer = SigV4Signer {
            endpoint: "http://127.0.0.1:1".into(),
            bucket: "b".into(),
            credentials,
        };
        assert!(!format!("{signer:?}").contains(&other.secret_key));
        assert!(format!("{signer:?}").contains("[redacted]"));
    }

    #[test]
    fn query_strings_are_sorted_and_keep_empty_values() {
        let request = Request {
            method: "DELETE",
            host: "h",
            path: "/b",
            query: &[("z", "a b"), ("publicAccessBlock", "")],
            headers: &[],
            payload_hash: EMPTY_SHA256,
        };
        assert_eq!(request.query_string(), "publicAccessBlock=&z=a%20b");
    }

    #[test]
    fn uri_encoding_follows_aws_rules() {
        assert_eq!(
            uri_encode("f/1/ab/Grüße \"x\"~+.png", true),
            "f/1/ab/Gr%C3%BC%C3%9Fe%20%22x%22~%2B.png"
        );
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
    }

    #[test]
    fn amz_dates() {
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_369_353_600 + 3_661);
        assert_eq!(amz_date(t), "20130524T010101Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(amz_date(leap), "20000229T000000Z");
    }
}
