//! Storyblok's regions and their Management API base URLs.

use std::fmt;
use std::str::FromStr;

/// The region a Storyblok space lives in. Each has its own Management API host; a token
/// or space id of one region gives 401 or 404 at another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Region {
    /// Europe, `https://mapi.storyblok.com/v1` (the default).
    #[default]
    Eu,
    /// United States, `https://api-us.storyblok.com/v1`.
    Us,
    /// Canada, `https://api-ca.storyblok.com/v1`.
    Ca,
    /// Australia (Asia-Pacific), `https://api-ap.storyblok.com/v1`.
    Ap,
    /// China, `https://app.storyblokchina.cn/v1`.
    Cn,
}

impl Region {
    /// Every region, in the order above.
    pub const ALL: [Region; 5] = [Region::Eu, Region::Us, Region::Ca, Region::Ap, Region::Cn];

    /// The Management API base URL, without a trailing slash.
    pub fn base_url(self) -> &'static str {
        match self {
            Region::Eu => "https://mapi.storyblok.com/v1",
            Region::Us => "https://api-us.storyblok.com/v1",
            Region::Ca => "https://api-ca.storyblok.com/v1",
            Region::Ap => "https://api-ap.storyblok.com/v1",
            Region::Cn => "https://app.storyblokchina.cn/v1",
        }
    }

    /// The short code: `eu`, `us`, `ca`, `ap` or `cn`.
    pub fn code(self) -> &'static str {
        match self {
            Region::Eu => "eu",
            Region::Us => "us",
            Region::Ca => "ca",
            Region::Ap => "ap",
            Region::Cn => "cn",
        }
    }

    /// The region a space id belongs to, as Storyblok assigns them.
    ///
    /// Ids from 2^48 carry the region in bits 48..53 (0 or 1 EU, 2 US, 3 CA, 4 AP, 6 CN).
    /// Older ids go by range: below 1,000,000 EU (China's old ids share that range, so a
    /// Chinese space with a small id must set [`Region::Cn`] itself), then US, CA and AP
    /// a million each. Returns `None` for ids no rule covers (from 4,000,000 below 2^48,
    /// unknown region bits, 2^53 and above).
    ///
    /// ```
    /// use storyblok_assets::Region;
    ///
    /// assert_eq!(Region::from_space_id(184_738), Some(Region::Eu));
    /// assert_eq!(Region::from_space_id(1_500_000), Some(Region::Us));
    /// assert_eq!(Region::from_space_id((3 << 48) | 42), Some(Region::Ca));
    /// ```
    pub fn from_space_id(space_id: u64) -> Option<Region> {
        const TAGGED: u64 = 1 << 48;
        const INVALID: u64 = 1 << 53;
        match space_id {
            INVALID.. => None,
            TAGGED.. => match (space_id >> 48) & 0b1_1111 {
                0 | 1 => Some(Region::Eu),
                2 => Some(Region::Us),
                3 => Some(Region::Ca),
                4 => Some(Region::Ap),
                6 => Some(Region::Cn),
                _ => None,
            },
            0..1_000_000 => Some(Region::Eu),
            1_000_000..2_000_000 => Some(Region::Us),
            2_000_000..3_000_000 => Some(Region::Ca),
            3_000_000..4_000_000 => Some(Region::Ap),
            _ => None,
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The error of parsing a [`Region`] from an unknown code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownRegion(String);

impl fmt::Display for UnknownRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown region {:?}: expected one of eu, us, ca, ap, cn",
            self.0
        )
    }
}

impl std::error::Error for UnknownRegion {}

impl FromStr for Region {
    type Err = UnknownRegion;

    /// Parses `eu`, `us`, `ca`, `ap` or `cn`, in any case.
    fn from_str(s: &str) -> Result<Region, UnknownRegion> {
        Region::ALL
            .into_iter()
            .find(|r| r.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRegion(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_ids() {
        let tagged = |code: u64| (code << 48) | 123;
        assert_eq!(Region::from_space_id(tagged(0)), Some(Region::Eu));
        assert_eq!(Region::from_space_id(tagged(1)), Some(Region::Eu));
        assert_eq!(Region::from_space_id(tagged(2)), Some(Region::Us));
        assert_eq!(Region::from_space_id(tagged(3)), Some(Region::Ca));
        assert_eq!(Region::from_space_id(tagged(4)), Some(Region::Ap));
        assert_eq!(Region::from_space_id(tagged(5)), None);
        assert_eq!(Region::from_space_id(tagged(6)), Some(Region::Cn));
        assert_eq!(Region::from_space_id(tagged(31)), None);
        assert_eq!(Region::from_space_id(1 << 53), None);
        assert_eq!(Region::from_space_id(u64::MAX), None);
    }

    #[test]
    fn legacy_ranges_and_their_edges() {
        assert_eq!(Region::from_space_id(0), Some(Region::Eu));
        assert_eq!(Region::from_space_id(999_999), Some(Region::Eu));
        assert_eq!(Region::from_space_id(1_000_000), Some(Region::Us));
        assert_eq!(Region::from_space_id(2_000_000), Some(Region::Ca));
        assert_eq!(Region::from_space_id(3_999_999), Some(Region::Ap));
        assert_eq!(Region::from_space_id(4_000_000), None);
        assert_eq!(Region::from_space_id((1 << 48) - 1), None);
    }

    #[test]
    fn codes_round_trip() {
        for region in Region::ALL {
            assert_eq!(region.code().parse::<Region>(), Ok(region));
            assert!(region.base_url().starts_with("https://"));
        }
        assert_eq!(" US ".parse::<Region>(), Ok(Region::Us));
        assert!("mars".parse::<Region>().is_err());
    }
}
