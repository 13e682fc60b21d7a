//! Asset folders: list and create.

use std::collections::BTreeMap;

use serde_json::Value;

use super::params::{param_id, query, query_text, wrapped_body};
use super::{invalid, json};
use crate::http::{Request, Response};
use crate::policy::{json_str, ordered_object};
use crate::state::State;
use crate::store::AssetFolder;

/// The folder object: `{"id","name","parent_id","uuid","parent_uuid"}`.
pub(crate) fn folder_json(folders: &BTreeMap<u64, AssetFolder>, folder: &AssetFolder) -> String {
    let parent_uuid = folder
        .parent_id
        .and_then(|id| folders.get(&id))
        .map_or_else(|| "null".into(), |parent| json_str(&parent.uuid));
    ordered_object(&[
        ("id", folder.id.to_string()),
        ("name", json_str(&folder.name)),
        (
            "parent_id",
            folder
                .parent_id
                .map_or_else(|| "null".into(), |id| id.to_string()),
        ),
        ("uuid", json_str(&folder.uuid)),
        ("parent_uuid", parent_uuid),
    ])
}

/// `GET /asset_folders/`: every folder, by id, filtered by `search` (a case-insensitive
/// substring of the name), `with_parent` (a parent id; 0 for the root) and `by_ids`
/// (comma-separated ids). Not paginated.
pub(crate) fn list(state: &State, space: u64, request: &Request) -> Response {
    let query = query(request);
    let search = query_text(&query, "search").map(str::to_lowercase);
    let with_parent = query_text(&query, "with_parent").and_then(|p| p.parse::<u64>().ok());
    let by_ids: Option<Vec<u64>> = query_text(&query, "by_ids").map(|ids| {
        ids.split(',')
            .filter_map(|id| id.trim().parse().ok())
            .collect()
    });
    let inner = state.lock();
    let Some(library) = inner.spaces.get(&space) else {
        return super::not_found();
    };
    let shown: Vec<String> = library
        .folders
        .values()
        .filter(|f| {
            search
                .as_ref()
                .is_none_or(|s| f.name.to_lowercase().contains(s.as_str()))
                && with_parent.is_none_or(|p| f.parent_id.unwrap_or(0) == p)
                && by_ids.as_ref().is_none_or(|ids| ids.contains(&f.id))
        })
        .map(|f| folder_json(&library.folders, f))
        .collect();
    json(
        200,
        ordered_object(&[("asset_folders", format!("[{}]", shown.join(",")))]),
    )
}

/// `GET /asset_folders/{id}`: `{"asset_folder": {...}}`, or a 404.
pub(crate) fn get(state: &State, space: u64, id: u64) -> Response {
    let inner = state.lock();
    let Some(library) = inner.spaces.get(&space) else {
        return super::not_found();
    };
    match library.folders.get(&id) {
        Some(folder) => json(
            200,
            ordered_object(&[("asset_folder", folder_json(&library.folders, folder))]),
        ),
        None => super::not_found(),
    }
}

/// `POST /asset_folders/` with `{"asset_folder": {"name", "parent_id"}}` (or the bare object):
/// 201 with `{"asset_folder": {...}}`. A blank name, or a parent that does not exist, is a 422.
pub(crate) fn create(state: &State, space: u64, request: &Request) -> Response {
    let params = match wrapped_body(request, "asset_folder") {
        Ok(params) => params,
        Err(response) => return response,
    };
    let name = match params.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
        _ => return invalid("name", "can't be blank"),
    };
    let mut guard = state.lock();
    let inner = &mut *guard;
    let Some(library) = inner.spaces.get_mut(&space) else {
        return super::not_found();
    };
    let parent_id = match param_id(&params, "parent_id") {
        Ok(None | Some(0)) => None,
        Ok(Some(id)) if library.folders.contains_key(&id) => Some(id),
        Ok(Some(id)) => return invalid("parent_id", &format!("Folder {id} does not exist")),
        Err(()) => return invalid("parent_id", "is not a folder id"),
    };
    let folder = library.new_folder(&mut inner.ids, name, parent_id);
    let body = folder_json(&library.folders, &folder);
    json(201, ordered_object(&[("asset_folder", body)]))
}
