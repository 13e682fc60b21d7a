//! What a client has listed of each space, its asset folders and its tags: listed once on
//! first use, then kept up to date with what the client creates. Every clone of a client
//! shares it, through the session.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::Error;

/// Something a space holds by name: an asset folder (below its parent) or a tag.
#[derive(Clone, Debug)]
pub(crate) struct Named {
    pub(crate) id: u64,
    pub(crate) name: String,
    /// The folder it is in; `None` at the top, and for tags.
    pub(crate) parent: Option<u64>,
}

/// One kind of thing (folders, or tags) of each space a client has looked at.
#[derive(Debug, Default)]
pub(crate) struct PerSpace {
    spaces: Mutex<HashMap<u64, Vec<Named>>>,
}

impl PerSpace {
    /// Runs `work` on what `space_id` holds, listed by `list` the first time. The lock is
    /// held throughout, so one thread at a time looks things up and creates what is
    /// missing, and no two threads create the same thing.
    pub(crate) fn with<R>(
        &self,
        space_id: u64,
        list: impl FnOnce() -> Result<Vec<Named>, Error>,
        work: impl FnOnce(&mut Vec<Named>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut spaces = crate::mutex::lock(&self.spaces);
        let known = match spaces.entry(space_id) {
            std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::hash_map::Entry::Vacant(new) => new.insert(list()?),
        };
        work(known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(id: u64) -> Named {
        Named {
            id,
            name: format!("n{id}"),
            parent: None,
        }
    }

    #[test]
    fn a_space_is_listed_once_and_keeps_what_work_adds() {
        let cache = PerSpace::default();
        let mut lists = 0;
        for round in 0..3u64 {
            let count = cache
                .with(
                    7,
                    || {
                        lists += 1;
                        Ok(vec![named(1)])
                    },
                    |known| {
                        known.push(named(10 + round));
                        Ok(known.len())
                    },
                )
                .expect("with");
            assert_eq!(count as u64, 2 + round);
        }
        assert_eq!(lists, 1);
        // Another space is listed on its own; a failed listing is not remembered.
        let failed = cache.with(8, || Err(Error::invalid("down")), |_| Ok(()));
        assert!(failed.is_err());
        let listed_again = cache.with(8, || Ok(vec![named(2)]), |known| Ok(known[0].id));
        assert_eq!(listed_again.expect("listed"), 2);
    }
}
