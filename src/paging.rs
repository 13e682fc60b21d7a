//! Every item of a paginated Management API list: `page` counts from 1, `per_page` is at
//! most 100, and the `Total` header says how many items there are (without it, a full
//! page means there may be more).

use serde::de::DeserializeOwned;

use crate::error::{Error, Step};
use crate::mapi::{self, Method};
use crate::session::Session;

/// Items per page: the most Storyblok gives.
const PER_PAGE: u64 = 100;

/// Every item of the list at `path`, which already has a query (`?…`): each page read as
/// `P` (`what` names it in an error) and its items taken out by `items`. A server that
/// keeps promising more is not followed past `max_pages` pages; an empty page ends the
/// list whatever `Total` says.
pub(crate) fn all<P: DeserializeOwned, T>(
    session: &Session,
    step: Step,
    space_id: u64,
    path: &str,
    what: &str,
    max_pages: u64,
    items: impl Fn(P) -> Vec<T>,
) -> Result<Vec<T>, Error> {
    let mut found = Vec::new();
    for page in 1..=max_pages {
        let path = format!("{path}&page={page}&per_page={PER_PAGE}");
        let reply = mapi::call(session, step, space_id, None, Method::Get, &path)?;
        let listed = items(mapi::json(&reply, step, what)?);
        let count = listed.len() as u64;
        found.extend(listed);
        let more = match reply.total {
            Some(total) => (found.len() as u64) < total,
            None => count == PER_PAGE,
        };
        if !more || count == 0 {
            break;
        }
    }
    Ok(found)
}
