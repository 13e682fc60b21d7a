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
mod names;
mod params;
mod tags;

pub(crate) use assets::key_hash;
pub(crate) use names::{content_type_for, parameterize};

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

/// One fixed one-second window, aligned to whole Unix seconds: the emulator serves one space,
/// so every Management API request counts in it, whatever space its path names.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    /// (Unix second, requests counted in it).
    window: (u64, u32),
}

impl RateLimiter {
    /// Counts a request in the window of Unix second `second`, whatever the answer (a refused
    /// request counts too, as at Storyblok); `false` if the window already held `limit`
    /// requests. A second older than the current window's counts in the current one.
    pub(crate) fn admit(&mut self, second: u64, limit: u32) -> bool {
        if second > self.window.0 {
            self.window = (second, 0);
        }
        self.window.1 = self.window.1.saturating_add(1);
        self.window.1 <= limit
    }

    /// How many requests the window at `second` holds.
    #[cfg(test)]
    fn count(&self, second: u64) -> u32 {
        if self.window.0 == second {
            self.window.1
        } else {
            0
        }
    }
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

/// Counts a request in the one-second window and returns the 429 it gets, if any: when it
/// is over the cap of requests in flight, or over the rate limit of the window.
pub(crate) fn refuse(state: &State, over_in_flight: bool) -> Option<Response> {
    let config = &state.config;
    let Some(limit) = config.rate_limit else {
        return over_in_flight.then(|| too_many(config.max_in_flight, config.retry_after));
    };
    let second = unix_seconds(SystemTime::now());
    let admitted = state.lock().rate.admit(second, limit);
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
    if route.space() != Some(state.config.space_id) {
        return not_found();
    }
    match *route {
        Route::Sign { .. } => assets::sign(state, request, sign_fault),
        Route::Finish { id: Some(id), .. } => assets::finish(state, id),
        Route::Delete { id: Some(id), .. } => assets::delete(state, id),
        Route::Get { id: Some(id), .. } => assets::get(state, id),
        Route::Update { id: Some(id), .. } => assets::update(state, request, id),
        Route::ListAssets { .. } => assets::list(state, request),
        Route::ListFolders { .. } => folders::list(state, request),
        Route::CreateFolder { .. } => folders::create(state, request),
        Route::ListTags { .. } => tags::list(state, request),
        Route::CreateTag { .. } => tags::create(state, request),
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_window() {
        let mut rl = RateLimiter::default();
        for _ in 0..6 {
            assert!(rl.admit(100, 6));
        }
        assert!(!rl.admit(100, 6));
        assert!(!rl.admit(100, 6));
        // Refused requests count too.
        assert_eq!(rl.count(100), 8);
        // The next whole second starts a fresh window.
        for _ in 0..6 {
            assert!(rl.admit(101, 6));
        }
        assert!(!rl.admit(101, 6));
        // A late request stamped with an older second counts in the current window.
        assert!(!rl.admit(100, 6));
        assert_eq!(rl.count(101), 8);
        assert_eq!(rl.count(100), 0);
        assert!(rl.admit(105, 6));
        assert_eq!(rl.count(105), 1);
        // A limit of zero refuses everything, and still counts.
        assert!(!rl.admit(106, 0));
        assert_eq!(rl.count(106), 1);
    }
}
