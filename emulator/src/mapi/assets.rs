//! Assets: sign (create or replace), finish, get, delete.

use std::time::SystemTime;

use serde_json::{Map, Value};

use super::names::{content_type_for, normalize_size, parameterize};
use super::params::{param_bool, param_id, param_text, params};
use super::{error, json, not_found};
use crate::clock::{format_iso8601, from_unix_seconds, unix_seconds};
use crate::fault::SignFault;
use crate::http::{Request, Response};
use crate::policy::{self, BUCKET, PolicyFields, json_str, ordered_object};
use crate::state::State;
use crate::store::AssetRecord;
use crate::{FinishShape, StoredAsset};

pub(crate) fn sign(state: &State, request: &Request, fault: SignFault) -> Response {
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

pub(crate) fn finish(state: &State, id: &str) -> Response {
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

pub(crate) fn delete(state: &State, id: &str) -> Response {
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

pub(crate) fn get(state: &State, id: &str) -> Response {
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
