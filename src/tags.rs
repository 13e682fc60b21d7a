//! Internal tags of assets, by name: looked up once per client and space, created when
//! missing.
//!
//! `GET /v1/spaces/{space}/internal_tags?by_object_type=asset` answers
//! `{"internal_tags": [{"id", "name", "object_type"}, …]}`; `POST /internal_tags` with
//! `{"internal_tag": {"name", "object_type": "asset"}}` creates one and answers
//! `{"internal_tag": {…}}`.

use std::ops::ControlFlow;

use serde::Deserialize;
use serde_json::json;

use crate::error::{Error, Step};
use crate::listed::Named;
use crate::mapi::{self, Method};
use crate::paging;
use crate::session::Session;

#[derive(Deserialize)]
struct Tag {
    id: u64,
    name: String,
}

#[derive(Deserialize)]
struct Created {
    internal_tag: Tag,
}

/// The ids of the tags called `names`, in their order; missing tags are created.
pub(crate) fn ids(session: &Session, space_id: u64, names: &[String]) -> Result<Vec<u64>, Error> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let first = || list(session, space_id);
    session.tags.with(space_id, first, |tags| {
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            if let Some(tag) = tags.iter().find(|t| &t.name == name) {
                ids.push(tag.id);
                continue;
            }
            match make(session, space_id, name) {
                Ok(id) => {
                    ids.push(id);
                    tags.push(Named {
                        id,
                        name: name.clone(),
                        parent: None,
                    });
                }
                // Made meanwhile by someone else ("has already been taken"): look again.
                Err(error) if error.status() == Some(422) => {
                    *tags = list(session, space_id)?;
                    let tag = tags.iter().find(|t| &t.name == name).ok_or(error)?;
                    ids.push(tag.id);
                }
                Err(error) => return Err(error),
            }
        }
        Ok(ids)
    })
}

/// A server that keeps promising more pages is not followed past this many.
const MAX_PAGES: u64 = 100;
/// The most asset tags a space's list may hold: what [`MAX_PAGES`] full pages give. A list
/// of more (a server that does not page, or sends more than it was asked for) is refused
/// rather than kept.
const MAX_TAGS: usize = 10_000;

fn list(session: &Session, space_id: u64) -> Result<Vec<Named>, Error> {
    let mut tags = Vec::new();
    let mut too_many = false;
    let list = paging::List {
        step: Step::Tags,
        path: "/internal_tags?by_object_type=asset",
        what: "an internal tag answer",
        field: "internal_tags",
        max_pages: MAX_PAGES,
    };
    paging::each(session, space_id, &list, |tag: Tag| {
        too_many = tags.len() == MAX_TAGS;
        if too_many {
            return ControlFlow::Break(());
        }
        tags.push(Named {
            id: tag.id,
            name: tag.name,
            parent: None,
        });
        ControlFlow::Continue(())
    })?;
    if too_many {
        return Err(Error::unexpected(
            200,
            format!("the space lists more than {MAX_TAGS} asset tags, more than the SDK keeps"),
            "",
        )
        .at(Step::Tags));
    }
    Ok(tags)
}

/// Creates the tag `name`; its id.
fn make(session: &Session, space_id: u64, name: &str) -> Result<u64, Error> {
    let body = json!({"internal_tag": {"name": name, "object_type": "asset"}});
    let reply = mapi::call(
        session,
        Step::Tags,
        space_id,
        None,
        Method::Post(body.to_string().into_bytes()),
        "/internal_tags",
    )?;
    let created: Created = mapi::json(&reply, Step::Tags, "an internal tag answer")?;
    Ok(created.internal_tag.id)
}
