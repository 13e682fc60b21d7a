//! Every item of a paginated Management API list, handed over one by one as each page is
//! read: `page` counts from 1, `per_page` is at most 100, and the `Total` header says how
//! many items there are (without it, a full page means there may be more).

use std::fmt;
use std::marker::PhantomData;
use std::ops::ControlFlow;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, Step};
use crate::mapi::{self, Method};
use crate::session::Session;

/// Items per page: the most Storyblok gives.
const PER_PAGE: u64 = 100;

/// A paginated list of a space.
pub(crate) struct List<'a> {
    /// The step its calls are.
    pub(crate) step: Step,
    /// What follows `/spaces/{space_id}`, with a query already (`?…`).
    pub(crate) path: &'a str,
    /// What a page is, for an error: "an asset list".
    pub(crate) what: &'a str,
    /// The field of a page's object that holds its items.
    pub(crate) field: &'a str,
    /// A server that keeps promising more is not followed past this many pages.
    pub(crate) max_pages: u64,
}

/// Hands `take` each item of `list`, read as `T`.
///
/// Items are parsed one at a time as a page is read, so what the list costs in memory is
/// one answer (at most [`ANSWER_LIMIT`](crate::body::ANSWER_LIMIT) bytes) plus what `take` keeps, however many
/// items a page holds. `take` ends the list early with [`ControlFlow::Break`]. An empty
/// page ends the list whatever `Total` says.
pub(crate) fn each<T: for<'de> Deserialize<'de>>(
    session: &Session,
    space_id: u64,
    list: &List<'_>,
    take: impl FnMut(T) -> ControlFlow<()>,
) -> Result<(), Error> {
    each_while(session, space_id, list, take, |_| true).map(drop)
}

/// [`each`], asking `more` after each page whether to read the next, given the `Total`
/// the answer gave (if it did). Returns `false` when it stopped before the list's end
/// because `more` said so or the pages ran out (`true`: the end, or `take` stopped it).
pub(crate) fn each_while<T: for<'de> Deserialize<'de>>(
    session: &Session,
    space_id: u64,
    list: &List<'_>,
    mut take: impl FnMut(T) -> ControlFlow<()>,
    mut more: impl FnMut(Option<u64>) -> bool,
) -> Result<bool, Error> {
    let step = list.step;
    let mut seen = 0u64;
    for page in 1..=list.max_pages {
        let path = format!("{}&page={page}&per_page={PER_PAGE}", list.path);
        let reply = mapi::call(session, step, space_id, None, Method::Get, &path)?;
        let mut reader = Page {
            field: list.field,
            take: &mut take,
            count: 0,
            stop: false,
            item: PhantomData,
        };
        let mut json = serde_json::Deserializer::from_str(&reply.body);
        (&mut reader)
            .deserialize(&mut json)
            .and_then(|()| json.end())
            .map_err(|e| mapi::not_what(&reply, step, list.what, &e))?;
        let (count, stop) = (reader.count, reader.stop);
        seen += count;
        let left = match reply.total {
            Some(total) => seen < total,
            None => count == PER_PAGE,
        };
        if stop || !left || count == 0 {
            return Ok(true);
        }
        if !more(reply.total) {
            return Ok(false);
        }
    }
    Ok(false)
}

/// Reads one page: the object whose `field` is the array of items, each handed to `take`
/// as soon as it is parsed; other fields are skipped.
struct Page<'a, T, F> {
    field: &'a str,
    take: &'a mut F,
    /// Items read on this page.
    count: u64,
    /// `take` asked for no more: the rest of the page is skipped, and no page follows.
    stop: bool,
    item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>, F: FnMut(T) -> ControlFlow<()>> DeserializeSeed<'de>
    for &mut Page<'_, T, F>
{
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>, F: FnMut(T) -> ControlFlow<()>> Visitor<'de>
    for &mut Page<'_, T, F>
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with the list `{}`", self.field)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.field && !found {
                found = true;
                map.next_value_seed(Items(&mut *self))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if found {
            Ok(())
        } else {
            Err(de::Error::missing_field("the list"))
        }
    }
}

/// The array of a page's items.
struct Items<'p, 'a, T, F>(&'p mut Page<'a, T, F>);

impl<'de, T: Deserialize<'de>, F: FnMut(T) -> ControlFlow<()>> DeserializeSeed<'de>
    for Items<'_, '_, T, F>
{
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>, F: FnMut(T) -> ControlFlow<()>> Visitor<'de>
    for Items<'_, '_, T, F>
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let page = self.0;
        while !page.stop {
            let Some(item) = seq.next_element::<T>()? else {
                return Ok(());
            };
            page.count += 1;
            page.stop = (page.take)(item).is_break();
        }
        // Asked for no more: the rest is only checked to be JSON.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `body` as a page of `field`, keeping what `take` passes on.
    fn read(body: &str, field: &str, stop_after: usize) -> Result<(Vec<u64>, u64), String> {
        let mut kept = Vec::new();
        let mut take = |id: u64| {
            kept.push(id);
            if kept.len() >= stop_after {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let mut page = Page {
            field,
            take: &mut take,
            count: 0,
            stop: false,
            item: PhantomData,
        };
        let mut json = serde_json::Deserializer::from_str(body);
        (&mut page)
            .deserialize(&mut json)
            .and_then(|()| json.end())
            .map_err(|e| e.to_string())?;
        let count = page.count;
        Ok((kept, count))
    }

    #[test]
    fn items_are_handed_over_one_by_one_and_other_fields_skipped() {
        let body = r#"{"before": {"x": [1, 2]}, "assets": [3, 4, 5], "after": "y"}"#;
        assert_eq!(read(body, "assets", usize::MAX), Ok((vec![3, 4, 5], 3)));
        // Stopped: the rest is skipped (but must still be JSON).
        assert_eq!(read(body, "assets", 2), Ok((vec![3, 4], 2)));
        assert_eq!(read(r#"{"assets": []}"#, "assets", 1), Ok((vec![], 0)));
    }

    #[test]
    fn a_page_without_its_list_or_with_a_bad_item_is_refused() {
        for body in [
            r#"{"other": [1]}"#,
            r#"[1, 2]"#,
            r#"{"assets": [1, "x"]}"#,
            r#"{"assets": [1, 2]"#,
            r#"{"assets": [1]} trailing"#,
        ] {
            assert!(read(body, "assets", usize::MAX).is_err(), "{body}");
        }
        // A second list of the same name is not read.
        assert_eq!(
            read(r#"{"assets": [1], "assets": [2]}"#, "assets", usize::MAX),
            Ok((vec![1], 1))
        );
    }
}
