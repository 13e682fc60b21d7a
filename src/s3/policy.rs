//! What the SDK reads from a signed S3 POST policy before it uploads.
//!
//! The policy (base64 JSON in the signed field `policy`) says until when the signature holds
//! and how large the file may be. Reading both lets the SDK refuse a file S3 would refuse,
//! without spending the upload. A policy that cannot be read is not an error: S3 judges.

use std::ops::RangeInclusive;
use std::time::SystemTime;

use serde_json::Value;

use crate::codec::{base64, clock};

/// The two facts the SDK takes from a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PolicyLimits {
    /// The policy's `expiration`.
    pub(crate) expires_at: Option<SystemTime>,
    /// The `content-length-range` condition.
    pub(crate) content_length: Option<RangeInclusive<u64>>,
}

/// Reads the limits from the base64 `policy` field; unknown parts are left out.
pub(crate) fn read(encoded: &str) -> PolicyLimits {
    let Some(policy) =
        base64::decode(encoded).and_then(|json| serde_json::from_slice::<Value>(&json).ok())
    else {
        return PolicyLimits::default();
    };
    let expires_at = policy
        .get("expiration")
        .and_then(Value::as_str)
        .and_then(clock::parse_iso8601);
    let content_length = policy
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|conditions| conditions.iter().find_map(length_range));
    PolicyLimits {
        expires_at,
        content_length,
    }
}

/// `["content-length-range", min, max]`, with numbers or numeric strings.
fn length_range(condition: &Value) -> Option<RangeInclusive<u64>> {
    let items = condition.as_array()?;
    let [name, min, max] = items.as_slice() else {
        return None;
    };
    if !name.as_str()?.eq_ignore_ascii_case("content-length-range") {
        return None;
    }
    let number = |v: &Value| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    };
    let (min, max) = (number(min)?, number(max)?);
    (min <= max).then_some(min..=max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(json: &str) -> String {
        base64::encode(json.as_bytes())
    }

    #[test]
    fn reads_storyblok_shaped_policy() {
        let policy = encode(
            r#"{"expiration":"2025-09-05T13:41:24Z","conditions":[{"bucket":"a.storyblok.com"},
            {"acl":"public-read"},["content-length-range",1,5242879999],{"x-amz-date":"20250905T133124Z"}]}"#,
        );
        let limits = read(&policy);
        assert_eq!(limits.content_length, Some(1..=5_242_879_999));
        assert_eq!(
            limits.expires_at.map(clock::unix_seconds),
            Some(1_757_079_684)
        );
    }

    #[test]
    fn string_bounds_and_missing_parts() {
        let limits = read(&encode(
            r#"{"conditions":[["Content-Length-Range","10","20"]]}"#,
        ));
        assert_eq!(limits.content_length, Some(10..=20));
        assert_eq!(limits.expires_at, None);
    }

    #[test]
    fn unreadable_policies_give_nothing() {
        for bad in [
            "not base64!".to_owned(),
            encode("not json"),
            encode(r#"{"conditions":[["content-length-range",5,1]]}"#),
            encode(r#"{"conditions":[["content-length-range",-1,5]]}"#),
            encode(r#"{"conditions":"x","expiration":42}"#),
        ] {
            assert_eq!(read(&bad), PolicyLimits::default(), "{bad}");
        }
    }
}
