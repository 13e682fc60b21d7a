//! The plumbing every step shares: the HTTP agent, the Management API's base URL and
//! token, the time budgets, the pacer and the retry policy. [`Client`](crate::Client) is
//! the façade over one; the steps take it and never reach back up to the client.

use std::fmt;
use std::time::Duration;

use crate::listed::PerSpace;
use crate::pacer::Pacer;
use crate::region::Region;
use crate::retry::Retries;
use crate::token::Token;

/// One client's shared state; every clone of the client holds the same one.
pub(crate) struct Session {
    pub(crate) agent: ureq::Agent,
    /// Where Management API calls go.
    pub(crate) base: Base,
    pub(crate) token: Token,
    pub(crate) timeouts: Timeouts,
    pub(crate) pacer: Pacer,
    pub(crate) retries: Retries,
    /// Delete a new asset's record when its upload fails for good.
    pub(crate) delete_on_failure: bool,
    /// Each space's asset folders, listed once.
    pub(crate) folders: PerSpace,
    /// Each space's asset tags, listed once.
    pub(crate) tags: PerSpace,
}

/// The time budgets. See [`ClientBuilder`](crate::ClientBuilder) for what each one bounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) idle: Duration,
    pub(crate) call: Duration,
    pub(crate) upload: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            idle: Duration::from_secs(30),
            call: Duration::from_secs(60),
            upload: Duration::from_secs(2 * 60 * 60),
        }
    }
}

/// The Management API base URL: one for every call, or the one each space's id names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Base {
    /// `https://mapi.storyblok.com/v1`, an emulator's URL: without a trailing slash.
    Fixed(String),
    /// The region [`Region::from_space_id`] tells, EU when it tells none.
    BySpace,
}

impl Base {
    /// The base URL for calls about `space_id`.
    pub(crate) fn url(&self, space_id: u64) -> &str {
        match self {
            Base::Fixed(url) => url,
            Base::BySpace => Region::from_space_id(space_id)
                .unwrap_or_default()
                .base_url(),
        }
    }

    /// Whether calls go to this machine (an emulator), which no proxy can reach.
    pub(crate) fn is_loopback(&self) -> bool {
        matches!(self, Base::Fixed(url) if crate::url::is_loopback(url))
    }
}

impl Session {
    /// The URL of `rest` (such as `/assets/`) under `/spaces/{space_id}`.
    pub(crate) fn space_url(&self, space_id: u64, rest: &str) -> String {
        format!("{}/spaces/{space_id}{rest}", self.base.url(space_id))
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("base", &self.base)
            .field("token", &self.token)
            .field("timeouts", &self.timeouts)
            .field("retries", &self.retries)
            .field("delete_on_failure", &self.delete_on_failure)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Client, SharedPacing, Token};

    /// A client built with neither a region nor a base URL, as `Client::new` builds it (no
    /// pacing state file).
    fn by_space() -> Client {
        Client::builder(Token::personal("token"))
            .shared_pacing(SharedPacing::Off)
            .build()
            .expect("a client")
    }

    #[test]
    fn without_region_or_base_url_each_space_goes_to_its_region() {
        let client = by_space();
        let session = client.session();
        assert_eq!(session.base, Base::BySpace);
        let us = (2u64 << 48) | 7;
        assert_eq!(
            session.space_url(us, "/assets/"),
            format!("https://api-us.storyblok.com/v1/spaces/{us}/assets/")
        );
        assert_eq!(
            session.space_url(1_500_000, "/asset_folders/"),
            "https://api-us.storyblok.com/v1/spaces/1500000/asset_folders/"
        );
        assert_eq!(
            session.space_url(184_738, "/assets/1"),
            "https://mapi.storyblok.com/v1/spaces/184738/assets/1"
        );
        // An id no rule covers goes to EU.
        assert_eq!(
            session.space_url(5_000_000, "/assets/"),
            "https://mapi.storyblok.com/v1/spaces/5000000/assets/"
        );
        assert!(!session.base.is_loopback());
    }

    #[test]
    fn a_region_or_base_url_wins_over_the_space_id() {
        let us = (2u64 << 48) | 7;
        let fixed = Base::Fixed("http://127.0.0.1:9/v1".into());
        assert_eq!(fixed.url(us), "http://127.0.0.1:9/v1");
        assert!(fixed.is_loopback());
        let client = Client::builder(Token::personal("token"))
            .shared_pacing(SharedPacing::Off)
            .region(crate::Region::Ca)
            .build()
            .expect("a client");
        assert_eq!(
            client.session().space_url(us, "/assets/"),
            format!("https://api-ca.storyblok.com/v1/spaces/{us}/assets/")
        );
    }
}
