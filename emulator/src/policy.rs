//! The S3 POST policy the emulator hands out, and its verification on upload.
//!
//! The policy document is the JSON AWS uses, with the conditions in the order Storyblok sends
//! them. The emulator signs it with real AWS Signature Version 4 ([`crate::sigv4`]) under
//! per-emulator credentials, and the S3 endpoint recomputes that signature on upload.

use std::time::SystemTime;

use serde_json::Value;

use crate::PolicySigner;
use crate::sigv4::Credentials;

/// The bucket in every key and URL.
pub(crate) const BUCKET: &str = "a.storyblok.com";
/// The value of `x-amz-algorithm`.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The `Cache-Control` Storyblok sets on every asset.
pub(crate) const CACHE_CONTROL: &str = "public, max-age=31536000";

/// `x-amz-signature` of a base64 policy signed by `credentials` on `day` (`YYYYMMDD`).
pub(crate) fn signature(credentials: &Credentials, day: &str, policy_base64: &str) -> String {
    crate::sigv4::policy_signature(
        &credentials.secret_key,
        day,
        &credentials.region,
        policy_base64,
    )
}

/// The parts of an `x-amz-credential` value, `AKID/YYYYMMDD/region/s3/aws4_request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scope<'a> {
    pub(crate) access_key: &'a str,
    pub(crate) day: &'a str,
    pub(crate) region: &'a str,
}

/// Splits an `x-amz-credential` value; `None` unless it has the five parts of an S3 scope
/// and an eight-digit day.
pub(crate) fn parse_credential(credential: &str) -> Option<Scope<'_>> {
    let mut parts = credential.split('/');
    let (Some(access_key), Some(day), Some(region), Some("s3"), Some("aws4_request"), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let digits = day.len() == 8 && day.bytes().all(|b| b.is_ascii_digit());
    (digits && !access_key.is_empty() && !region.is_empty()).then_some(Scope {
        access_key,
        day,
        region,
    })
}

/// Everything the policy and the sign response's `fields` are made of.
#[derive(Clone, Debug)]
pub(crate) struct PolicyFields {
    pub(crate) key: String,
    pub(crate) acl: String,
    /// HTTP date, equal to `expiration`.
    pub(crate) expires: String,
    pub(crate) content_type: String,
    pub(crate) credential: String,
    pub(crate) amz_date: String,
    /// ISO 8601.
    pub(crate) expiration: String,
    pub(crate) max_file_size: u64,
    pub(crate) bucket: String,
}

impl PolicyFields {
    /// The fields for a signature by `signer` made at `now` that expires at `expiration`: the
    /// signer's bucket and credential.
    pub(crate) fn new(
        key: String,
        acl: &str,
        content_type: String,
        (now, expiration): (SystemTime, SystemTime),
        max_file_size: u64,
        signer: &dyn PolicySigner,
    ) -> PolicyFields {
        let amz_date = crate::clock::format_amz_date(now);
        PolicyFields {
            key,
            acl: acl.to_string(),
            expires: crate::clock::format_http_date(expiration),
            content_type,
            credential: signer.credential(&amz_date),
            expiration: crate::clock::format_iso8601(expiration),
            amz_date,
            max_file_size,
            bucket: signer.bucket(),
        }
    }

    /// The policy document, keys and conditions in Storyblok's order.
    pub(crate) fn policy_json(&self) -> String {
        let eq = |name: &str, value: &str| format!("{{{}:{}}}", json_str(name), json_str(value));
        let conditions = [
            eq("bucket", &self.bucket),
            eq("acl", &self.acl),
            eq("Cache-Control", CACHE_CONTROL),
            eq("Content-Type", &self.content_type),
            eq("key", &self.key),
            eq("Expires", &self.expires),
            format!("[\"content-length-range\",1,{}]", self.max_file_size),
            eq("x-amz-credential", &self.credential),
            eq("x-amz-algorithm", ALGORITHM),
            eq("x-amz-date", &self.amz_date),
        ];
        format!(
            "{{\"expiration\":{},\"conditions\":[{}]}}",
            json_str(&self.expiration),
            conditions.join(",")
        )
    }

    /// The sign response's `fields`, in Storyblok's order, as (name, value) pairs, with the
    /// base64 policy signed by `signer`.
    pub(crate) fn form_fields(&self, signer: &dyn PolicySigner) -> Vec<(&'static str, String)> {
        let policy = crate::b64::encode(self.policy_json().as_bytes());
        let signature = signer.signature(&self.amz_date, &policy);
        vec![
            ("key", self.key.clone()),
            ("acl", self.acl.clone()),
            ("Expires", self.expires.clone()),
            ("Cache-Control", CACHE_CONTROL.to_string()),
            ("Content-Type", self.content_type.clone()),
            ("policy", policy),
            ("x-amz-credential", self.credential.clone()),
            ("x-amz-algorithm", ALGORITHM.to_string()),
            ("x-amz-date", self.amz_date.clone()),
            ("x-amz-signature", signature),
        ]
    }
}

/// A JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

/// A JSON object written with its keys in the given order (serde_json's map would sort them).
pub(crate) fn ordered_object(entries: &[(&str, String)]) -> String {
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}:{}", json_str(k), v))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// One policy condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Condition {
    /// `{"name": "value"}` or `["eq", "$name", "value"]`.
    Eq { name: String, value: String },
    /// `["starts-with", "$name", "prefix"]`.
    StartsWith { name: String, prefix: String },
    /// `["content-length-range", min, max]`.
    LengthRange { min: u64, max: u64 },
}

impl Condition {
    /// The form field this condition names, if any.
    pub(crate) fn field(&self) -> Option<&str> {
        match self {
            Condition::Eq { name, .. } | Condition::StartsWith { name, .. } => Some(name),
            Condition::LengthRange { .. } => None,
        }
    }
}

/// A decoded policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) expiration: SystemTime,
    pub(crate) conditions: Vec<Condition>,
}

/// Decodes a base64 policy; `None` if it is not base64, not JSON, or not a policy.
pub(crate) fn decode(policy_base64: &str) -> Option<Policy> {
    let bytes = crate::b64::decode(policy_base64)?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    let expiration = crate::clock::parse_iso8601(value.get("expiration")?.as_str()?)?;
    let mut conditions = Vec::new();
    for condition in value.get("conditions")?.as_array()? {
        conditions.push(match condition {
            Value::Object(map) if map.len() == 1 => {
                let (name, value) = map.iter().next()?;
                Condition::Eq {
                    name: name.clone(),
                    value: value.as_str()?.to_string(),
                }
            }
            Value::Array(items) if items.len() == 3 => {
                let op = items[0].as_str()?.to_ascii_lowercase();
                if op == "content-length-range" {
                    Condition::LengthRange {
                        min: number(&items[1])?,
                        max: number(&items[2])?,
                    }
                } else {
                    let name = items[1].as_str()?.strip_prefix('$')?.to_string();
                    let value = items[2].as_str()?.to_string();
                    match op.as_str() {
                        "eq" => Condition::Eq { name, value },
                        "starts-with" => Condition::StartsWith {
                            name,
                            prefix: value,
                        },
                        _ => return None,
                    }
                }
            }
            _ => return None,
        });
    }
    Some(Policy {
        expiration,
        conditions,
    })
}

/// A non-negative integer, as a JSON number or a string of digits.
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix_seconds;
    use crate::sigv4::SigV4Signer;

    fn credentials(secret: &str) -> Credentials {
        Credentials {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: secret.into(),
            region: "us-east-1".into(),
        }
    }

    fn signer(secret: &str) -> SigV4Signer {
        SigV4Signer {
            endpoint: "http://127.0.0.1:1".into(),
            bucket: BUCKET.into(),
            credentials: credentials(secret),
        }
    }

    fn sample() -> PolicyFields {
        PolicyFields::new(
            "f/606/0123456789/mars.jpg".into(),
            "public-read",
            "image/jpeg".into(),
            (
                from_unix_seconds(1_757_078_484), // 2025-09-05T13:21:24Z
                from_unix_seconds(1_757_078_484 + 600),
            ),
            5_242_879_999,
            &signer("secret"),
        )
    }

    #[test]
    fn policy_json_matches_storyblok_order() {
        let p = sample();
        assert_eq!(
            p.policy_json(),
            "{\"expiration\":\"2025-09-05T13:31:24Z\",\"conditions\":[\
             {\"bucket\":\"a.storyblok.com\"},{\"acl\":\"public-read\"},\
             {\"Cache-Control\":\"public, max-age=31536000\"},{\"Content-Type\":\"image/jpeg\"},\
             {\"key\":\"f/606/0123456789/mars.jpg\"},{\"Expires\":\"Fri, 05 Sep 2025 13:31:24 GMT\"},\
             [\"content-length-range\",1,5242879999],\
             {\"x-amz-credential\":\"AKIDEXAMPLE/20250905/us-east-1/s3/aws4_request\"},\
             {\"x-amz-algorithm\":\"AWS4-HMAC-SHA256\"},{\"x-amz-date\":\"20250905T132124Z\"}]}"
        );
    }

    #[test]
    fn fields_order_and_round_trip() {
        let p = sample();
        let secret = credentials("secret");
        let fields = p.form_fields(&signer("secret"));
        let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "key",
                "acl",
                "Expires",
                "Cache-Control",
                "Content-Type",
                "policy",
                "x-amz-credential",
                "x-amz-algorithm",
                "x-amz-date",
                "x-amz-signature"
            ]
        );
        let policy = &fields[5].1;
        assert_eq!(
            fields[9].1,
            crate::sigv4::policy_signature("secret", "20250905", "us-east-1", policy)
        );
        assert_eq!(fields[9].1.len(), 64);
        assert_ne!(
            fields[9].1,
            signature(&credentials("other"), "20250905", policy)
        );
        assert_ne!(fields[9].1, signature(&secret, "20250906", policy));
        let decoded = decode(policy).expect("decodes");
        assert_eq!(decoded.expiration, from_unix_seconds(1_757_078_484 + 600));
        assert_eq!(decoded.conditions.len(), 10);
        assert_eq!(
            decoded.conditions[0],
            Condition::Eq {
                name: "bucket".into(),
                value: BUCKET.into()
            }
        );
        assert_eq!(
            decoded.conditions[6],
            Condition::LengthRange {
                min: 1,
                max: 5_242_879_999
            }
        );
    }

    #[test]
    fn decodes_array_conditions() {
        let json = r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[["eq","$key","k"],["starts-with","$Content-Type","image/"],["content-length-range","0","10"]]}"#;
        let p = decode(&crate::b64::encode(json.as_bytes())).expect("decodes");
        assert_eq!(
            p.conditions,
            [
                Condition::Eq {
                    name: "key".into(),
                    value: "k".into()
                },
                Condition::StartsWith {
                    name: "Content-Type".into(),
                    prefix: "image/".into()
                },
                Condition::LengthRange { min: 0, max: 10 },
            ]
        );
    }

    #[test]
    fn rejects_bad_policies() {
        assert_eq!(decode("!!!"), None);
        assert_eq!(decode(&crate::b64::encode(b"not json")), None);
        assert_eq!(decode(&crate::b64::encode(b"{\"conditions\":[]}")), None);
        let bad_op = r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["in","$key","k"]]}"#;
        assert_eq!(decode(&crate::b64::encode(bad_op.as_bytes())), None);
    }

    #[test]
    fn credentials_parse() {
        assert_eq!(
            parse_credential("AKID/20250905/us-east-1/s3/aws4_request"),
            Some(Scope {
                access_key: "AKID",
                day: "20250905",
                region: "us-east-1"
            })
        );
        for bad in [
            "",
            "AKID/20250905/us-east-1/s3",
            "AKID/20250905/us-east-1/s3/aws4_request/x",
            "AKID/2025090/us-east-1/s3/aws4_request",
            "AKID/2025090X/us-east-1/s3/aws4_request",
            "AKID/20250905/us-east-1/iam/aws4_request",
            "/20250905/us-east-1/s3/aws4_request",
            "AKID/20250905//s3/aws4_request",
        ] {
            assert_eq!(parse_credential(bad), None, "{bad}");
        }
    }
}
