//! Asset folders: a nested path such as `img/icons`, found or created one level at a time.
//!
//! `GET /v1/spaces/{space}/asset_folders/` answers `{"asset_folders": [{"id", "name",
//! "parent_id"}, …]}`; `POST` the same path with `{"asset_folder": {"name", "parent_id"}}`
//! creates one and answers `{"asset_folder": {…}}`. A client lists a space's folders once
//! and remembers them; it creates only what is missing, one creation at a time, so two
//! threads never create the same folder twice.

use serde::Deserialize;
use serde_json::json;

use crate::error::{Error, Step};
use crate::listed::Named;
use crate::mapi::{self, Method};
use crate::session::Session;

#[derive(Deserialize)]
struct Folder {
    id: u64,
    name: String,
    /// `null` (or `0`) for a folder at the top.
    #[serde(default)]
    parent_id: Option<u64>,
}

#[derive(Deserialize)]
struct Listed {
    asset_folders: Vec<Folder>,
}

#[derive(Deserialize)]
struct Created {
    asset_folder: Folder,
}

impl From<Folder> for Named {
    fn from(folder: Folder) -> Named {
        Named {
            id: folder.id,
            name: folder.name,
            parent: folder.parent_id.filter(|&parent| parent != 0),
        }
    }
}

/// The id of the folder at `path` (`/`-separated names) below `parent` (the top of the
/// space for `None`): `parent` itself for an empty path. Missing folders are created when
/// `create`, otherwise the answer is `None`.
pub(crate) fn resolve(
    session: &Session,
    space_id: u64,
    parent: Option<u64>,
    path: &str,
    create: bool,
) -> Result<Option<u64>, Error> {
    let list = || list(session, space_id);
    session.folders.with(space_id, list, |folders| {
        let mut current = parent;
        for name in path.split('/').filter(|name| !name.is_empty()) {
            let found = folders
                .iter()
                .find(|f| f.name == name && f.parent == current)
                .map(|f| f.id);
            current = match found {
                Some(id) => Some(id),
                None if create => {
                    let folder = make(session, space_id, name, current)?;
                    let id = folder.id;
                    folders.push(folder);
                    Some(id)
                }
                None => return Ok(None),
            };
        }
        Ok(current)
    })
}

/// Every asset folder of the space: one call.
pub(crate) fn list(session: &Session, space_id: u64) -> Result<Vec<Named>, Error> {
    let reply = mapi::call(
        session,
        Step::Folders,
        space_id,
        None,
        Method::Get,
        "/asset_folders/",
    )?;
    let listed: Listed = mapi::json(&reply, Step::Folders, "an asset folder answer")?;
    Ok(listed.asset_folders.into_iter().map(Named::from).collect())
}

fn make(session: &Session, space_id: u64, name: &str, parent: Option<u64>) -> Result<Named, Error> {
    let body = json!({"asset_folder": {"name": name, "parent_id": parent}});
    let reply = mapi::call(
        session,
        Step::Folders,
        space_id,
        None,
        Method::Post(body.to_string().into_bytes()),
        "/asset_folders/",
    )?;
    let created: Created = mapi::json(&reply, Step::Folders, "an asset folder answer")?;
    // Trust the name and parent asked for: a server that echoes them back differently
    // must not make the next lookup miss and create the folder again.
    Ok(Named {
        id: created.asset_folder.id,
        name: name.to_owned(),
        parent,
    })
}
