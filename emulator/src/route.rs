//! Where a request goes, from its method and path.

use crate::{Endpoint, policy};

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `POST /v1/spaces/{space}/assets[/]`.
    Sign { space: String },
    /// `GET /v1/spaces/{space}/assets/{id}/finish_upload`.
    Finish { space: String, id: String },
    /// `DELETE /v1/spaces/{space}/assets/{id}`.
    Delete { space: String, id: String },
    /// `GET /v1/spaces/{space}/assets/{id}`.
    Get { space: String, id: String },
    /// Any other path under `/v1`; the space, if the path names one.
    OtherMapi { space: Option<String> },
    /// `POST /a.storyblok.com[/]`.
    Upload,
    /// Anything else.
    NotMapi,
}

impl Route {
    pub(crate) fn parse(method: &str, target: &str) -> Route {
        let path = target.split(['?', '#']).next().unwrap_or_default();
        let path = path.strip_suffix('/').unwrap_or(path);
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        match (method, segments.as_slice()) {
            ("POST", [bucket]) if *bucket == policy::BUCKET => Route::Upload,
            (_, ["v1", "spaces", space, "assets"]) if method == "POST" => Route::Sign {
                space: (*space).into(),
            },
            ("GET", ["v1", "spaces", space, "assets", id, "finish_upload"]) => Route::Finish {
                space: (*space).into(),
                id: (*id).into(),
            },
            ("DELETE", ["v1", "spaces", space, "assets", id]) => Route::Delete {
                space: (*space).into(),
                id: (*id).into(),
            },
            ("GET", ["v1", "spaces", space, "assets", id]) => Route::Get {
                space: (*space).into(),
                id: (*id).into(),
            },
            (_, ["v1", "spaces", space, ..]) => Route::OtherMapi {
                space: Some((*space).into()),
            },
            (_, ["v1", ..]) => Route::OtherMapi { space: None },
            _ => Route::NotMapi,
        }
    }

    pub(crate) fn endpoint(&self) -> Endpoint {
        match self {
            Route::Sign { .. } => Endpoint::Sign,
            Route::Upload => Endpoint::Upload,
            Route::Finish { .. } => Endpoint::Finish,
            Route::Delete { .. } => Endpoint::Delete,
            Route::Get { .. } | Route::OtherMapi { .. } | Route::NotMapi => Endpoint::Other,
        }
    }

    pub(crate) fn is_mapi(&self) -> bool {
        !matches!(self, Route::Upload | Route::NotMapi)
    }
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
}
