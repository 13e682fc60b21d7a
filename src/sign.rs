//! Step 1, sign: `POST /v1/spaces/{space}/assets/` creates the asset record and returns
//! a signed S3 form. Its state is [`SignedUpload`].

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::asset::cdn_url;
use crate::codec::clock;
use crate::error::{Error, Record, Step};
use crate::mapi::{self, Method};
use crate::params::AssetParams;
use crate::s3::policy::{self, PolicyLimits};
use crate::session::Session;

/// A signed upload: the asset record exists and S3 is waiting for the file.
///
/// Made by [`Client::sign`](crate::Client::sign); its one way on is
/// [`SignedUpload::upload`], which consumes it. The signature is valid for about 10
/// minutes ([`SignedUpload::expires_at`]); an upload that starts later signs again for the
/// same asset first.
pub struct SignedUpload {
    pub(crate) session: Arc<Session>,
    pub(crate) space_id: u64,
    /// What was asked for; a new signature for the same asset asks for it again.
    pub(crate) params: AssetParams,
    pub(crate) signature: Signature,
}

/// What one sign call gave.
pub(crate) struct Signature {
    pub(crate) asset_id: u64,
    pub(crate) post_url: String,
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) public_url: Option<String>,
    pub(crate) pretty_url: Option<String>,
    pub(crate) limits: PolicyLimits,
    /// When the policy expires by this machine's monotonic clock: the policy's lifetime
    /// (`expiration` minus `x-amz-date`, both the server's clock) counted from when the
    /// answer arrived, so a wrong local clock does not matter.
    pub(crate) deadline: Option<Instant>,
}

/// Step 1: the sign call, and the state it leads to.
pub(crate) fn sign(
    session: Arc<Session>,
    space_id: u64,
    params: AssetParams,
) -> Result<SignedUpload, Error> {
    let signature = signature(&session, space_id, &params)?;
    Ok(SignedUpload {
        session,
        space_id,
        params,
        signature,
    })
}

/// The sign call: sends `params`, checks and reads the answer.
pub(crate) fn signature(
    session: &Session,
    space_id: u64,
    params: &AssetParams,
) -> Result<Signature, Error> {
    let body = params.to_json()?;
    let replaces = params.replaces();
    mapi::call(
        session,
        Step::Sign,
        space_id,
        replaces,
        Method::Post(body),
        "/assets/",
    )
    .and_then(|reply| read_answer(session, replaces, reply.status, &reply.body))
    .map_err(|error| {
        // A new record exists once the answer named it, even if the rest is unusable or
        // broke off (a 2xx whose body could not be read whole is an error with what came).
        let broken_off = || {
            error
                .status()
                .filter(|status| (200..300).contains(status))
                .and(error.body())
                .and_then(id_in_prefix)
        };
        match error
            .asset_id()
            .or_else(broken_off)
            .filter(|_| replaces.is_none())
        {
            Some(id) => crate::delete::abandon(session, space_id, Record::New(id), error),
            None => error,
        }
    })
}

/// Reads and checks a sign answer; every error names the asset once the answer did.
fn read_answer(
    session: &Session,
    replaces: Option<u64>,
    status: u16,
    text: &str,
) -> Result<Signature, Error> {
    let received = Instant::now();
    let unexpected = |asset_id: Option<u64>, message: String| {
        let error = Error::unexpected(status, message, text).at(Step::Sign);
        match asset_id {
            Some(id) => error.record(Record::of_upload(id, replaces)),
            None => error,
        }
    };
    // An answer that is not a whole sign response (a body over the read limit is cut
    // short) may still name the record: its id is read on its own from as much of the
    // answer as arrived, so that the error names it.
    let signed: SignResponse = serde_json::from_str(text).map_err(|e| {
        unexpected(
            id_in_prefix(text).or(replaces),
            format!("not a sign response: {e}"),
        )
    })?;
    let asset_id = signed.id;
    if let Some(wanted) = replaces.filter(|&wanted| wanted != asset_id) {
        return Err(unexpected(
            Some(asset_id),
            format!("asked to replace asset {wanted}, but Storyblok signed asset {asset_id}"),
        ));
    }
    // Plain http to a loopback S3 is for a local stand-in, so only with a local API too.
    if !crate::url::is_allowed_from(&signed.post_url, session.base.is_loopback()) {
        return Err(crate::url::refusal(&signed.post_url)
            .at(Step::Sign)
            .record(Record::of_upload(asset_id, replaces)));
    }
    let fields = signed.fields.0;
    let field = |name: &str| find_field(&fields, name);
    let limits = field("policy").map(policy::read).unwrap_or_default();
    let deadline = limits.expires_at.map(|expires| {
        let lifetime = match field("x-amz-date").and_then(clock::parse_amz_date) {
            Some(signed_at) => expires.duration_since(signed_at),
            None => expires.duration_since(SystemTime::now()),
        };
        received + lifetime.unwrap_or(Duration::ZERO)
    });
    Ok(Signature {
        asset_id,
        post_url: signed.post_url,
        fields,
        public_url: signed.public_url,
        pretty_url: signed.pretty_url,
        limits,
        deadline,
    })
}

/// The top-level `"id"` of a JSON object, read from the start of `text` for as far as it is
/// well-formed: the id is found even when the answer was cut short after it, and only then
/// (an answer that broke off inside `"id": 123` reads as no id, not as `12`).
fn id_in_prefix(text: &str) -> Option<u64> {
    struct TopLevelId<'a>(&'a std::cell::Cell<Option<u64>>);
    impl<'de> de::DeserializeSeed<'de> for TopLevelId<'_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for TopLevelId<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == "id" {
                    self.0.set(map.next_value::<Option<u64>>()?);
                } else {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }
    // A value is whole once a `,` or `}` follows it: read no further than the last one.
    let text = &text[..=text.rfind([',', '}'])?];
    let found = std::cell::Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // An error after the id (a cut-off body) leaves what was found.
    let _ = de::DeserializeSeed::deserialize(TopLevelId(&found), &mut deserializer);
    found.get()
}

/// The value of the signed field `name`.
fn find_field<'f>(fields: &'f [(String, String)], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

impl SignedUpload {
    /// The asset's id: the record exists from now on.
    pub fn asset_id(&self) -> u64 {
        self.signature.asset_id
    }

    /// The space the asset belongs to.
    pub fn space_id(&self) -> u64 {
        self.space_id
    }

    /// Where the file goes: S3's form endpoint (`post_url`).
    pub fn post_url(&self) -> &str {
        &self.signature.post_url
    }

    /// The signed form fields, in the order Storyblok sent them. They are sent verbatim.
    pub fn fields(&self) -> &[(String, String)] {
        &self.signature.fields
    }

    /// One signed field's value, such as `key` or `Content-Type`.
    pub fn field(&self, name: &str) -> Option<&str> {
        find_field(&self.signature.fields, name)
    }

    /// The file's public URL as Storyblok gave it (`public_url`, usually a raw S3 URL).
    pub fn public_url(&self) -> Option<&str> {
        self.signature.public_url.as_deref()
    }

    /// The CDN URL the asset will have, `https://a.storyblok.com/f/…`.
    pub fn cdn_url(&self) -> Option<String> {
        self.signature
            .pretty_url
            .as_deref()
            .or(self.signature.public_url.as_deref())
            .map(cdn_url)
    }

    /// When the signature expires, as the signed policy says (the server's clock).
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.signature.limits.expires_at
    }

    /// The file sizes, in bytes, the signed policy allows (`content-length-range`).
    pub fn content_length_range(&self) -> Option<RangeInclusive<u64>> {
        self.signature.limits.content_length.clone()
    }
}

impl fmt::Debug for SignedUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.fields().iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("SignedUpload")
            .field("space_id", &self.space_id)
            .field("asset_id", &self.asset_id())
            .field("post_url", &self.post_url())
            .field("fields", &names)
            .field("expires_at", &self.expires_at())
            .field("content_length", &self.signature.limits.content_length)
            .finish_non_exhaustive()
    }
}

/// The sign answer, the [signed response object]. Unknown fields are ignored.
///
/// [signed response object]: https://www.storyblok.com/docs/api/management/assets/signed-response-object
#[derive(Deserialize)]
struct SignResponse {
    id: u64,
    #[serde(default)]
    pretty_url: Option<String>,
    #[serde(default)]
    public_url: Option<String>,
    post_url: String,
    fields: OrderedFields,
}

/// `fields` as pairs in document order: S3 needs them verbatim, and serde_json's own map
/// would sort them. Numbers and booleans are kept as their JSON text.
struct OrderedFields(Vec<(String, String)>);

impl<'de> Deserialize<'de> for OrderedFields {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = OrderedFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string fields")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedFields, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(10));
                while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
                    let value = match value {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Bool(b) => b.to_string(),
                        other => {
                            return Err(de::Error::custom(format!(
                                "field {name:?} is not a string: {other}"
                            )));
                        }
                    };
                    fields.push((name, value));
                }
                Ok(OrderedFields(fields))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_field_order_and_text() {
        let json = r#"{"id": 5, "post_url": "https://s3.amazonaws.com/a.storyblok.com",
            "fields": {"key": "f/1/a.png", "acl": "public-read", "Expires": "x",
            "Cache-Control": "c", "Content-Type": "image/png", "policy": "p", "n": 7, "b": true},
            "meta_data": []}"#;
        let response: SignResponse = serde_json::from_str(json).expect("parses");
        let names: Vec<&str> = response.fields.0.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "key",
                "acl",
                "Expires",
                "Cache-Control",
                "Content-Type",
                "policy",
                "n",
                "b"
            ]
        );
        assert_eq!(response.fields.0[6].1, "7");
        assert_eq!(response.fields.0[7].1, "true");
        assert_eq!(response.pretty_url, None);
    }

    #[test]
    fn finds_the_id_in_a_cut_off_answer() {
        let whole = r#"{"pretty_url": "//a", "id": 42, "fields": {"id": 7}}"#;
        assert_eq!(id_in_prefix(whole), Some(42));
        let cut = &format!(r#"{{"id": 42, "meta_data": {{"x": "{}"#, "y".repeat(100))[..];
        assert_eq!(id_in_prefix(cut), Some(42));
        assert_eq!(id_in_prefix(r#"{"fields": {"id": 7}, "post_url": "#), None);
        assert_eq!(id_in_prefix("not json"), None);
        assert_eq!(id_in_prefix(r#"{"id": "42"}"#), None);
        assert_eq!(id_in_prefix("[1, 2]"), None);
        // Cut inside the id, or just after it: not another asset's id.
        assert_eq!(id_in_prefix(r#"{"id": 12"#), None);
        assert_eq!(id_in_prefix(r#"{"id": 123 "#), None);
        assert_eq!(id_in_prefix(r#"{"id": 123,"#), Some(123));
        assert_eq!(id_in_prefix(r#"{"id": 123}"#), Some(123));
    }

    #[test]
    fn refuses_nested_field_values() {
        let json = r#"{"id": 5, "post_url": "https://x", "fields": {"key": {"a": 1}}}"#;
        assert!(serde_json::from_str::<SignResponse>(json).is_err());
        let no_id = r#"{"post_url": "https://x", "fields": {}}"#;
        assert!(serde_json::from_str::<SignResponse>(no_id).is_err());
    }
}
