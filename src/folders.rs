//! Asset folders: a nested path such as `img/icons`, found or created one level at a time.
//!
//! `GET /v1/spaces/{space}/asset_folders/` answers `{"asset_folders": [{"id", "name",
//! "parent_id"}, …]}`; `POST` the same path with `{"asset_folder": {"name", "parent_id"}}`
//! creates one and answers `{"asset_folder": {…}}`. A client lists a space's folders once
//! and remembers them; it creates only what is missing, one creation at a time, so two
//! threads never create the same folder twice.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::json;

use crate::error::{Error, Step};
use crate::mapi::{self, Method};
use crate::session::Session;

/// The folders of each space a client has looked at.
#[derive(Debug, Default)]
pub(crate) struct FolderCache {
    spaces: Mutex<HashMap<u64, Vec<Folder>>>,
}

#[derive(Clone, Debug, Deserialize)]
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

/// The id of the folder at `path` (`/`-separated names) below `parent` (the top of the
/// space for `None`): `parent` itself for an empty path. Missing folders are created when
/// `create`, otherwise the answer is `None`.
pub(crate) fn resolve(
    session: &Session,
    cache: &FolderCache,
    space_id: u64,
    parent: Option<u64>,
    path: &str,
    create: bool,
) -> Result<Option<u64>, Error> {
    // Held throughout: a folder is looked up and created by one thread at a time.
    let mut spaces = crate::mutex::lock(&cache.spaces);
    let folders = match spaces.entry(space_id) {
        std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
        std::collections::hash_map::Entry::Vacant(new) => new.insert(list(session, space_id)?),
    };
    let mut current = parent;
    for name in path.split('/').filter(|name| !name.is_empty()) {
        let found = folders
            .iter()
            .find(|f| f.name == name && f.parent_id.filter(|&p| p != 0) == current)
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
}

fn list(session: &Session, space_id: u64) -> Result<Vec<Folder>, Error> {
    let reply = mapi::call(
        session,
        Step::Folders,
        space_id,
        None,
        Method::Get,
        "/asset_folders/",
    )?;
    let listed: Listed = mapi::json(&reply, Step::Folders, "an asset folder answer")?;
    Ok(listed.asset_folders)
}

fn make(
    session: &Session,
    space_id: u64,
    name: &str,
    parent: Option<u64>,
) -> Result<Folder, Error> {
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
    let mut folder = created.asset_folder;
    // Trust the name and parent asked for: a server that echoes them back differently
    // must not make the next lookup miss and create the folder again.
    folder.name = name.to_owned();
    folder.parent_id = parent;
    Ok(folder)
}
