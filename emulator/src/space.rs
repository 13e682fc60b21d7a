//! One space of a running emulator, as a test sets it up and inspects it.

use crate::state::{Ids, Inner, Library, State};
use crate::{AssetFolder, InternalTag, StoredAsset};

/// A space the emulator serves: its assets, folders and tags, set up and read without
/// requests. [`Emulator::space`](crate::Emulator::space) gives one;
/// [`Emulator`](crate::Emulator)'s own methods act on the first space.
#[derive(Clone, Copy)]
pub struct Space<'a> {
    state: &'a State,
    id: u64,
}

impl std::fmt::Debug for Space<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Space").field("id", &self.id).finish()
    }
}

impl<'a> Space<'a> {
    /// The space `id`, if the emulator serves it.
    pub(crate) fn new(state: &'a State, id: u64) -> Option<Space<'a>> {
        state
            .lock()
            .spaces
            .contains_key(&id)
            .then_some(Space { state, id })
    }

    /// The first space, which every emulator serves.
    pub(crate) fn first(state: &'a State) -> Space<'a> {
        Space {
            state,
            id: state.config.space_id,
        }
    }

    /// Changes this space's library, under the emulator's lock. A space, once served, is
    /// served until the emulator stops, so the library is always there.
    fn change<T>(&self, f: impl FnOnce(&mut Library, &mut Ids) -> T) -> T {
        let mut guard = self.state.lock();
        let Inner { spaces, ids, .. } = &mut *guard;
        f(spaces.entry(self.id).or_default(), ids)
    }

    /// Reads this space's library (see [`change`](Space::change)).
    fn read<T: Default>(&self, f: impl FnOnce(&Inner, &Library) -> T) -> T {
        let inner = self.state.lock();
        inner
            .spaces
            .get(&self.id)
            .map(|library| f(&inner, library))
            .unwrap_or_default()
    }

    /// The space id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Every asset record of the space (signed, whether finished or not, and not deleted),
    /// by id.
    pub fn assets(&self) -> Vec<StoredAsset> {
        self.read(|inner, library| library.assets.values().map(|r| inner.snapshot(r)).collect())
    }

    /// The space's asset record with this id (not deleted).
    pub fn asset(&self, id: u64) -> Option<StoredAsset> {
        self.read(|inner, library| library.assets.get(&id).map(|r| inner.snapshot(r)))
    }

    /// Adds a finished asset with its file in the bucket, as if someone had uploaded it
    /// earlier: the parameterized `filename` under a fresh key `f/{space}/{hash}/{name}`, the
    /// Content-Type its extension gives, public, in `folder` (a folder the space does not
    /// know is added, as [`add_folder`](Space::add_folder) would). Nothing is recorded in the
    /// request log, and no rate limit applies.
    pub fn seed_asset(
        &self,
        filename: &str,
        bytes: impl Into<Vec<u8>>,
        folder: Option<u64>,
    ) -> StoredAsset {
        self.state
            .seed_asset(self.id, filename, bytes.into(), folder)
    }

    /// Makes `id` a valid `asset_folder_id` of this space: adds a folder named `Folder {id}`
    /// at the root, unless there is one with that id.
    pub fn add_folder(&self, id: u64) {
        self.change(|library, ids| library.ensure_folder(ids, id));
    }

    /// Creates a folder named `name` in `parent` (`None`: at the root) and returns its id, as
    /// `POST /asset_folders/` would, without a request. A parent the space does not know is
    /// added first, as [`add_folder`](Space::add_folder) would.
    pub fn create_folder(&self, name: impl Into<String>, parent: Option<u64>) -> u64 {
        let name = name.into();
        self.change(|library, ids| {
            if let Some(parent) = parent {
                library.ensure_folder(ids, parent);
            }
            library.new_folder(ids, name, parent).id
        })
    }

    /// Every asset folder of the space, by id.
    pub fn folders(&self) -> Vec<AssetFolder> {
        self.read(|_, library| library.folders.values().cloned().collect())
    }

    /// Creates an internal tag of object type `asset` and returns its id, as
    /// `POST /internal_tags` would, without a request (and without its check for a name
    /// already taken).
    pub fn create_internal_tag(&self, name: impl Into<String>) -> u64 {
        let name = name.into();
        self.change(|library, ids| library.new_tag(ids, name, "asset".into()).id)
    }

    /// Every internal tag of the space, by id.
    pub fn internal_tags(&self) -> Vec<InternalTag> {
        self.read(|_, library| library.tags.values().cloned().collect())
    }
}
