//! Internal tags: list and create.

use serde_json::Value;

use super::params::{page_window, paginated, query, query_text, wrapped_body};
use super::{invalid, json};
use crate::http::{Request, Response};
use crate::policy::{json_str, ordered_object};
use crate::state::State;
use crate::store::InternalTag;

/// The tag object: `{"id","name","object_type"}`.
fn tag_json(tag: &InternalTag) -> String {
    ordered_object(&[
        ("id", tag.id.to_string()),
        ("name", json_str(&tag.name)),
        ("object_type", json_str(&tag.object_type)),
    ])
}

/// `GET /internal_tags`: the tags by id, filtered by `by_object_type` (`asset` or
/// `component`) and `search` (a case-insensitive substring of the name); paginated like the
/// asset list (`page`, `per_page`; `Total` and `Per-Page` headers).
pub(crate) fn list(state: &State, space: u64, request: &Request) -> Response {
    let query = query(request);
    let object_type = query_text(&query, "by_object_type").filter(|t| !t.is_empty());
    let search = query_text(&query, "search").map(str::to_lowercase);
    let inner = state.lock();
    let Some(library) = inner.spaces.get(&space) else {
        return super::not_found();
    };
    let matches: Vec<&InternalTag> = library
        .tags
        .values()
        .filter(|tag| {
            object_type.is_none_or(|t| tag.object_type == t)
                && search
                    .as_ref()
                    .is_none_or(|s| tag.name.to_lowercase().contains(s.as_str()))
        })
        .collect();
    let (skip, take, per_page) = page_window(&query);
    let shown: Vec<String> = matches
        .iter()
        .skip(skip)
        .take(take)
        .map(|tag| tag_json(tag))
        .collect();
    let body = ordered_object(&[("internal_tags", format!("[{}]", shown.join(",")))]);
    paginated(json(200, body), matches.len(), per_page)
}

/// `POST /internal_tags` with `{"internal_tag": {"name", "object_type"}}` (or the bare
/// object): 201 with `{"internal_tag": {...}}`. `object_type` is `asset` (the default) or
/// `component`; a blank name, another type, or a name the type already has is a 422.
pub(crate) fn create(state: &State, space: u64, request: &Request) -> Response {
    let params = match wrapped_body(request, "internal_tag") {
        Ok(params) => params,
        Err(response) => return response,
    };
    let name = match params.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
        _ => return invalid("name", "can't be blank"),
    };
    let object_type = match params.get("object_type") {
        None | Some(Value::Null) => "asset".to_string(),
        Some(Value::String(t)) if t == "asset" || t == "component" => t.clone(),
        Some(_) => return invalid("object_type", "must be asset or component"),
    };
    let mut guard = state.lock();
    let inner = &mut *guard;
    let Some(library) = inner.spaces.get_mut(&space) else {
        return super::not_found();
    };
    let taken = library
        .tags
        .values()
        .any(|tag| tag.name == name && tag.object_type == object_type);
    if taken {
        return invalid("name", "has already been taken");
    }
    let tag = library.new_tag(&mut inner.ids, name, object_type);
    json(201, ordered_object(&[("internal_tag", tag_json(&tag))]))
}
