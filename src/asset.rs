//! The finished asset, and Storyblok's CDN URL for it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An uploaded asset, as Storyblok describes it after the upload.
///
/// Serializes to JSON with every field, and reads back from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Asset {
    /// The asset's id in its space.
    pub id: u64,
    /// The asset's CDN URL, `https://a.storyblok.com/f/…`: what a story's asset field
    /// holds, and the only form the image service works on.
    pub filename: String,
    /// The URL as Storyblok's answer gave it, often the raw S3 URL
    /// (`https://s3.amazonaws.com/a.storyblok.com/f/…`). Do not put it in stories.
    pub raw_filename: String,
    /// Alternative text.
    #[serde(default)]
    pub alt: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Copyright notice.
    #[serde(default)]
    pub copyright: Option<String>,
    /// Focus point, such as `"420x200:421x201"`.
    #[serde(default)]
    pub focus: Option<String>,
    /// Whether the asset is private (served only with an asset token).
    #[serde(default)]
    pub is_private: bool,
}

impl Asset {
    /// Reads a finish answer: the flat `{"id", "filename", …}` or `{"asset": {…}}`.
    ///
    /// The answer must be about asset `id` (a missing id is taken as it); a `filename` that
    /// is not [`trusted`](trusted_filename) falls back to `signed.url`, the file's URL as
    /// the sign call gave it. Returns what is wrong with an answer about another asset.
    pub(crate) fn from_finish(
        value: &Value,
        id: u64,
        signed: &Signed<'_>,
    ) -> Result<Asset, String> {
        let asset = value
            .get("asset")
            .filter(|a| a.is_object())
            .unwrap_or(value);
        match asset.get("id") {
            None | Some(Value::Null) => {}
            Some(value) => match value.as_u64() {
                Some(got) if got == id => {}
                Some(other) => {
                    return Err(format!("the answer is about asset {other}, not asset {id}"));
                }
                None => return Err(format!("the answer's id {value} is not asset {id}")),
            },
        }
        let text = |name: &str| asset.get(name).and_then(Value::as_str).map(str::to_owned);
        let raw_filename = text("filename")
            .map(|f| f.trim().to_owned())
            .filter(|f| trusted_filename(f, signed))
            .unwrap_or_else(|| signed.url.to_owned());
        Ok(Asset {
            id,
            filename: cdn_url(&raw_filename),
            raw_filename,
            alt: text("alt"),
            title: text("title"),
            copyright: text("copyright"),
            focus: text("focus"),
            is_private: asset
                .get("is_private")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// What the sign call said about where the file goes, against which a finish answer's
/// `filename` is checked.
pub(crate) struct Signed<'a> {
    /// The file's URL as the sign answer gave it (`public_url`, `pretty_url`, or `post_url`
    /// and the key).
    pub(crate) url: &'a str,
    /// Where the file was posted.
    pub(crate) post_url: &'a str,
    /// Whether the Management API is on loopback (a local stand-in, such as the emulator):
    /// then so may the files be.
    pub(crate) local_api: bool,
}

/// Whether a finish answer's `filename` may stand for the asset: a URL the SDK would use
/// (https, protocol-relative as `pretty_url`, or http to loopback for a local API) on the
/// host of a URL the sign call gave or on one of Storyblok's asset hosts, whose CDN form
/// ([`cdn_url`]) stays on such a host too (a path-style S3 URL names its bucket in the
/// path). Anything else could put another site's file in a story.
fn trusted_filename(filename: &str, signed: &Signed<'_>) -> bool {
    let absolute = |url: &str| match url.strip_prefix("//") {
        Some(rest) => format!("https://{rest}"),
        None => url.to_owned(),
    };
    let same_host = |a: &str, b: &str| {
        matches!((crate::url::host(a), crate::url::host(b)),
            (Some(a), Some(b)) if !a.is_empty() && a.eq_ignore_ascii_case(b))
    };
    let raw = absolute(filename);
    if !crate::url::is_allowed_from(&raw, signed.local_api) {
        return false;
    }
    let signed_url = absolute(signed.url);
    let raw_host_ok = crate::url::is_asset_url(&raw, signed.local_api)
        || same_host(&raw, &signed_url)
        || same_host(&raw, signed.post_url);
    let cdn = cdn_url(&raw);
    let cdn_host_ok =
        crate::url::is_asset_url(&cdn, signed.local_api) || same_host(&cdn, &cdn_url(&signed_url));
    raw_host_ok && cdn_host_ok
}

/// The CDN form of an asset URL: the S3 bucket's own host over https.
///
/// - `https://s3.amazonaws.com/a.storyblok.com/f/…` (path style, any S3 regional host)
///   → `https://a.storyblok.com/f/…`;
/// - `https://a.storyblok.com.s3.amazonaws.com/f/…` (virtual-hosted) → the same;
/// - `//a.storyblok.com/f/…` (protocol-relative, as in `pretty_url`) and `http://` → `https://`;
/// - anything else is kept as it is.
///
/// ```
/// use storyblok_assets::cdn_url;
///
/// assert_eq!(
///     cdn_url("https://s3.amazonaws.com/a.storyblok.com/f/184738/9fe59e1868/mars.jpg"),
///     "https://a.storyblok.com/f/184738/9fe59e1868/mars.jpg"
/// );
/// assert_eq!(
///     cdn_url("//a.storyblok.com/f/184738/9fe59e1868/mars.jpg"),
///     "https://a.storyblok.com/f/184738/9fe59e1868/mars.jpg"
/// );
/// ```
pub fn cdn_url(url: &str) -> String {
    let url = url.trim();
    let rest = if let Some(rest) = url.strip_prefix("//") {
        rest
    } else if let Some((scheme, rest)) = url.split_once("://") {
        if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
            return url.to_owned();
        }
        rest
    } else {
        return url.to_owned();
    };
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let lower = host.to_ascii_lowercase();
    if is_s3_host(&lower) {
        // Path style: the first segment is the bucket.
        let path = path.trim_start_matches('/');
        if let Some((bucket, key)) = path.split_once('/') {
            return format!("https://{bucket}/{key}");
        }
        return format!("https://{host}/{path}");
    }
    if let Some(bucket) = virtual_hosted_bucket(&lower) {
        return format!("https://{}{path}", &host[..bucket.len()]);
    }
    if crate::url::is_loopback_host(crate::url::host_in(host)) {
        return url.to_owned(); // a local emulator serves plain http
    }
    format!("https://{host}{path}")
}

/// `s3.amazonaws.com`, `s3.eu-central-1.amazonaws.com`, `s3-eu-west-1.amazonaws.com`.
fn is_s3_host(host: &str) -> bool {
    host.strip_suffix(".amazonaws.com")
        .is_some_and(|h| h == "s3" || h.starts_with("s3.") || h.starts_with("s3-"))
}

/// `bucket` of `bucket.s3.amazonaws.com` and its regional forms.
fn virtual_hosted_bucket(host: &str) -> Option<&str> {
    let base = host.strip_suffix(".amazonaws.com")?;
    let at = base.rfind(".s3").filter(|&at| {
        let tail = &base[at + 3..];
        tail.is_empty() || tail.starts_with('.') || tail.starts_with('-')
    })?;
    (at > 0).then(|| &base[..at])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalises_every_known_form() {
        let cdn = "https://a.storyblok.com/f/1/abc/mars.jpg";
        for url in [
            "https://s3.amazonaws.com/a.storyblok.com/f/1/abc/mars.jpg",
            "https://s3.eu-central-1.amazonaws.com/a.storyblok.com/f/1/abc/mars.jpg",
            "https://s3-eu-west-1.amazonaws.com/a.storyblok.com/f/1/abc/mars.jpg",
            "https://a.storyblok.com.s3.amazonaws.com/f/1/abc/mars.jpg",
            "https://a.storyblok.com.s3.us-east-1.amazonaws.com/f/1/abc/mars.jpg",
            "//a.storyblok.com/f/1/abc/mars.jpg",
            "http://a.storyblok.com/f/1/abc/mars.jpg",
            "https://a.storyblok.com/f/1/abc/mars.jpg",
            "  https://a.storyblok.com/f/1/abc/mars.jpg ",
        ] {
            assert_eq!(cdn_url(url), cdn, "{url}");
        }
        assert_eq!(
            cdn_url("https://s3.amazonaws.com/a-us.storyblok.com/f/1/x.png"),
            "https://a-us.storyblok.com/f/1/x.png"
        );
    }

    #[test]
    fn leaves_other_urls_alone() {
        for url in [
            "http://127.0.0.1:8080/a.storyblok.com/f/1/x.png",
            "http://[::1]:8080/a.storyblok.com/f/1/x.png",
            "http://localhost/x.png",
            "mailto:someone@example.com",
            "not a url",
            "",
        ] {
            assert_eq!(cdn_url(url), url);
        }
        // A bucket with no key keeps the slash between host and bucket.
        assert_eq!(
            cdn_url("https://s3.amazonaws.com/a.storyblok.com"),
            "https://s3.amazonaws.com/a.storyblok.com"
        );
        // A host that merely contains "s3" is not S3.
        assert_eq!(
            cdn_url("https://mys3.amazonaws.com/b/k"),
            "https://mys3.amazonaws.com/b/k"
        );
    }

    /// What Storyblok's sign answer says: the raw S3 URL and the bucket's `post_url`.
    const STORYBLOK: Signed<'static> = Signed {
        url: "https://s3.amazonaws.com/a.storyblok.com/f/1/h/b.png",
        post_url: "https://s3.amazonaws.com/a.storyblok.com",
        local_api: false,
    };

    #[test]
    fn reads_both_finish_shapes() {
        let flat = json!({"id": 7, "filename": "https://s3.amazonaws.com/a.storyblok.com/f/1/h/a.png",
            "alt": "A", "title": null, "copyright": "C", "focus": null, "is_private": true});
        let wrapped = json!({"asset": flat.clone()});
        for value in [&flat, &wrapped] {
            let asset = Asset::from_finish(value, 7, &STORYBLOK).expect("asset 7");
            assert_eq!(asset.id, 7);
            assert_eq!(asset.filename, "https://a.storyblok.com/f/1/h/a.png");
            assert_eq!(
                asset.raw_filename,
                "https://s3.amazonaws.com/a.storyblok.com/f/1/h/a.png"
            );
            assert_eq!(asset.alt.as_deref(), Some("A"));
            assert_eq!(asset.title, None);
            assert!(asset.is_private);
        }
    }

    #[test]
    fn falls_back_to_signed_data() {
        let pretty = Signed {
            url: "//a.storyblok.com/f/1/h/b.png",
            ..STORYBLOK
        };
        let asset = Asset::from_finish(&json!({}), 9, &pretty).expect("asset");
        assert_eq!(asset.id, 9);
        assert_eq!(asset.raw_filename, "//a.storyblok.com/f/1/h/b.png");
        assert_eq!(asset.filename, "https://a.storyblok.com/f/1/h/b.png");
        assert!(!asset.is_private);
        for unusable in ["javascript:alert(1)", "http://evil.example/x.png", "x", ""] {
            let answer = json!({"id": 9, "filename": unusable});
            let asset = Asset::from_finish(&answer, 9, &pretty).expect("asset");
            assert_eq!(
                asset.filename, "https://a.storyblok.com/f/1/h/b.png",
                "{unusable}"
            );
        }
    }

    #[test]
    fn a_filename_elsewhere_than_the_signed_or_asset_hosts_falls_back() {
        let kept = |filename: &str, signed: &Signed<'_>| {
            let answer = json!({"id": 9, "filename": filename});
            let asset = Asset::from_finish(&answer, 9, signed).expect("asset");
            asset.raw_filename == filename
        };
        for elsewhere in [
            "https://evil.example/x.png",
            "//evil.example/x.png",
            "https://a.storyblok.com.evil.example/f/1/x.png",
            // The signed S3 host, but another bucket: its CDN form is another site.
            "https://s3.amazonaws.com/evil.example/x.png",
            "https://evil.example.s3.amazonaws.com/x.png",
            // Loopback, from a remote API.
            "https://127.0.0.1/a.storyblok.com/f/1/x.png",
        ] {
            assert!(!kept(elsewhere, &STORYBLOK), "{elsewhere}");
        }
        for trusted in [
            "https://s3.amazonaws.com/a.storyblok.com/f/1/h/a.png",
            "https://a.storyblok.com/f/1/h/a.png",
            "https://a2-us.storyblok.com/f/1/h/a.png",
            "//a.storyblok.com/f/1/h/a.png",
        ] {
            assert!(kept(trusted, &STORYBLOK), "{trusted}");
        }
        // A local API (the emulator) serves its files on loopback.
        let local = Signed {
            url: "http://127.0.0.1:9/a.storyblok.com/f/1/h/b.png",
            post_url: "http://127.0.0.1:9/a.storyblok.com",
            local_api: true,
        };
        assert!(kept(
            "http://127.0.0.1:9/a.storyblok.com/f/1/h/a.png",
            &local
        ));
        assert!(!kept("https://evil.example/x.png", &local));
    }

    #[test]
    fn an_answer_about_another_asset_is_refused() {
        let other = Asset::from_finish(&json!({"id": 8}), 9, &STORYBLOK).expect_err("another");
        assert!(other.contains("asset 8"), "{other}");
        assert!(Asset::from_finish(&json!({"asset": {"id": "9"}}), 9, &STORYBLOK).is_err());
        assert!(Asset::from_finish(&json!({"id": null}), 9, &STORYBLOK).is_ok());
    }

    #[test]
    fn reads_back_its_own_json() {
        let asset =
            Asset::from_finish(&json!({"id": 3, "alt": "A"}), 3, &STORYBLOK).expect("asset");
        let text = serde_json::to_string(&asset).expect("json");
        assert_eq!(serde_json::from_str::<Asset>(&text).expect("reads"), asset);
    }
}
