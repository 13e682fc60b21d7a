//! Assets: sign (create or replace), finish, get, delete, update, and the paginated list.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::params::{
    page_window, paginated, param_bool, param_id, param_ids, param_text, params, query, query_text,
    wrapped_body,
};
use super::{error, invalid, json, not_found};
use crate::clock::{format_iso8601, from_unix_seconds, parse_iso8601, unix_seconds};
use crate::fault::SignFault;
use crate::http::{Request, Response};
use crate::names::{content_type_for, key_hash, normalize_size, parameterize};
use crate::policy::{BUCKET, PolicyFields, json_str, ordered_object};
use crate::state::{Config, Library, State};
use crate::store::{AssetRecord, InternalTag};
use crate::{FinishShape, StoredAsset, UpdateShape};

/// The 422 of an unknown folder.
fn invalid_folder() -> Response {
    json(
        422,
        r#"{"error":{"base":["This asset folder is not valid"]}}"#,
    )
}

/// Which call the metadata comes with: they treat a null folder differently.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    Sign,
    Update,
}

/// The text fields sign and update both set; sign also takes `ext_id`.
const TEXTS: [&str; 6] = ["alt", "title", "copyright", "source", "focus", "ext_id"];

/// Metadata changes, validated against the space before any of them is applied.
struct Changes {
    /// `Some(None)` moves the asset to the root.
    folder: Option<Option<u64>>,
    tags: Option<Vec<u64>>,
    /// (field, value) for the fields of [`TEXTS`] that were sent; `None` clears one.
    texts: Vec<(&'static str, Option<String>)>,
    is_private: Option<bool>,
    meta_data: Option<Value>,
    expire_at: Option<Option<String>>,
    publish_at: Option<Option<String>>,
    locked: Option<bool>,
}

impl Changes {
    /// Reads and checks the metadata parameters of a sign or an update.
    fn parse(
        params: &Map<String, Value>,
        library: &Library,
        call: Call,
    ) -> Result<Changes, Response> {
        let folder = match (call, params.get("asset_folder_id")) {
            (_, None) => None,
            // On sign, an empty folder changes nothing; on update it moves to the root.
            (Call::Sign, Some(Value::Null)) => None,
            (Call::Sign, Some(Value::String(s))) if s.is_empty() => None,
            (Call::Update, Some(Value::Null)) => Some(None),
            (Call::Update, Some(Value::String(s))) if s.is_empty() => Some(None),
            _ => match param_id(params, "asset_folder_id") {
                Ok(Some(0)) if call == Call::Update => Some(None),
                Ok(Some(id)) if library.folders.contains_key(&id) => Some(Some(id)),
                _ => return Err(invalid_folder()),
            },
        };
        let tags = match param_ids(params, "internal_tag_ids") {
            None => None,
            Some(Err(())) => {
                return Err(invalid("internal_tag_ids", "must be a list of tag ids"));
            }
            Some(Ok(ids)) => {
                let mut tags: Vec<u64> = Vec::new();
                for id in ids {
                    let known = library
                        .tags
                        .get(&id)
                        .is_some_and(|tag| tag.object_type == "asset");
                    if !known {
                        return Err(invalid(
                            "internal_tag_ids",
                            &format!("Internal tag {id} does not exist"),
                        ));
                    }
                    if !tags.contains(&id) {
                        tags.push(id);
                    }
                }
                Some(tags)
            }
        };
        let meta = params.get("meta_data").filter(|m| m.is_object());
        let mut texts = Vec::new();
        for name in TEXTS {
            if name == "ext_id" && call == Call::Update {
                continue;
            }
            // Storyblok documents meta_data as the way to set the default fields too; a
            // top-level field wins over its copy in meta_data.
            let from_meta = || {
                meta.and_then(|m| m.get(name))
                    .and_then(Value::as_str)
                    .map(|s| Some(s.to_string()))
            };
            if let Some(value) = param_text(params, name).or_else(from_meta) {
                texts.push((name, value));
            }
        }
        Ok(Changes {
            folder,
            tags,
            texts,
            is_private: param_bool(params, "is_private"),
            meta_data: meta.cloned(),
            expire_at: date(params, "expire_at")?,
            publish_at: date(params, "publish_at")?,
            locked: (call == Call::Update)
                .then(|| param_bool(params, "locked"))
                .flatten(),
        })
    }

    fn apply(self, asset: &mut StoredAsset) {
        if let Some(folder) = self.folder {
            asset.asset_folder_id = folder;
        }
        if let Some(tags) = self.tags {
            asset.internal_tag_ids = tags;
        }
        for (name, value) in self.texts {
            let slot = match name {
                "alt" => &mut asset.alt,
                "title" => &mut asset.title,
                "copyright" => &mut asset.copyright,
                "source" => &mut asset.source,
                "focus" => &mut asset.focus,
                _ => &mut asset.ext_id,
            };
            *slot = value;
        }
        if let Some(private) = self.is_private {
            asset.is_private = private;
        }
        if let Some(meta) = self.meta_data {
            asset.meta_data = meta;
        }
        if let Some(expire_at) = self.expire_at {
            asset.expire_at = expire_at;
        }
        if let Some(publish_at) = self.publish_at {
            asset.publish_at = publish_at;
        }
        if let Some(locked) = self.locked {
            asset.locked = locked;
        }
    }
}

/// An optional ISO 8601 date: `Some(None)` when sent as null or `""`, which clears it.
fn date(params: &Map<String, Value>, name: &str) -> Result<Option<Option<String>>, Response> {
    match params.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(None)),
        Some(Value::String(s)) if parse_iso8601(s).is_some() => Ok(Some(Some(s.clone()))),
        Some(_) => Err(invalid(name, "is not a valid date (yyyy-MM-ddTHH:mm:ssZ)")),
    }
}

pub(crate) fn sign(state: &State, space: u64, request: &Request, fault: SignFault) -> Response {
    let config = &state.config;
    let params = match params(request) {
        Ok(params) => params,
        Err(response) => return response,
    };
    let Ok(replace) = param_id(&params, "id") else {
        return not_found();
    };
    let mut guard = state.lock();
    let inner = &mut *guard;
    let Some(library) = inner.spaces.get_mut(&space) else {
        return not_found();
    };
    if replace.is_some_and(|id| !library.assets.contains_key(&id)) {
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
    let changes = match Changes::parse(&params, library, Call::Sign) {
        Ok(changes) => changes,
        Err(response) => return response,
    };
    let name = parameterize(&filename);
    let content_type = content_type_for(&name).to_string();
    let now = SystemTime::now();
    let event = inner.ids.next_event();

    let id = match replace {
        Some(id) => id,
        None => {
            let id = inner.ids.next_asset();
            let hash = key_hash(&config.credentials, id, event);
            let key = match &size {
                Some(size) => format!("f/{space}/{size}/{hash}/{name}"),
                None => format!("f/{space}/{hash}/{name}"),
            };
            library
                .assets
                .insert(id, AssetRecord::new(id, space, &name, key, now));
            id
        }
    };
    let Some(record) = library.assets.get_mut(&id) else {
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
    if let Some(validate) = param_bool(&params, "validate_upload") {
        asset.validate_upload = validate;
    }
    changes.apply(asset);
    let asset = asset.clone();
    drop(guard);

    let ttl = config.policy_ttl;
    // A policy expires by the end of the year 9999 at the latest, however long the TTL: the
    // dates have four-digit years, and `now + ttl` must not overflow.
    const LATEST: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let mut expiration = now
        .checked_add(ttl)
        .map_or(LATEST, unix_seconds)
        .min(LATEST);
    if ttl.is_zero() {
        expiration = expiration.saturating_sub(1);
    }
    let acl = if asset.is_private {
        "private"
    } else {
        "public-read"
    };
    let signer = config.signer.as_ref();
    let fields: Vec<(&str, String)> = PolicyFields::new(
        asset.key.clone(),
        acl,
        asset.content_type.clone(),
        (
            now.checked_sub(fault.age).unwrap_or(now),
            from_unix_seconds(expiration.saturating_sub(fault.age.as_secs())),
        ),
        config.max_file_size,
        signer,
    )
    .form_fields(signer)
    .into_iter()
    .map(|(name, value)| match &fault.tamper {
        Some((tampered, forged)) if tampered == name => (name, json_str(forged)),
        _ => (name, json_str(&value)),
    })
    .collect();
    json(
        200,
        ordered_object(&[
            ("id", asset.id.to_string()),
            ("pretty_url", json_str(&pretty_url(config, &asset.key))),
            ("public_url", json_str(&file_url(config, &asset.key))),
            ("post_url", json_str(&signer.post_url())),
            ("fields", ordered_object(&fields)),
            ("locked", asset.locked.to_string()),
            ("meta_data", asset.meta_data.to_string()),
        ]),
    )
}

/// The URL an asset's file is at: the `filename` of finish, get and the list, and sign's
/// `public_url`. S3's URL, or the emulator's own with a local CDN.
pub(crate) fn file_url(config: &Config, key: &str) -> String {
    if config.local_cdn {
        format!("{}/{key}", config.s3_url)
    } else {
        format!("https://s3.amazonaws.com/{BUCKET}/{key}")
    }
}

/// Sign's `pretty_url`: the CDN's protocol-relative URL, or the emulator's own.
fn pretty_url(config: &Config, key: &str) -> String {
    if config.local_cdn {
        file_url(config, key)
    } else {
        format!("//{BUCKET}/{key}")
    }
}

fn text(value: Option<&String>) -> String {
    value.map_or_else(|| "null".into(), |v| json_str(v))
}

pub(crate) fn finish(state: &State, space: u64, id: u64) -> Response {
    let mut guard = state.lock();
    let inner = &mut *guard;
    let Some(library) = inner.spaces.get_mut(&space) else {
        return not_found();
    };
    let Some(record) = library.assets.get(&id) else {
        return not_found();
    };
    // With an external S3 the file is out of sight; trust the client.
    let uploaded = state.config.external_s3
        || inner
            .objects
            .get(&record.asset.key)
            .is_some_and(|o| o.stored_at > record.signed_at);
    if !uploaded {
        return error(422, "The upload is not complete: no file at the signed key");
    }
    let Some(record) = library.assets.get_mut(&id) else {
        return not_found();
    };
    record.asset.finished = true;
    record.updated_at = SystemTime::now();
    let a = &record.asset;
    let flat = ordered_object(&[
        ("id", a.id.to_string()),
        ("filename", json_str(&file_url(&state.config, &a.key))),
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

pub(crate) fn delete(state: &State, space: u64, id: u64) -> Response {
    let mut guard = state.lock();
    let inner = &mut *guard;
    let Some(library) = inner.spaces.get_mut(&space) else {
        return not_found();
    };
    let Some(mut record) = library.assets.remove(&id) else {
        return not_found();
    };
    let now = SystemTime::now();
    record.deleted_at = Some(now);
    record.updated_at = now;
    let object = inner.objects.remove(&record.asset.key);
    let length = object.map(|o| o.bytes.len() as u64);
    let body = asset_json(&state.config, &library.tags, &record, length);
    library.trash.insert(record.asset.id, record);
    json(200, body)
}

pub(crate) fn get(state: &State, space: u64, id: u64) -> Response {
    let inner = state.lock();
    let Some(library) = inner.spaces.get(&space) else {
        return not_found();
    };
    let Some(record) = library.assets.get(&id) else {
        return not_found();
    };
    let length = inner.content_length(&record.asset.key);
    json(
        200,
        asset_json(&state.config, &library.tags, record, length),
    )
}

/// `PUT /assets/{id}`: changes an asset's metadata. The body is `{"asset": {...}}` or the bare
/// object.
pub(crate) fn update(state: &State, space: u64, request: &Request, id: u64) -> Response {
    let params = match wrapped_body(request, "asset") {
        Ok(params) => params,
        Err(response) => return response,
    };
    let mut guard = state.lock();
    let inner = &mut *guard;
    let Some(library) = inner.spaces.get_mut(&space) else {
        return not_found();
    };
    if !library.assets.contains_key(&id) {
        return not_found();
    }
    let changes = match Changes::parse(&params, library, Call::Update) {
        Ok(changes) => changes,
        Err(response) => return response,
    };
    let Some(record) = library.assets.get_mut(&id) else {
        return not_found();
    };
    changes.apply(&mut record.asset);
    record.updated_at = SystemTime::now();
    match state.config.update_shape {
        UpdateShape::NoContent => Response::empty(204),
        UpdateShape::Wrapped => {
            let Some(record) = library.assets.get(&id) else {
                return not_found();
            };
            let length = inner
                .objects
                .get(&record.asset.key)
                .map(|o| o.bytes.len() as u64);
            let asset = asset_json(&state.config, &library.tags, record, length);
            json(200, ordered_object(&[("asset", asset)]))
        }
    }
}

/// `GET /assets/`: the assets that match the query, a page of them, newest first unless
/// `sort_by` says otherwise; `Total` and `Per-Page` headers.
pub(crate) fn list(state: &State, space: u64, request: &Request) -> Response {
    let query = query(request);
    let inner = state.lock();
    let Some(library) = inner.spaces.get(&space) else {
        return not_found();
    };
    // `in_folder=-1` lists the trash; any other folder id, the assets directly in it (0: the
    // assets in no folder).
    let in_folder = query_text(&query, "in_folder").and_then(|f| f.parse::<i64>().ok());
    let records = if in_folder == Some(-1) {
        &library.trash
    } else {
        &library.assets
    };
    let search = query_text(&query, "search").map(str::to_lowercase);
    let private_only = param_bool(&query, "is_private") == Some(true);
    let with_tags: Option<Vec<String>> = query_text(&query, "with_tags").map(|tags| {
        tags.split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()
    });
    let tag_ids = |names: &[String]| -> Vec<u64> {
        library
            .tags
            .values()
            .filter(|tag| names.contains(&tag.name))
            .map(|tag| tag.id)
            .collect()
    };
    let wanted_tags = with_tags.as_deref().map(tag_ids);
    let mut matches: Vec<&AssetRecord> = records
        .values()
        .filter(|record| {
            let a = &record.asset;
            let folder_ok = match in_folder {
                None | Some(-1) => true,
                Some(0) => a.asset_folder_id.is_none(),
                // A negative id other than -1 names no folder: it matches nothing.
                Some(id) => u64::try_from(id).is_ok_and(|id| a.asset_folder_id == Some(id)),
            };
            folder_ok
                && search
                    .as_ref()
                    .is_none_or(|s| a.filename.contains(s.as_str()))
                && (!private_only || a.is_private)
                && wanted_tags
                    .as_ref()
                    .is_none_or(|ids| a.internal_tag_ids.iter().any(|id| ids.contains(id)))
        })
        .collect();
    let sort_by = query_text(&query, "sort_by").unwrap_or_default();
    let (field, descending) = match sort_by.split_once(':') {
        Some((field, order)) => (field, order != "asc"),
        None => ("", true),
    };
    matches.sort_by(|a, b| {
        let order = match field {
            "updated_at" => a.updated_at.cmp(&b.updated_at),
            "short_filename" => a.asset.filename.cmp(&b.asset.filename),
            _ => a.created_at.cmp(&b.created_at),
        }
        .then(a.asset.id.cmp(&b.asset.id));
        if descending { order.reverse() } else { order }
    });
    let total = matches.len();
    let (skip, take, per_page) = page_window(&query);
    let shown: Vec<String> = matches
        .into_iter()
        .skip(skip)
        .take(take)
        .map(|record| {
            let length = inner.content_length(&record.asset.key);
            asset_json(&state.config, &library.tags, record, length)
        })
        .collect();
    let body = ordered_object(&[("assets", format!("[{}]", shown.join(",")))]);
    paginated(json(200, body), total, per_page)
}

/// The asset object, as get, delete, update and the list show it.
pub(crate) fn asset_json(
    config: &Config,
    tags: &BTreeMap<u64, InternalTag>,
    record: &AssetRecord,
    content_length: Option<u64>,
) -> String {
    let a = &record.asset;
    let opt_u64 = |v: Option<u64>| v.map_or_else(|| "null".into(), |v| v.to_string());
    let short = a.key.rsplit('/').next().unwrap_or_default();
    let tag_ids: Vec<String> = a
        .internal_tag_ids
        .iter()
        .map(|id| json_str(&id.to_string()))
        .collect();
    let tag_list: Vec<String> = a
        .internal_tag_ids
        .iter()
        .filter_map(|id| tags.get(id))
        .map(|tag| ordered_object(&[("id", tag.id.to_string()), ("name", json_str(&tag.name))]))
        .collect();
    let time =
        |t: Option<SystemTime>| t.map_or_else(|| "null".into(), |t| json_str(&format_iso8601(t)));
    ordered_object(&[
        ("id", a.id.to_string()),
        ("filename", json_str(&file_url(config, &a.key))),
        ("space_id", a.space_id.to_string()),
        ("created_at", time(Some(record.created_at))),
        ("updated_at", time(Some(record.updated_at))),
        ("deleted_at", time(record.deleted_at)),
        ("file", "null".into()),
        ("asset_folder_id", opt_u64(a.asset_folder_id)),
        ("short_filename", json_str(short)),
        ("content_type", json_str(&a.content_type)),
        ("content_length", opt_u64(content_length)),
        ("alt", text(a.alt.as_ref())),
        ("title", text(a.title.as_ref())),
        ("copyright", text(a.copyright.as_ref())),
        ("source", text(a.source.as_ref())),
        ("focus", text(a.focus.as_ref())),
        ("ext_id", text(a.ext_id.as_ref())),
        ("is_private", a.is_private.to_string()),
        ("meta_data", a.meta_data.to_string()),
        ("internal_tag_ids", format!("[{}]", tag_ids.join(","))),
        ("internal_tags_list", format!("[{}]", tag_list.join(","))),
        ("locked", a.locked.to_string()),
        ("expire_at", text(a.expire_at.as_ref())),
        ("publish_at", text(a.publish_at.as_ref())),
    ])
}
