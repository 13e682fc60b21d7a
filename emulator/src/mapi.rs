//! The Management API handlers: sign, finish, delete, get; authentication and rate limits.

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::http::{Request, Response};
use super::policy::{self, BUCKET, PolicyFields, json_str, ordered_object};
use crate::clock::{format_iso8601, from_unix_seconds, unix_seconds};
use crate::fault::SignFault;
use crate::route::Route;
use crate::state::{Config, State};
use crate::store::AssetRecord;
use crate::{FinishShape, StoredAsset};

const JSON: &str = "application/json; charset=utf-8";
const NOT_FOUND: &str = r#"["This record could not be found"]"#;

fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
    Response::new(status, JSON, body)
}

fn not_found() -> Response {
    json(404, NOT_FOUND)
}

fn error(status: u16, message: &str) -> Response {
    json(status, format!("{{\"error\":{}}}", json_str(message)))
}

/// Fixed one-second windows, aligned to whole Unix seconds, per space.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    windows: HashMap<u64, (u64, u32)>,
}

impl RateLimiter {
    /// Counts a request for `space` in the window of Unix second `second`; `false` if the
    /// window already holds `limit` requests (the refused request is not counted).
    pub(crate) fn admit(&mut self, space: u64, second: u64, limit: u32) -> bool {
        let window = self.windows.entry(space).or_insert((second, 0));
        if window.0 != second {
            *window = (second, 0);
        }
        if window.1 >= limit {
            return false;
        }
        window.1 += 1;
        true
    }
}

/// The space a route names, as a number (0 when it names none or not a number).
fn route_space(route: &Route) -> u64 {
    match route {
        Route::Sign { space }
        | Route::Finish { space, .. }
        | Route::Delete { space, .. }
        | Route::Get { space, .. }
        | Route::OtherMapi { space: Some(space) } => space.parse().unwrap_or(0),
        _ => 0,
    }
}

/// Storyblok's 429 body.
fn too_many(limit: impl std::fmt::Display) -> Response {
    error(
        429,
        &format!("Rate limit of {limit} request per second has been reached. Retry later."),
    )
}

/// The 429 a request gets, if any: when it is over the cap of requests in flight, or over the
/// rate limit of its space's one-second window.
pub(crate) fn refuse(state: &State, route: &Route, over_in_flight: bool) -> Option<Response> {
    let config = &state.config;
    let Some(limit) = config.rate_limit else {
        return over_in_flight.then(|| too_many(config.max_in_flight));
    };
    if over_in_flight {
        return Some(too_many(limit));
    }
    let second = unix_seconds(SystemTime::now());
    let admitted = state.lock().rate.admit(route_space(route), second, limit);
    (!admitted).then(|| too_many(limit))
}

/// Whether the headers carry the personal access token, or the OAuth token as a bearer token.
pub(crate) fn authorized(config: &Config, headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .find(|(name, _)| name == "authorization")
        .is_some_and(|(_, auth)| {
            *auth == config.token
                || auth
                    .strip_prefix("Bearer ")
                    .is_some_and(|t| t == config.oauth_token)
        })
}

/// Storyblok's 401 body.
pub(crate) fn unauthorized() -> Response {
    error(401, "Unauthorized")
}

/// The answer to a body longer than [`crate::MAX_MAPI_BODY`].
pub(crate) fn too_large() -> Response {
    error(
        413,
        &format!(
            "Request body too large: at most {} bytes are accepted",
            crate::MAX_MAPI_BODY
        ),
    )
}

/// Handles an authorized request routed to the Management API.
pub(crate) fn handle(
    state: &State,
    route: &Route,
    request: &Request,
    sign_fault: SignFault,
) -> Response {
    let config = &state.config;
    let space_ok = |space: &str| space.parse::<u64>().ok() == Some(config.space_id);
    match route {
        Route::Sign { space } if space_ok(space) => sign(state, request, sign_fault),
        Route::Finish { space, id } if space_ok(space) => finish(state, id),
        Route::Delete { space, id } if space_ok(space) => delete(state, id),
        Route::Get { space, id } if space_ok(space) => get(state, id),
        _ => not_found(),
    }
}

/// The sign parameters: the query string's, overlaid with the body's.
fn params(request: &Request) -> Result<Map<String, Value>, Response> {
    let mut params = Map::new();
    if let Some((_, query)) = request.target.split_once('?') {
        params.extend(form_urlencoded(query));
    }
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(params);
    }
    let content_type = request.header("content-type").unwrap_or_default();
    if content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        params.extend(form_urlencoded(&String::from_utf8_lossy(&request.body)));
        return Ok(params);
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(body)) => {
            params.extend(body);
            Ok(params)
        }
        _ => Err(error(400, "The request body is not a valid JSON object")),
    }
}

/// `a=1&b=x+y` as string values (percent-decoded, `+` as space). Bracketed names such as
/// `meta_data[k]` are kept verbatim.
fn form_urlencoded(query: &str) -> Vec<(String, Value)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), Value::String(percent_decode(value)))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An optional id: absent, null or `""` is `None`; a number or a string of digits is the id;
/// anything else is an error.
fn param_id(params: &Map<String, Value>, name: &str) -> Result<Option<u64>, ()> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| ()),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(()),
        Some(_) => Err(()),
    }
}

/// An optional boolean: `true`/`false`, `1`/`0`, as JSON or as a string.
fn param_bool(params: &Map<String, Value>, name: &str) -> Option<bool> {
    match params.get(name)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_f64().is_some_and(|n| n != 0.0)),
        Value::String(s) => Some(matches!(s.trim(), "1" | "true" | "TRUE" | "True")),
        Value::Null => Some(false),
        _ => None,
    }
}

/// An optional text: `Some(None)` when sent as null (which clears it on replace).
fn param_text(params: &Map<String, Value>, name: &str) -> Option<Option<String>> {
    match params.get(name)? {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        other => Some(Some(other.to_string())),
    }
}

/// Storyblok's file-name parameterization: lower-case, every `.` but the last becomes `_`,
/// anything outside `[a-z0-9._-]` becomes `-` (runs collapsed, trimmed at both ends).
pub(crate) fn parameterize(filename: &str) -> String {
    let lower = filename.to_lowercase();
    let last_dot = lower.rfind('.');
    let mut out = String::with_capacity(lower.len());
    for (i, c) in lower.char_indices() {
        let c = match c {
            '.' if Some(i) != last_dot => '_',
            'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '-',
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_matches('-');
    if out.is_empty() || out == "." {
        "file".to_string()
    } else {
        out.to_string()
    }
}

/// `{w}x{h}` (either `x` or `X`) normalised to a lower-case `x`.
pub(crate) fn normalize_size(size: &str) -> Option<String> {
    let (w, h) = size.split_once(['x', 'X'])?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(w) && digits(h)).then(|| format!("{w}x{h}"))
}

/// The Content-Type Storyblok would give a file name's extension.
pub(crate) fn content_type_for(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "avif" => "image/avif",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "json" => "application/json",
        "txt" => "text/plain",
        "css" => "text/css",
        "js" => "application/javascript",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

fn sign(state: &State, request: &Request, fault: SignFault) -> Response {
    let config = &state.config;
    let params = match params(request) {
        Ok(params) => params,
        Err(response) => return response,
    };
    let Ok(replace) = param_id(&params, "id") else {
        return not_found();
    };
    let mut inner = state.lock();
    if replace.is_some_and(|id| !inner.assets.contains_key(&id)) {
        return not_found();
    }
    let filename = match params.get("filename") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return error(422, "Filename can't be blank"),
    };
    let size = match params.get("size") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => match normalize_size(s.trim()) {
            Some(size) => Some(size),
            None => return error(422, "Size is invalid"),
        },
        Some(_) => return error(422, "Size is invalid"),
    };
    let folder = match param_id(&params, "asset_folder_id") {
        Ok(None) => None,
        Ok(Some(id)) if inner.folders.contains(&id) => Some(id),
        _ => {
            return json(
                422,
                r#"{"error":{"base":["This asset folder is not valid"]}}"#,
            );
        }
    };
    let name = parameterize(&filename);
    let content_type = content_type_for(&name).to_string();
    let now = SystemTime::now();
    let event = inner.next_event();

    let id = match replace {
        Some(id) => id,
        None => {
            let id = inner.next_id;
            inner.next_id += 1;
            let hash = key_hash(&config.credentials, id, event);
            let key = match &size {
                Some(size) => format!("f/{}/{size}/{hash}/{name}", config.space_id),
                None => format!("f/{}/{hash}/{name}", config.space_id),
            };
            inner.assets.insert(
                id,
                AssetRecord {
                    asset: StoredAsset {
                        id,
                        space_id: config.space_id,
                        filename: name.clone(),
                        key,
                        asset_folder_id: None,
                        is_private: false,
                        size: None,
                        validate_upload: false,
                        alt: None,
                        title: None,
                        copyright: None,
                        source: None,
                        focus: None,
                        ext_id: None,
                        meta_data: Value::Object(Map::new()),
                        content_type: content_type.clone(),
                        sign_count: 0,
                        finished: false,
                    },
                    signed_at: event,
                    created_at: now,
                    updated_at: now,
                },
            );
            id
        }
    };
    let Some(record) = inner.assets.get_mut(&id) else {
        return not_found();
    };
    // Replace keeps the record and its key; the parameters sent are updated.
    record.signed_at = event;
    record.updated_at = now;
    let asset = &mut record.asset;
    asset.sign_count += 1;
    asset.finished = false;
    asset.content_type = content_type;
    if size.is_some() {
        asset.size = size;
    }
    if folder.is_some() {
        asset.asset_folder_id = folder;
    }
    if let Some(private) = param_bool(&params, "is_private") {
        asset.is_private = private;
    }
    if let Some(validate) = param_bool(&params, "validate_upload") {
        asset.validate_upload = validate;
    }
    for (name, slot) in [
        ("alt", &mut asset.alt),
        ("title", &mut asset.title),
        ("copyright", &mut asset.copyright),
        ("source", &mut asset.source),
        ("focus", &mut asset.focus),
        ("ext_id", &mut asset.ext_id),
    ] {
        if let Some(value) = param_text(&params, name) {
            *slot = value;
        }
    }
    if let Some(meta) = params.get("meta_data").filter(|m| m.is_object()) {
        asset.meta_data = meta.clone();
    }
    let asset = asset.clone();
    drop(inner);

    let ttl = config.policy_ttl;
    let mut expiration = unix_seconds(now + ttl);
    if ttl.is_zero() {
        expiration = expiration.saturating_sub(1);
    }
    let acl = if asset.is_private {
        "private"
    } else {
        "public-read"
    };
    let mut fields = PolicyFields::new(
        asset.key.clone(),
        acl,
        asset.content_type.clone(),
        (
            now.checked_sub(fault.age).unwrap_or(now),
            from_unix_seconds(expiration.saturating_sub(fault.age.as_secs())),
        ),
        config.max_file_size,
        &config.credentials,
    );
    if let Some(signer) = &config.signer {
        fields = fields.for_signer(signer.0.as_ref());
    }
    let amz_date = fields.amz_date.clone();
    let fields: Vec<(&str, String)> = fields
        .form_fields(|policy| match &config.signer {
            Some(signer) => signer.0.signature(&amz_date, policy),
            None => policy::signature(
                &config.credentials,
                amz_date.get(..8).unwrap_or_default(),
                policy,
            ),
        })
        .into_iter()
        .map(|(name, value)| match &fault.tamper {
            Some((tampered, forged)) if tampered == name => (name, json_str(forged)),
            _ => (name, json_str(&value)),
        })
        .collect();
    let post_url = config
        .signer
        .as_ref()
        .map_or_else(|| config.s3_url.clone(), |signer| signer.0.post_url());
    json(
        200,
        ordered_object(&[
            ("id", asset.id.to_string()),
            ("pretty_url", json_str(&format!("//{BUCKET}/{}", asset.key))),
            ("public_url", json_str(&public_url(&asset.key))),
            ("post_url", json_str(&post_url)),
            ("fields", ordered_object(&fields)),
            ("locked", "false".into()),
            ("meta_data", asset.meta_data.to_string()),
        ]),
    )
}

/// The ten hex digits that make a new asset's key unique, as Storyblok's do.
fn key_hash(credentials: &crate::sigv4::Credentials, id: u64, event: u64) -> String {
    let seed = format!("{}/{id}/{event}", credentials.secret_key);
    let mut hash = crate::sigv4::sha256_hex(seed.as_bytes());
    hash.truncate(10);
    hash
}

fn public_url(key: &str) -> String {
    format!("https://s3.amazonaws.com/{BUCKET}/{key}")
}

fn text(value: Option<&String>) -> String {
    value.map_or_else(|| "null".into(), |v| json_str(v))
}

fn finish(state: &State, id: &str) -> Response {
    let mut inner = state.lock();
    let Some(id) = id.parse::<u64>().ok() else {
        return not_found();
    };
    let Some(record) = inner.assets.get(&id) else {
        return not_found();
    };
    // With an external S3 the file is out of sight; trust the client.
    let uploaded = state.config.signer.is_some()
        || inner
            .objects
            .get(&record.asset.key)
            .is_some_and(|o| o.stored_at > record.signed_at);
    if !uploaded {
        return error(422, "The upload is not complete: no file at the signed key");
    }
    let Some(record) = inner.assets.get_mut(&id) else {
        return not_found();
    };
    record.asset.finished = true;
    record.updated_at = SystemTime::now();
    let a = &record.asset;
    let flat = ordered_object(&[
        ("id", a.id.to_string()),
        ("filename", json_str(&public_url(&a.key))),
        ("alt", text(a.alt.as_ref())),
        ("copyright", text(a.copyright.as_ref())),
        ("title", text(a.title.as_ref())),
        ("focus", text(a.focus.as_ref())),
        ("is_private", a.is_private.to_string()),
    ]);
    match state.config.finish_shape {
        FinishShape::Wrapped => json(200, ordered_object(&[("asset", flat)])),
        FinishShape::Flat => json(200, flat),
    }
}

fn delete(state: &State, id: &str) -> Response {
    let mut inner = state.lock();
    let Some(record) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| inner.assets.remove(&id))
    else {
        return not_found();
    };
    let object = inner.objects.remove(&record.asset.key);
    json(200, asset_json(&record, object.map(|o| o.bytes.len())))
}

fn get(state: &State, id: &str) -> Response {
    let inner = state.lock();
    let Some(record) = id.parse::<u64>().ok().and_then(|id| inner.assets.get(&id)) else {
        return not_found();
    };
    let length = inner.objects.get(&record.asset.key).map(|o| o.bytes.len());
    json(200, asset_json(record, length))
}

/// The asset as `GET /assets/{id}` shows it.
fn asset_json(record: &AssetRecord, content_length: Option<usize>) -> String {
    let a = &record.asset;
    let opt_u64 = |v: Option<u64>| v.map_or_else(|| "null".into(), |v| v.to_string());
    let short = a.key.rsplit('/').next().unwrap_or_default();
    ordered_object(&[
        ("id", a.id.to_string()),
        ("filename", json_str(&public_url(&a.key))),
        ("space_id", a.space_id.to_string()),
        ("created_at", json_str(&format_iso8601(record.created_at))),
        ("updated_at", json_str(&format_iso8601(record.updated_at))),
        ("deleted_at", "null".into()),
        ("file", "null".into()),
        ("asset_folder_id", opt_u64(a.asset_folder_id)),
        ("short_filename", json_str(short)),
        ("content_type", json_str(&a.content_type)),
        ("content_length", opt_u64(content_length.map(|n| n as u64))),
        ("alt", text(a.alt.as_ref())),
        ("title", text(a.title.as_ref())),
        ("copyright", text(a.copyright.as_ref())),
        ("source", text(a.source.as_ref())),
        ("focus", text(a.focus.as_ref())),
        ("ext_id", text(a.ext_id.as_ref())),
        ("is_private", a.is_private.to_string()),
        ("meta_data", a.meta_data.to_string()),
        ("locked", "false".into()),
        ("expire_at", "null".into()),
        ("publish_at", "null".into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameterizes_like_storyblok() {
        assert_eq!(parameterize("Mars.JPG"), "mars.jpg");
        assert_eq!(
            parameterize("Mars Photo.v2.final.png"),
            "mars-photo_v2_final.png"
        );
        assert_eq!(parameterize("  ünïcode   name!!.PNG "), "n-code-name-.png");
        assert_eq!(parameterize("a--b__c.tar.gz"), "a-b__c_tar.gz");
        assert_eq!(parameterize("no_extension"), "no_extension");
        assert_eq!(parameterize("???"), "file");
        assert_eq!(parameterize("."), "file");
        assert_eq!(parameterize(".hidden"), ".hidden");
        assert_eq!(parameterize("-lead-.png"), "lead-.png");
    }

    #[test]
    fn sizes() {
        assert_eq!(normalize_size("640x480").as_deref(), Some("640x480"));
        assert_eq!(normalize_size("640X480").as_deref(), Some("640x480"));
        assert_eq!(normalize_size("abc"), None);
        assert_eq!(normalize_size("x480"), None);
        assert_eq!(normalize_size("640x"), None);
        assert_eq!(normalize_size("6.4x480"), None);
        assert_eq!(normalize_size("640x480x3"), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_for("a.png"), "image/png");
        assert_eq!(content_type_for("a.jpeg"), "image/jpeg");
        assert_eq!(content_type_for("a.svg"), "image/svg+xml");
        assert_eq!(content_type_for("a.tar_gz"), "application/octet-stream");
        assert_eq!(content_type_for("noext"), "application/octet-stream");
    }

    #[test]
    fn rate_limit_window() {
        let mut rl = RateLimiter::default();
        for _ in 0..6 {
            assert!(rl.admit(1, 100, 6));
        }
        assert!(!rl.admit(1, 100, 6));
        assert!(!rl.admit(1, 100, 6));
        // Another space has its own window.
        assert!(rl.admit(2, 100, 6));
        // The next whole second starts a fresh window.
        for _ in 0..6 {
            assert!(rl.admit(1, 101, 6));
        }
        assert!(!rl.admit(1, 101, 6));
        assert!(rl.admit(1, 105, 6));
        // A limit of zero refuses everything.
        assert!(!rl.admit(3, 100, 0));
    }

    #[test]
    fn query_params() {
        let params = form_urlencoded("filename=My+File%2Epng&size=10x20&empty=&flag");
        assert_eq!(
            params,
            [
                ("filename".to_string(), Value::from("My File.png")),
                ("size".to_string(), Value::from("10x20")),
                ("empty".to_string(), Value::from("")),
                ("flag".to_string(), Value::from("")),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
