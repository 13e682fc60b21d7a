//! The state every connection thread shares: the configuration, and under one lock the
//! bucket, the faults, the request log, and each space's library and rate window. Requests reach it
//! through [`dispatch`](crate::dispatch).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::fault::Fault;
use crate::store::{AssetFolder, AssetRecord, InternalTag, ObjectRecord};
use crate::{
    Endpoint, FinishShape, PolicySigner, RecordedRequest, StoredAsset, UpdateShape, sigv4,
};

/// Fixed configuration.
pub(crate) struct Config {
    pub(crate) token: String,
    pub(crate) oauth_token: String,
    /// The first space served: the one [`Emulator`](crate::Emulator)'s own methods act on.
    pub(crate) space_id: u64,
    pub(crate) rate_limit: Option<u32>,
    pub(crate) max_in_flight: usize,
    pub(crate) policy_ttl: Duration,
    pub(crate) max_file_size: u64,
    pub(crate) finish_shape: FinishShape,
    /// Sign the emulator's own policies (SigV4) and key its ids.
    pub(crate) credentials: sigv4::Credentials,
    /// `scheme://host[:port]` clients reach the emulator at.
    pub(crate) origin: String,
    /// `{origin}/a.storyblok.com`.
    pub(crate) s3_url: String,
    /// Signs the policies: for the emulator's own bucket, or a real S3 server's.
    pub(crate) signer: Arc<dyn PolicySigner>,
    /// The signer is for a real S3 server, where finish cannot see the uploaded file.
    pub(crate) external_s3: bool,
    /// The largest request body outside the Management API.
    pub(crate) max_body: u64,
    /// Hand out asset URLs on the emulator itself.
    pub(crate) local_cdn: bool,
    /// (min, jitter) of each trip of a Management API request.
    pub(crate) one_way_delay: Option<(Duration, Duration)>,
    pub(crate) update_shape: UpdateShape,
    /// The `Retry-After` (seconds) of a 429, if one is sent.
    pub(crate) retry_after: Option<u64>,
    /// How many requests the log keeps, the latest.
    pub(crate) max_recorded_requests: usize,
}

/// Shared by the handle and every connection thread.
pub(crate) struct State {
    pub(crate) config: Config,
    pub(crate) inner: Mutex<Inner>,
    /// Management API requests being handled.
    pub(crate) in_flight: AtomicUsize,
}

/// Mutable state.
#[derive(Default)]
pub(crate) struct Inner {
    /// (sequence number, request), so an in-progress entry can be updated after a clear or
    /// after older entries left for newer ones; at most `max_recorded_requests`, the latest.
    pub(crate) requests: VecDeque<(u64, RecordedRequest)>,
    pub(crate) next_request: u64,
    pub(crate) counts: HashMap<Endpoint, usize>,
    pub(crate) faults: Vec<Fault>,
    /// The one bucket every space uploads to (its keys start `f/{space}/`).
    pub(crate) objects: HashMap<String, ObjectRecord>,
    /// The spaces served, by id: each its own library and rate window.
    pub(crate) spaces: BTreeMap<u64, Library>,
    /// Ids and event numbers, shared by every space: ids are unique across spaces, as at
    /// Storyblok.
    pub(crate) ids: Ids,
}

/// What one space holds: its assets, trash, folders, tags and rate window.
#[derive(Default)]
pub(crate) struct Library {
    pub(crate) assets: BTreeMap<u64, AssetRecord>,
    /// Deleted assets, listed with `in_folder=-1`.
    pub(crate) trash: BTreeMap<u64, AssetRecord>,
    pub(crate) folders: BTreeMap<u64, AssetFolder>,
    pub(crate) tags: BTreeMap<u64, InternalTag>,
    pub(crate) rate: crate::rate::RateLimiter,
}

/// The counters every space draws from.
#[derive(Default)]
pub(crate) struct Ids {
    /// The next asset id.
    pub(crate) next_asset: u64,
    /// The next candidate folder id (ids taken by [`EmulatorBuilder::folder`] and
    /// [`Emulator::add_folder`] are skipped).
    ///
    /// [`EmulatorBuilder::folder`]: crate::EmulatorBuilder::folder
    /// [`Emulator::add_folder`]: crate::Emulator::add_folder
    pub(crate) next_folder: u64,
    /// Folder ids given explicitly, in any space.
    pub(crate) taken_folders: BTreeSet<u64>,
    pub(crate) next_tag: u64,
    /// Keys the folders' UUIDs: the emulator's secret key.
    pub(crate) uuid_seed: String,
    /// Orders signs and uploads.
    pub(crate) events: u64,
}

impl Ids {
    /// The next event number.
    pub(crate) fn next_event(&mut self) -> u64 {
        self.events += 1;
        self.events
    }

    /// A fresh asset id.
    pub(crate) fn next_asset(&mut self) -> u64 {
        let id = self.next_asset;
        self.next_asset += 1;
        id
    }
}

impl Library {
    /// Makes `id` a folder: adds one named `Folder {id}` at the root, unless there is one.
    pub(crate) fn ensure_folder(&mut self, ids: &mut Ids, id: u64) {
        if !self.folders.contains_key(&id) {
            ids.taken_folders.insert(id);
            self.insert_folder(ids, id, format!("Folder {id}"), None);
        }
    }

    /// Adds a folder under an id no folder of any space has.
    pub(crate) fn new_folder(
        &mut self,
        ids: &mut Ids,
        name: String,
        parent_id: Option<u64>,
    ) -> AssetFolder {
        while ids.taken_folders.contains(&ids.next_folder) {
            ids.next_folder += 1;
        }
        let id = ids.next_folder;
        ids.next_folder += 1;
        self.insert_folder(ids, id, name, parent_id)
    }

    fn insert_folder(
        &mut self,
        ids: &Ids,
        id: u64,
        name: String,
        parent_id: Option<u64>,
    ) -> AssetFolder {
        let folder = AssetFolder {
            id,
            name,
            parent_id,
            uuid: crate::store::uuid(&format!("{}/folder/{id}", ids.uuid_seed)),
        };
        self.folders.insert(id, folder.clone());
        folder
    }

    /// Adds an internal tag.
    pub(crate) fn new_tag(
        &mut self,
        ids: &mut Ids,
        name: String,
        object_type: String,
    ) -> InternalTag {
        let id = ids.next_tag;
        ids.next_tag += 1;
        let tag = InternalTag {
            id,
            name,
            object_type,
        };
        self.tags.insert(id, tag.clone());
        tag
    }
}

impl Inner {
    /// The length of the object stored at `key`, if any.
    pub(crate) fn content_length(&self, key: &str) -> Option<u64> {
        self.objects.get(key).map(|o| o.bytes.len() as u64)
    }

    /// An asset as a test sees it: with the length of its stored object.
    pub(crate) fn snapshot(&self, record: &AssetRecord) -> StoredAsset {
        let mut asset = record.asset.clone();
        asset.content_length = self.content_length(&asset.key);
        asset
    }
}

impl State {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
