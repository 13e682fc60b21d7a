//! Adoption's lookups shared by the new files of one folder: the folder is listed once when
//! that takes fewer calls than a search per new file (its first page's `Total` tells), and
//! each file's candidates come from that one listing.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::listing::{Found, Index, Listed};
use super::{Placement, SyncOptions};
use crate::error::Error;

/// The lookups of one sync, by group: the new files bound for one folder.
pub(super) struct Lookups {
    groups: HashMap<String, Group>,
}

/// The new files of one folder.
struct Group {
    /// Their stored names.
    names: HashSet<String>,
    /// How many there are: a listing of more pages than this costs more than a search
    /// for each.
    files: u64,
    /// The folder's listing, once tried.
    listed: Mutex<Listing>,
}

enum Listing {
    /// Not tried yet.
    Untried,
    /// The folder's assets with the group's names.
    Index(Index),
    /// The folder is too large for the group: a search per file.
    PerName,
}

/// The group of the file at `key`: its folder's files share a listing. With mirrored
/// folders, that is its directory's; otherwise every file goes to one folder.
pub(super) fn group<'k>(options: &SyncOptions, key: &'k str) -> &'k str {
    match options.placement {
        Placement::Mirror(_) => key.rsplit_once('/').map_or("", |(dir, _)| dir),
        Placement::Space | Placement::Folder(_) => "",
    }
}

impl Lookups {
    /// Lookups for these groups: by group key, the stored names of its new files.
    pub(super) fn new(groups: HashMap<String, Vec<String>>) -> Lookups {
        let groups = groups
            .into_iter()
            .map(|(key, names)| {
                let group = Group {
                    files: names.len() as u64,
                    names: names.into_iter().collect(),
                    listed: Mutex::new(Listing::Untried),
                };
                (key, group)
            })
            .collect();
        Lookups { groups }
    }

    /// The assets stored as `name` that `wanted` accepts, at most `max` (as
    /// [`listing::search`] finds them), for a new file of `group`; `None` when this file
    /// is to search by its name instead (its group is one file, or its folder too large).
    /// The first file of a group to ask lists the folder with `list` (given the group's
    /// names and how many pages its files are worth; see [`listing::folder`]); the others
    /// wait for it.
    pub(super) fn found(
        &self,
        group: &str,
        list: impl FnOnce(&HashSet<String>, u64) -> Result<Option<Index>, Error>,
        name: &str,
        wanted: impl Fn(&Listed) -> bool,
        max: usize,
    ) -> Result<Option<Found>, Error> {
        let Some(group) = self.groups.get(group).filter(|g| g.files >= 2) else {
            return Ok(None);
        };
        let mut listed = crate::mutex::lock(&group.listed);
        if let Listing::Untried = *listed {
            // A failure leaves it untried: the group's next file tries again.
            *listed = match list(&group.names, group.files)? {
                Some(index) => Listing::Index(index),
                None => Listing::PerName,
            };
        }
        Ok(match &*listed {
            Listing::Index(index) => index.found(name, wanted, max),
            Listing::Untried | Listing::PerName => None,
        })
    }
}
