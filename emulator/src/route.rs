//! Where a request goes, from its method and path.

use crate::{Endpoint, policy};

/// Where a request goes. The space and asset id a path names are parsed here, once: `None`
/// when they are not numbers (the route, and so the endpoint, is the same either way).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `POST /v1/spaces/{space}/assets[/]`.
    Sign { space: Option<u64> },
    /// `GET /v1/spaces/{space}/assets[/]`.
    ListAssets { space: Option<u64> },
    /// `GET /v1/spaces/{space}/assets/{id}/finish_upload`.
    Finish { space: Option<u64>, id: Option<u64> },
    /// `DELETE /v1/spaces/{space}/assets/{id}`.
    Delete { space: Option<u64>, id: Option<u64> },
    /// `GET /v1/spaces/{space}/assets/{id}`.
    Get { space: Option<u64>, id: Option<u64> },
    /// `PUT` or `PATCH /v1/spaces/{space}/assets/{id}` (Storyblok's docs say PUT, its
    /// OpenAPI spec and official TypeScript client PATCH; it answers both).
    Update { space: Option<u64>, id: Option<u64> },
    /// `GET /v1/spaces/{space}/asset_folders[/]`.
    ListFolders { space: Option<u64> },
    /// `GET /v1/spaces/{space}/asset_folders/{id}`.
    GetFolder { space: Option<u64>, id: Option<u64> },
    /// `POST /v1/spaces/{space}/asset_folders[/]`.
    CreateFolder { space: Option<u64> },
    /// `GET /v1/spaces/{space}/internal_tags[/]`.
    ListTags { space: Option<u64> },
    /// `POST /v1/spaces/{space}/internal_tags[/]`.
    CreateTag { space: Option<u64> },
    /// Any other path under `/v1`; the space, if the path names one.
    OtherMapi { space: Option<u64> },
    /// `POST /a.storyblok.com[/]`.
    Upload,
    /// `GET` or `HEAD /a.storyblok.com/{key}`, the key percent-decoded (the HTTP layer sends
    /// no body in the answer to a `HEAD`).
    Download { key: String },
    /// Anything else.
    NotMapi,
}

impl Route {
    pub(crate) fn parse(method: &str, target: &str) -> Route {
        let path = target.split(['?', '#']).next().unwrap_or_default();
        let path = path.strip_suffix('/').unwrap_or(path);
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let number = |segment: &str| segment.parse::<u64>().ok();
        match (method, segments.as_slice()) {
            ("POST", [bucket]) if *bucket == policy::BUCKET => Route::Upload,
            ("GET" | "HEAD", [bucket, _, ..]) if *bucket == policy::BUCKET => Route::Download {
                key: percent_decode(
                    path.get(policy::BUCKET.len() + 2..).unwrap_or_default(),
                    false,
                ),
            },
            ("POST", ["v1", "spaces", s, "assets"]) => Route::Sign { space: number(s) },
            ("GET", ["v1", "spaces", s, "assets"]) => Route::ListAssets { space: number(s) },
            ("GET", ["v1", "spaces", s, "assets", id, "finish_upload"]) => Route::Finish {
                space: number(s),
                id: number(id),
            },
            ("DELETE", ["v1", "spaces", s, "assets", id]) => Route::Delete {
                space: number(s),
                id: number(id),
            },
            ("GET", ["v1", "spaces", s, "assets", id]) => Route::Get {
                space: number(s),
                id: number(id),
            },
            ("PUT" | "PATCH", ["v1", "spaces", s, "assets", id]) => Route::Update {
                space: number(s),
                id: number(id),
            },
            ("GET", ["v1", "spaces", s, "asset_folders"]) => {
                Route::ListFolders { space: number(s) }
            }
            ("GET", ["v1", "spaces", s, "asset_folders", id]) => Route::GetFolder {
                space: number(s),
                id: number(id),
            },
            ("POST", ["v1", "spaces", s, "asset_folders"]) => {
                Route::CreateFolder { space: number(s) }
            }
            ("GET", ["v1", "spaces", s, "internal_tags"]) => Route::ListTags { space: number(s) },
            ("POST", ["v1", "spaces", s, "internal_tags"]) => Route::CreateTag { space: number(s) },
            (_, ["v1", "spaces", s, ..]) => Route::OtherMapi { space: number(s) },
            (_, ["v1", ..]) => Route::OtherMapi { space: None },
            _ => Route::NotMapi,
        }
    }

    pub(crate) fn endpoint(&self) -> Endpoint {
        match self {
            Route::Sign { .. } => Endpoint::Sign,
            Route::ListAssets { .. } => Endpoint::ListAssets,
            Route::Upload => Endpoint::Upload,
            Route::Finish { .. } => Endpoint::Finish,
            Route::Delete { .. } => Endpoint::Delete,
            Route::Update { .. } => Endpoint::UpdateAsset,
            Route::ListFolders { .. } => Endpoint::ListFolders,
            Route::GetFolder { .. } => Endpoint::GetFolder,
            Route::CreateFolder { .. } => Endpoint::CreateFolder,
            Route::ListTags { .. } => Endpoint::ListTags,
            Route::CreateTag { .. } => Endpoint::CreateTag,
            Route::Download { .. } => Endpoint::Download,
            Route::Get { .. } | Route::OtherMapi { .. } | Route::NotMapi => Endpoint::Other,
        }
    }

    pub(crate) fn is_mapi(&self) -> bool {
        !matches!(
            self,
            Route::Upload | Route::Download { .. } | Route::NotMapi
        )
    }

    /// The space the path names, if it names one as a number.
    pub(crate) fn space(&self) -> Option<u64> {
        match *self {
            Route::Sign { space }
            | Route::ListAssets { space }
            | Route::Finish { space, .. }
            | Route::Delete { space, .. }
            | Route::Get { space, .. }
            | Route::Update { space, .. }
            | Route::ListFolders { space }
            | Route::GetFolder { space, .. }
            | Route::CreateFolder { space }
            | Route::ListTags { space }
            | Route::CreateTag { space }
            | Route::OtherMapi { space } => space,
            Route::Upload | Route::Download { .. } | Route::NotMapi => None,
        }
    }
}

/// Percent-decodes a URL path (`plus_is_space` false: `+` stays a plus) or a form-encoded
/// name or value (`plus_is_space` true: `+` is a space). An escape that is not `%` and two
/// hex digits is kept as it is.
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') if plus_is_space => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let sign = Route::Sign { space: Some(606) };
        assert_eq!(Route::parse("POST", "/v1/spaces/606/assets/"), sign);
        assert_eq!(Route::parse("POST", "/v1/spaces/606/assets"), sign);
        assert_eq!(
            Route::parse("POST", "/v1/spaces/606/assets/?filename=a.png"),
            sign
        );
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/assets/7/finish_upload").endpoint(),
            Endpoint::Finish
        );
        assert_eq!(
            Route::parse("DELETE", "/v1/spaces/606/assets/7").endpoint(),
            Endpoint::Delete
        );
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/assets/7"),
            Route::Get {
                space: Some(606),
                id: Some(7)
            }
        );
        // An id that is not a number keeps the route (and its endpoint), with no id.
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/assets/x/finish_upload"),
            Route::Finish {
                space: Some(606),
                id: None
            }
        );
        assert_eq!(Route::parse("GET", "/v1/spaces/x/assets").space(), None);
        assert_eq!(Route::parse("POST", "/a.storyblok.com"), Route::Upload);
        assert_eq!(Route::parse("POST", "/a.storyblok.com/"), Route::Upload);
        assert_eq!(Route::parse("PUT", "/a.storyblok.com"), Route::NotMapi);
        assert_eq!(Route::parse("GET", "/"), Route::NotMapi);
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/stories"),
            Route::OtherMapi { space: Some(606) }
        );
        assert!(Route::parse("GET", "/v1/whatever").is_mapi());
    }

    #[test]
    fn library_routes() {
        let space = Some(606);
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/assets/?search=mars&page=2"),
            Route::ListAssets { space }
        );
        assert_eq!(
            Route::parse("PUT", "/v1/spaces/606/assets/7"),
            Route::Update { space, id: Some(7) }
        );
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/asset_folders/"),
            Route::ListFolders { space }
        );
        assert_eq!(
            Route::parse("POST", "/v1/spaces/606/asset_folders"),
            Route::CreateFolder { space }
        );
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/internal_tags?by_object_type=asset"),
            Route::ListTags { space }
        );
        assert_eq!(
            Route::parse("POST", "/v1/spaces/606/internal_tags"),
            Route::CreateTag { space }
        );
        assert_eq!(
            Route::parse("PUT", "/v1/spaces/606/asset_folders/3").endpoint(),
            Endpoint::Other
        );
        assert_eq!(
            Route::parse("GET", "/a.storyblok.com/f/606/ab/m%C3%A4rs%20x.png?x=1"),
            Route::Download {
                key: "f/606/ab/märs x.png".into(),
            }
        );
        assert_eq!(
            Route::parse("HEAD", "/a.storyblok.com/f/1/a+b.png"),
            Route::Download {
                key: "f/1/a+b.png".into(),
            }
        );
        assert_eq!(Route::parse("GET", "/a.storyblok.com"), Route::NotMapi);
        assert_eq!(Route::parse("GET", "/a.storyblok.com/"), Route::NotMapi);
        assert_eq!(
            Route::parse("DELETE", "/a.storyblok.com/f/1/a.png"),
            Route::NotMapi
        );
        assert!(!Route::parse("GET", "/a.storyblok.com/k").is_mapi());
        assert_eq!(Route::parse("GET", "/v1/spaces/9/x").space(), Some(9));
        assert_eq!(Route::parse("GET", "/v1/x").space(), None);
    }

    #[test]
    fn paths_decode() {
        for plus_is_space in [false, true] {
            let decode = |s: &str| percent_decode(s, plus_is_space);
            assert_eq!(decode("100%"), "100%");
            assert_eq!(decode("%zz%4"), "%zz%4");
            assert_eq!(decode("%zz"), "%zz");
            assert_eq!(decode("%E2%82%AC"), "€");
        }
        // A sign is not a hex digit, though u8::from_str_radix takes one.
        assert_eq!(percent_decode("%-1%+1", false), "%-1%+1");
        assert_eq!(percent_decode("%-1%+1", true), "%-1% 1");
        assert_eq!(percent_decode("a%2Fb%20c+d", false), "a/b c+d");
        assert_eq!(percent_decode("a%2Fb%20c+d", true), "a/b c d");
    }
}
