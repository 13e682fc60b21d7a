//! Finding existing assets: `GET /v1/spaces/{space}/assets/?search=…&in_folder=…`, page by
//! page (`page`, `per_page` up to 100, the `Total` header), for sync's adoption of assets
//! that exist in the space but not in its manifest.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Step};
use crate::paging;
use crate::session::Session;

/// A server that keeps promising more pages is not followed past this many.
const MAX_PAGES: u64 = 1000;

/// An asset as the list shows it; what adoption needs of it.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Listed {
    pub(crate) id: u64,
    /// The file's full URL.
    #[serde(default)]
    pub(crate) filename: String,
    #[serde(default)]
    pub(crate) content_length: Option<u64>,
    #[serde(default)]
    pub(crate) asset_folder_id: Option<u64>,
    #[serde(default)]
    pub(crate) is_private: bool,
    #[serde(default)]
    pub(crate) alt: Option<String>,
    #[serde(default)]
    pub(crate) title: Option<String>,
    #[serde(default)]
    pub(crate) copyright: Option<String>,
    #[serde(default)]
    pub(crate) source: Option<String>,
    #[serde(default)]
    pub(crate) focus: Option<String>,
    #[serde(default)]
    pub(crate) meta_data: Option<Value>,
    #[serde(default)]
    pub(crate) internal_tags_list: Vec<TagRef>,
    /// When the record was made, as `2026-12-03T09:00:00.000Z`.
    #[serde(default)]
    created_at: Option<String>,
}

/// A tag as an asset lists it.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct TagRef {
    pub(crate) name: String,
}

/// The assets a search kept: at most the `max` with the lowest ids (the oldest) of those
/// that matched.
#[derive(Debug)]
pub(crate) struct Found {
    /// By id, lowest first.
    pub(crate) assets: Vec<Listed>,
    /// More matched than were kept.
    pub(crate) more: bool,
}

/// The assets whose filename contains `search`, in folder `folder` when given, that
/// `wanted` accepts: each is judged as its page is read, and at most the `max` with the
/// lowest ids are kept, so a list of any length costs one answer plus `max` assets.
pub(crate) fn search(
    session: &Session,
    space_id: u64,
    search: &str,
    folder: Option<u64>,
    wanted: impl Fn(&Listed) -> bool,
    max: usize,
) -> Result<Found, Error> {
    let mut path = format!("/assets/?search={}", query_encode(search));
    if let Some(folder) = folder {
        path.push_str(&format!("&in_folder={folder}"));
    }
    let mut kept: BTreeMap<u64, Listed> = BTreeMap::new();
    let mut more = false;
    let list = paging::List {
        step: Step::List,
        path: &path,
        what: "an asset list",
        field: "assets",
        max_pages: MAX_PAGES,
    };
    paging::each(session, space_id, &list, |asset: Listed| {
        if wanted(&asset) {
            // An asset listed twice (the list shifted between pages) is kept once.
            kept.insert(asset.id, asset);
            if kept.len() > max {
                kept.pop_last();
                more = true;
            }
        }
        ControlFlow::Continue(())
    })?;
    Ok(Found {
        assets: kept.into_values().collect(),
        more,
    })
}

/// The assets of one folder whose stored names a sync looks for, listed at once.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// By stored name, lowest id first.
    named: HashMap<String, BTreeMap<u64, Listed>>,
    /// Names with more assets than an index keeps: looked for by a search instead.
    crowded: HashSet<String>,
}

/// The most assets of one stored name an [`Index`] keeps, of every size.
const INDEX_PER_NAME: usize = 64;

impl Index {
    /// The assets `wanted` accepts among those stored as `name`: at most the `max` oldest
    /// (as [`search`] keeps them); `None` when the index could not keep them all.
    pub(crate) fn found(
        &self,
        name: &str,
        wanted: impl Fn(&Listed) -> bool,
        max: usize,
    ) -> Option<Found> {
        if self.crowded.contains(name) {
            return None;
        }
        let mut assets: Vec<Listed> = self
            .named
            .get(name)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(|asset| wanted(asset))
            .cloned()
            .collect();
        let more = assets.len() > max;
        assets.truncate(max);
        Some(Found { assets, more })
    }
}

/// Every asset of folder `folder` (the whole space for `None`) whose stored name is one of
/// `names`, read page by page; `None` (after one call) when the first page's `Total` says
/// the folder takes more than `pages` pages of 100, or its pages run out before its end:
/// then a search per name costs fewer calls.
pub(crate) fn folder(
    session: &Session,
    space_id: u64,
    folder: Option<u64>,
    names: &HashSet<String>,
    pages: u64,
) -> Result<Option<Index>, Error> {
    let path = match folder {
        Some(folder) => format!("/assets/?in_folder={folder}"),
        None => "/assets/?".to_owned(),
    };
    let list = paging::List {
        step: Step::List,
        path: &path,
        what: "an asset list",
        field: "assets",
        max_pages: pages.min(MAX_PAGES),
    };
    let mut index = Index::default();
    let whole = paging::each_while(
        session,
        space_id,
        &list,
        |asset: Listed| {
            let name = parameterize(asset.stored_name());
            if names.contains(&name) && !index.crowded.contains(&name) {
                let kept = index.named.entry(name.clone()).or_default();
                kept.insert(asset.id, asset);
                if kept.len() > INDEX_PER_NAME {
                    index.named.remove(&name);
                    index.crowded.insert(name);
                }
            }
            ControlFlow::Continue(())
        },
        |total| total.is_some_and(|total| total.div_ceil(100) <= pages),
    )?;
    Ok(whole.then_some(index))
}

impl Listed {
    /// Its asset folder, `None` at the top (which some answers give as `0`).
    pub(crate) fn folder(&self) -> Option<u64> {
        self.asset_folder_id.filter(|&folder| folder != 0)
    }

    /// The file name at the end of its URL, as Storyblok stored it.
    pub(crate) fn stored_name(&self) -> &str {
        let path = self.filename.split(['?', '#']).next().unwrap_or_default();
        path.rsplit('/').next().unwrap_or_default()
    }

    /// When the record was made, in seconds since the Unix epoch, if the listing says.
    pub(crate) fn created_at(&self) -> Option<u64> {
        let at = crate::codec::clock::parse_iso8601(self.created_at.as_deref()?.trim())?;
        Some(crate::codec::clock::unix_seconds(at))
    }

    /// Its `meta_data` as an object, if it is one (Storyblok sends `[]` for none).
    pub(crate) fn meta_data(&self) -> Option<Map<String, Value>> {
        match &self.meta_data {
            Some(Value::Object(map)) if !map.is_empty() => Some(map.clone()),
            _ => None,
        }
    }
}

/// Percent-encodes a query value: unreserved characters kept, everything else `%XX`.
fn query_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The name Storyblok stores for an uploaded file: lower-cased, every `.` but the last
/// made `_`, anything outside `a-z 0-9 . _ -` made `-` (runs of `-` collapsed, trimmed).
/// Storyblok documents only the dots ("every `.` except the last becomes `_`", in
/// [Upload Asset](https://www.storyblok.com/docs/api/management/core-resources/assets/upload-asset));
/// the rest is how its backend is seen to behave, and the emulator follows it.
pub(crate) fn parameterize(filename: &str) -> String {
    let lower = filename.to_lowercase();
    let last_dot = lower.rfind('.');
    let mut out = String::with_capacity(lower.len());
    for (i, c) in lower.char_indices() {
        let c = match c {
            '.' if Some(i) != last_dot => '_',
            'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '-',
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_matches('-');
    if out.is_empty() || out == "." {
        "file".to_owned()
    } else {
        out.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_parameterized_like_storyblok() {
        assert_eq!(parameterize("Mars.JPG"), "mars.jpg");
        assert_eq!(
            parameterize("Mars Photo.v2.final.png"),
            "mars-photo_v2_final.png"
        );
        assert_eq!(parameterize("a--b__c.tar.gz"), "a-b__c_tar.gz");
        assert_eq!(parameterize("???"), "file");
        // Idempotent: a stored name parameterizes to itself.
        for name in ["mars-photo_v2_final.png", "a-b__c_tar.gz", "x.png"] {
            assert_eq!(parameterize(name), name);
        }
    }

    #[test]
    fn queries_are_encoded() {
        assert_eq!(query_encode("a b&c=d/é.png"), "a%20b%26c%3Dd%2F%C3%A9.png");
    }

    #[test]
    fn the_stored_name_ends_the_url() {
        let listed: Listed = serde_json::from_str(
            r#"{"id": 1, "filename": "https://s3.amazonaws.com/a.storyblok.com/f/1/2x3/ab/mars.png?x=1",
                "meta_data": []}"#,
        )
        .expect("an asset");
        assert_eq!(listed.stored_name(), "mars.png");
        assert_eq!(listed.meta_data(), None);
    }
}
