//! Where a request goes, from its method and path.

use crate::{Endpoint, policy};

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `POST /v1/spaces/{space}/assets[/]`.
    Sign { space: String },
    /// `GET /v1/spaces/{space}/assets[/]`.
    ListAssets { space: String },
    /// `GET /v1/spaces/{space}/assets/{id}/finish_upload`.
    Finish { space: String, id: String },
    /// `DELETE /v1/spaces/{space}/assets/{id}`.
    Delete { space: String, id: String },
    /// `GET /v1/spaces/{space}/assets/{id}`.
    Get { space: String, id: String },
    /// `PUT /v1/spaces/{space}/assets/{id}`.
    Update { space: String, id: String },
    /// `GET /v1/spaces/{space}/asset_folders[/]`.
    ListFolders { space: String },
    /// `POST /v1/spaces/{space}/asset_folders[/]`.
    CreateFolder { space: String },
    /// `GET /v1/spaces/{space}/internal_tags[/]`.
    ListTags { space: String },
    /// `POST /v1/spaces/{space}/internal_tags[/]`.
    CreateTag { space: String },
    /// Any other path under `/v1`; the space, if the path names one.
    OtherMapi { space: Option<String> },
    /// `POST /a.storyblok.com[/]`.
    Upload,
    /// `GET` or `HEAD /a.storyblok.com/{key}`, the key percent-decoded.
    Download { key: String, head_only: bool },
    /// Anything else.
    NotMapi,
}

impl Route {
    pub(crate) fn parse(method: &str, target: &str) -> Route {
        let path = target.split(['?', '#']).next().unwrap_or_default();
        let path = path.strip_suffix('/').unwrap_or(path);
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let space = |space: &&str| (*space).to_string();
        match (method, segments.as_slice()) {
            ("POST", [bucket]) if *bucket == policy::BUCKET => Route::Upload,
            ("GET" | "HEAD", [bucket, _, ..]) if *bucket == policy::BUCKET => Route::Download {
                key: percent_decode_path(path.get(policy::BUCKET.len() + 2..).unwrap_or_default()),
                head_only: method == "HEAD",
            },
            ("POST", ["v1", "spaces", s, "assets"]) => Route::Sign { space: space(s) },
            ("GET", ["v1", "spaces", s, "assets"]) => Route::ListAssets { space: space(s) },
            ("GET", ["v1", "spaces", s, "assets", id, "finish_upload"]) => Route::Finish {
                space: space(s),
                id: (*id).into(),
            },
            ("DELETE", ["v1", "spaces", s, "assets", id]) => Route::Delete {
                space: space(s),
                id: (*id).into(),
            },
            ("GET", ["v1", "spaces", s, "assets", id]) => Route::Get {
                space: space(s),
                id: (*id).into(),
            },
            ("PUT", ["v1", "spaces", s, "assets", id]) => Route::Update {
                space: space(s),
                id: (*id).into(),
            },
            ("GET", ["v1", "spaces", s, "asset_folders"]) => Route::ListFolders { space: space(s) },
            ("POST", ["v1", "spaces", s, "asset_folders"]) => {
                Route::CreateFolder { space: space(s) }
            }
            ("GET", ["v1", "spaces", s, "internal_tags"]) => Route::ListTags { space: space(s) },
            ("POST", ["v1", "spaces", s, "internal_tags"]) => Route::CreateTag { space: space(s) },
            (_, ["v1", "spaces", s, ..]) => Route::OtherMapi {
                space: Some(space(s)),
            },
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

    /// The space the path names, if it names one.
    pub(crate) fn space(&self) -> Option<&str> {
        match self {
            Route::Sign { space }
            | Route::ListAssets { space }
            | Route::Finish { space, .. }
            | Route::Delete { space, .. }
            | Route::Get { space, .. }
            | Route::Update { space, .. }
            | Route::ListFolders { space }
            | Route::CreateFolder { space }
            | Route::ListTags { space }
            | Route::CreateTag { space }
            | Route::OtherMapi { space: Some(space) } => Some(space),
            Route::OtherMapi { space: None }
            | Route::Upload
            | Route::Download { .. }
            | Route::NotMapi => None,
        }
    }
}

/// Percent-decodes a URL path (`+` stays a plus); invalid escapes are kept as they are.
pub(crate) fn percent_decode_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let sign = Route::Sign {
            space: "606".into(),
        };
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
                space: "606".into(),
                id: "7".into()
            }
        );
        assert_eq!(Route::parse("POST", "/a.storyblok.com"), Route::Upload);
        assert_eq!(Route::parse("POST", "/a.storyblok.com/"), Route::Upload);
        assert_eq!(Route::parse("PUT", "/a.storyblok.com"), Route::NotMapi);
        assert_eq!(Route::parse("GET", "/"), Route::NotMapi);
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/stories"),
            Route::OtherMapi {
                space: Some("606".into())
            }
        );
        assert!(Route::parse("GET", "/v1/whatever").is_mapi());
    }

    #[test]
    fn library_routes() {
        let space = || "606".to_string();
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/assets/?search=mars&page=2"),
            Route::ListAssets { space: space() }
        );
        assert_eq!(
            Route::parse("PUT", "/v1/spaces/606/assets/7"),
            Route::Update {
                space: space(),
                id: "7".into()
            }
        );
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/asset_folders/"),
            Route::ListFolders { space: space() }
        );
        assert_eq!(
            Route::parse("POST", "/v1/spaces/606/asset_folders"),
            Route::CreateFolder { space: space() }
        );
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/internal_tags?by_object_type=asset"),
            Route::ListTags { space: space() }
        );
        assert_eq!(
            Route::parse("POST", "/v1/spaces/606/internal_tags"),
            Route::CreateTag { space: space() }
        );
        assert_eq!(
            Route::parse("PUT", "/v1/spaces/606/asset_folders/3").endpoint(),
            Endpoint::Other
        );
        assert_eq!(
            Route::parse("GET", "/a.storyblok.com/f/606/ab/m%C3%A4rs%20x.png?x=1"),
            Route::Download {
                key: "f/606/ab/märs x.png".into(),
                head_only: false
            }
        );
        assert_eq!(
            Route::parse("HEAD", "/a.storyblok.com/f/1/a+b.png"),
            Route::Download {
                key: "f/1/a+b.png".into(),
                head_only: true
            }
        );
        assert_eq!(Route::parse("GET", "/a.storyblok.com"), Route::NotMapi);
        assert_eq!(Route::parse("GET", "/a.storyblok.com/"), Route::NotMapi);
        assert_eq!(
            Route::parse("DELETE", "/a.storyblok.com/f/1/a.png"),
            Route::NotMapi
        );
        assert!(!Route::parse("GET", "/a.storyblok.com/k").is_mapi());
        assert_eq!(Route::parse("GET", "/v1/spaces/9/x").space(), Some("9"));
        assert_eq!(Route::parse("GET", "/v1/x").space(), None);
    }

    #[test]
    fn paths_decode() {
        assert_eq!(percent_decode_path("a%2Fb%20c+d"), "a/b c+d");
        assert_eq!(percent_decode_path("100%"), "100%");
        assert_eq!(percent_decode_path("%zz%4"), "%zz%4");
        assert_eq!(percent_decode_path("%E2%82%AC"), "€");
    }
}
