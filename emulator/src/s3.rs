//! The S3 browser-POST (POST Object) handler: the checks S3 makes, in its order, and its XML
//! errors.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use super::http::{Head, Request, Response};
use super::multipart::{self, Part};
use super::policy::{self, BUCKET, Condition, json_str};
use crate::clock::unix_seconds;
use crate::sigv4::Credentials;
use crate::state::State;
use crate::store::{ObjectRecord, etag};
use crate::{FormPart, RecordedForm};

/// The most bytes allowed before the file's content.
const MAX_PRE_DATA: usize = 20 * 1024;

/// Escapes text for an XML element's content (quotes need no escaping there, and S3
/// leaves them as they are).
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// An AWS-style request id (16 upper-case hex digits) and host id (base64 of 24 bytes).
fn request_ids() -> (String, String) {
    let request_id = format!("{:016X}", crate::random::next_u64());
    let host: Vec<u8> = (0..3)
        .flat_map(|_| crate::random::next_u64().to_be_bytes())
        .collect();
    (request_id, crate::b64::encode(&host))
}

/// The quoted ETag of an object's bytes (32 hex digits, like S3's MD5; here from SHA-256).
/// An S3 XML error response.
pub(crate) fn xml_error(status: u16, code: &str, message: &str) -> Response {
    let (request_id, host_id) = request_ids();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
         <RequestId>{}</RequestId><HostId>{}</HostId></Error>",
        xml_escape(code),
        xml_escape(message),
        request_id,
        xml_escape(&host_id),
    );
    let mut response = Response::new(status, "application/xml", body);
    response
        .headers
        .push(("x-amz-request-id".into(), request_id));
    response.headers.push(("x-amz-id-2".into(), host_id));
    response
}

/// The answer to a path that is neither the API nor the bucket.
pub(crate) fn not_found(target: &str) -> Response {
    let path = target.split('?').next().unwrap_or_default();
    let bucket = path.trim_matches('/').split('/').next().unwrap_or_default();
    if bucket.is_empty() || bucket == BUCKET {
        xml_error(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )
    } else {
        xml_error(404, "NoSuchBucket", "The specified bucket does not exist")
    }
}

/// The checks S3 makes on the head of a POST Object, before reading its body: no
/// `Authorization` header, and an exact `Content-Length` (a chunked upload is refused here,
/// unread).
pub(crate) fn check_upload_head(head: &Head) -> Option<Response> {
    if head.header("authorization").is_some() {
        return Some(xml_error(
            400,
            "InvalidArgument",
            "POST requires exactly one form of authentication; the Authorization header \
             must not be sent with a browser POST",
        ));
    }
    if head.content_length.is_none() {
        return Some(xml_error(
            411,
            "MissingContentLength",
            "You must provide the Content-Length HTTP header.",
        ));
    }
    None
}

/// The answer to an upload whose body is longer than the emulator accepts
/// ([`EmulatorBuilder::max_body`](crate::EmulatorBuilder::max_body)).
pub(crate) fn too_large(max_body: u64) -> Response {
    xml_error(
        413,
        "MaxMessageLengthExceeded",
        &format!("Your request was too big: this emulator accepts at most {max_body} bytes."),
    )
}

/// Handles `POST /a.storyblok.com` once its head passed [`check_upload_head`]; returns the
/// response and the form, when it parsed.
pub(crate) fn handle(state: &State, request: Request) -> (Response, Option<RecordedForm>) {
    let malformed = || {
        xml_error(
            400,
            "MalformedPOSTRequest",
            "The body of your POST request is not well-formed multipart/form-data.",
        )
    };
    let Some(boundary) = request.header("content-type").and_then(multipart::boundary) else {
        return (malformed(), None);
    };
    let Ok(parts) = multipart::parse(&request.body, &boundary) else {
        return (malformed(), None);
    };
    let form = RecordedForm {
        parts: parts
            .iter()
            .map(|p| {
                let value = p.value(&request.body);
                FormPart {
                    name: p.name.clone(),
                    filename: p.filename.clone(),
                    content_type: p.content_type.clone(),
                    value: if value.len() <= crate::RECORDED_BODY_LIMIT {
                        value.to_vec()
                    } else {
                        Vec::new()
                    },
                    length: value.len() as u64,
                }
            })
            .collect(),
    };
    let response = check_and_store(state, &parts, request.body);
    (response, Some(form))
}

/// Checks 4 to 10 of the POST, on a parsed form.
fn check_and_store(state: &State, parts: &[Part], body: Vec<u8>) -> Response {
    let files: Vec<usize> = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name == "file")
        .map(|(i, _)| i)
        .collect();
    if let Some(&first) = files.first() {
        if parts[first].range.start > MAX_PRE_DATA {
            return xml_error(
                400,
                "MaxPostPreDataLengthExceeded",
                "Your POST request fields preceeding the upload file was too large.",
            );
        }
    }
    let [file_index] = files.as_slice() else {
        return xml_error(
            400,
            "InvalidArgument",
            "POST requires exactly one file upload per request.",
        );
    };
    if *file_index + 1 != parts.len() {
        return xml_error(
            400,
            "InvalidArgument",
            "Form fields after the file part are ignored by S3; the file must be the last part.",
        );
    }
    let file = &parts[*file_index];
    let fields: Vec<(&str, String)> = parts[..*file_index]
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                String::from_utf8_lossy(p.value(&body)).into_owned(),
            )
        })
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    };

    if field("x-amz-date").is_some_and(|d| crate::clock::parse_amz_date(d).is_none()) {
        return xml_error(
            400,
            "InvalidArgument",
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        );
    }
    let Some(policy_text) = field("policy") else {
        return xml_error(
            400,
            "InvalidPolicyDocument",
            "Bucket POST must contain a field named 'policy'.",
        );
    };
    let Some(policy) = policy::decode(policy_text) else {
        return xml_error(
            400,
            "InvalidPolicyDocument",
            "Invalid Policy: Invalid JSON.",
        );
    };
    if let Err(response) = verify_signature(&state.config.credentials, &field, policy_text) {
        return response;
    }
    if unix_seconds(SystemTime::now()) > unix_seconds(policy.expiration) {
        return xml_error(
            403,
            "AccessDenied",
            "Invalid according to Policy: Policy expired.",
        );
    }

    let mut seen = HashSet::new();
    for (name, _) in &fields {
        if !seen.insert(*name) {
            return xml_error(
                400,
                "InvalidArgument",
                &format!("Duplicate form field: {name}"),
            );
        }
    }
    for condition in &policy.conditions {
        let (op, name, expected, ok) = match condition {
            Condition::Eq { name, value } => {
                let actual = if name == "bucket" {
                    Some(BUCKET)
                } else {
                    field(name)
                };
                ("eq", name, value, actual == Some(value.as_str()))
            }
            Condition::StartsWith { name, prefix } => {
                let ok = field(name).is_some_and(|v| v.starts_with(prefix.as_str()));
                ("starts-with", name, prefix, ok)
            }
            Condition::LengthRange { .. } => continue,
        };
        if !ok {
            return xml_error(
                403,
                "AccessDenied",
                &format!(
                    "Invalid according to Policy: Policy Condition failed: [{}, {}, {}]",
                    json_str(op),
                    json_str(&format!("${name}")),
                    json_str(expected)
                ),
            );
        }
    }
    let named: HashSet<&str> = policy
        .conditions
        .iter()
        .filter_map(Condition::field)
        .collect();
    for (name, _) in &fields {
        let exempt = matches!(*name, "policy" | "x-amz-signature" | "file")
            || name.to_ascii_lowercase().starts_with("x-ignore-");
        if !exempt && !named.contains(name) {
            return xml_error(
                403,
                "AccessDenied",
                &format!("Invalid according to Policy: Extra input fields: {name}"),
            );
        }
    }
    let size = file.range.len() as u64;
    for condition in &policy.conditions {
        if let Condition::LengthRange { min, max } = condition {
            if size < *min {
                return xml_error(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                );
            }
            if size > *max {
                return xml_error(
                    400,
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                );
            }
        }
    }

    let Some(key) = field("key") else {
        return xml_error(
            400,
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.  If it is specified, please check \
             the order of the fields.",
        );
    };
    let key = key.replace("${filename}", file.filename.as_deref().unwrap_or_default());
    let range = file.range.clone();
    let etag = etag(body.get(range.clone()).unwrap_or_default());
    // The file's bytes become the object in place: no copy of a large upload.
    let mut bytes = body;
    bytes.truncate(range.end);
    bytes.drain(..range.start.min(range.end));
    let object = ObjectRecord {
        etag: etag.clone(),
        stored_time: SystemTime::now(),
        bytes: Arc::new(bytes),
        content_type: field("Content-Type")
            .unwrap_or("binary/octet-stream")
            .to_string(),
        cache_control: field("Cache-Control").unwrap_or_default().to_string(),
        acl: field("acl").unwrap_or("private").to_string(),
        stored_at: 0,
    };
    {
        let mut inner = state.lock();
        let stored_at = inner.ids.next_event();
        inner.objects.insert(
            key,
            ObjectRecord {
                stored_at,
                ..object
            },
        );
    }
    let (request_id, host_id) = request_ids();
    let mut response = Response::empty(204);
    response.headers = vec![
        ("ETag".into(), etag),
        ("x-amz-request-id".into(), request_id),
        ("x-amz-id-2".into(), host_id),
    ];
    response
}

/// `GET` (or `HEAD`, whose body the HTTP layer drops) `/a.storyblok.com/{key}`: the object's
/// exact bytes with its Content-Type, as S3's GET Object and the CDN serve a public file. No
/// authentication is checked: an object uploaded with a `private` acl, or one that belongs to
/// an asset made private since, gets `403 AccessDenied`; a missing one `404 NoSuchKey`.
pub(crate) fn download(state: &State, key: &str) -> Response {
    let inner = state.lock();
    let Some(object) = inner.objects.get(key) else {
        return xml_error(404, "NoSuchKey", "The specified key does not exist.");
    };
    let public = object.acl.starts_with("public-read");
    let private_asset = inner
        .spaces
        .values()
        .flat_map(|library| library.assets.values())
        .any(|record| record.asset.key == key && record.asset.is_private);
    if !public || private_asset {
        return xml_error(403, "AccessDenied", "Access Denied");
    }
    let (request_id, host_id) = request_ids();
    let mut headers = vec![("Content-Type".into(), object.content_type.clone())];
    if !object.cache_control.is_empty() {
        headers.push(("Cache-Control".into(), object.cache_control.clone()));
    }
    headers.extend([
        ("ETag".into(), object.etag.clone()),
        (
            "Last-Modified".into(),
            crate::clock::format_http_date(object.stored_time),
        ),
        ("x-amz-request-id".into(), request_id),
        ("x-amz-id-2".into(), host_id),
    ]);
    Response {
        status: 200,
        headers,
        body: Arc::clone(&object.bytes),
        head_only: false,
        drip: None,
        cut: false,
    }
}

/// Checks the SigV4 fields of a POST: the algorithm, the credential (this emulator's access
/// key and region) and the signature, recomputed from the credential's day and the policy.
fn verify_signature<'a>(
    credentials: &Credentials,
    field: &impl Fn(&str) -> Option<&'a str>,
    policy_text: &str,
) -> Result<(), Response> {
    if field("x-amz-algorithm") != Some(policy::ALGORITHM) {
        return Err(xml_error(
            400,
            "InvalidArgument",
            "Bucket POST must contain a field named 'x-amz-algorithm' with the value \
             AWS4-HMAC-SHA256.",
        ));
    }
    let Some(credential) = field("x-amz-credential") else {
        return Err(xml_error(
            400,
            "InvalidArgument",
            "Bucket POST must contain a field named 'x-amz-credential'.  If it is specified, \
             please check the order of the fields.",
        ));
    };
    let Some(scope) = policy::parse_credential(credential) else {
        return Err(xml_error(
            400,
            "AuthorizationQueryParametersError",
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; \
             expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        ));
    };
    if scope.access_key != credentials.access_key {
        return Err(xml_error(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ));
    }
    if scope.region != credentials.region {
        return Err(xml_error(
            400,
            "AuthorizationQueryParametersError",
            &format!(
                "Error parsing the X-Amz-Credential parameter; the region '{}' is wrong; \
                 expecting '{}'",
                scope.region, credentials.region
            ),
        ));
    }
    let expected = policy::signature(credentials, scope.day, policy_text);
    if field("x-amz-signature") != Some(expected.as_str()) {
        return Err(xml_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_xml() {
        assert_eq!(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;\"c'");
    }

    #[test]
    fn error_shape() {
        let r = xml_error(403, "AccessDenied", "Invalid according to Policy: <x>");
        let body = String::from_utf8(r.body.to_vec()).expect("utf8");
        assert!(body.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
             <Message>Invalid according to Policy: &lt;x&gt;</Message><RequestId>"
        ));
        assert!(body.ends_with("</HostId></Error>"));
        assert_eq!(r.status, 403);
        let (request_id, host_id) = request_ids();
        assert_eq!(request_id.len(), 16);
        assert!(
            request_id
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        );
        assert_eq!(crate::b64::decode(&host_id).map(|b| b.len()), Some(24));
        assert_ne!(request_ids().0, request_id);
    }
}
