//! The Management API: authentication, rate limits, error bodies, and the dispatch of each
//! route to its handler.

use std::time::SystemTime;

use crate::clock::unix_seconds;
use crate::fault::SignFault;
use crate::http::{Request, Response};
use crate::policy::json_str;
use crate::route::Route;
use crate::state::{Config, State};

mod assets;
mod folders;
mod params;
mod tags;

const JSON: &str = "application/json; charset=utf-8";
const NOT_FOUND: &str = r#"["This record could not be found"]"#;

pub(crate) fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
    Response::new(status, JSON, body)
}

/// A 422 naming the field at fault: `{"error":{"<field>":["<message>"]}}`.
pub(crate) fn invalid(field: &str, message: &str) -> Response {
    json(
        422,
        format!(
            "{{\"error\":{{{}:[{}]}}}}",
            json_str(field),
            json_str(message)
        ),
    )
}

pub(crate) fn not_found() -> Response {
    json(404, NOT_FOUND)
}

pub(crate) fn error(status: u16, message: &str) -> Response {
    json(status, format!("{{\"error\":{}}}", json_str(message)))
}

/// Storyblok's 429 body, with a `Retry-After` when the emulator is set to send one.
fn too_many(limit: impl std::fmt::Display, retry_after: Option<u64>) -> Response {
    let mut response = error(
        429,
        &format!("Rate limit of {limit} request per second has been reached. Retry later."),
    );
    if let Some(seconds) = retry_after {
        response
            .headers
            .push(("Retry-After".into(), seconds.to_string()));
    }
    response
}

/// Counts a request in the one-second window of the space its path names (of the first space
/// when that one is not served) and returns the 429 it gets, if any: when it is over the cap
/// of requests in flight, or over the rate limit of the window.
pub(crate) fn refuse(state: &State, space: Option<u64>, over_in_flight: bool) -> Option<Response> {
    let config = &state.config;
    let Some(limit) = config.rate_limit else {
        return over_in_flight.then(|| too_many(config.max_in_flight, config.retry_after));
    };
    let second = unix_seconds(SystemTime::now());
    let mut inner = state.lock();
    let spaces = &mut inner.spaces;
    let served = space.filter(|space| spaces.contains_key(space));
    let admitted = spaces
        .get_mut(&served.unwrap_or(config.space_id))
        .is_none_or(|library| library.rate.admit(second, limit));
    (over_in_flight || !admitted).then(|| too_many(limit, config.retry_after))
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
    // The handlers look the space up again, under the lock they take.
    let Some(space) = route.space() else {
        return not_found();
    };
    match *route {
        Route::Sign { .. } => assets::sign(state, space, request, sign_fault),
        Route::Finish { id: Some(id), .. } => assets::finish(state, space, id),
        Route::Delete { id: Some(id), .. } => assets::delete(state, space, id),
        Route::Get { id: Some(id), .. } => assets::get(state, space, id),
        Route::Update { id: Some(id), .. } => assets::update(state, space, request, id),
        Route::ListAssets { .. } => assets::list(state, space, request),
        Route::ListFolders { .. } => folders::list(state, space, request),
        Route::GetFolder { id: Some(id), .. } => folders::get(state, space, id),
        Route::CreateFolder { .. } => folders::create(state, space, request),
        Route::ListTags { .. } => tags::list(state, space, request),
        Route::CreateTag { .. } => tags::create(state, space, request),
        _ => not_found(),
    }
}
