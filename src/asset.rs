//! The finished asset, and Storyblok's CDN URL for it.

use serde::Serialize;
use serde_json::Value;

/// An uploaded asset, as Storyblok describes it after the upload.
///
/// Serializes to JSON with every field, `cdn_url` included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Asset {
    /// The asset's id in its space.
    pub id: u64,
    /// The file's URL as Storyblok returned it: often the raw S3 URL
    /// (`https://s3.amazonaws.com/a.storyblok.com/f/…`).
    pub filename: String,
    /// The public CDN URL, `https://a.storyblok.com/f/…`; the image service works only
    /// on this one.
    pub cdn_url: String,
    /// Alternative text.
    pub alt: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Copyright notice.
    pub copyright: Option<String>,
    /// Focus point, such as `"420x200:421x201"`.
    pub focus: Option<String>,
    /// Whether the asset is private (served only with an asset token).
    pub is_private: bool,
}

impl Asset {
    /// Reads a finish answer: the flat `{"id", "filename", …}` or `{"asset": {…}}`.
    /// `id` and `filename` fall back to what the sign call said.
    pub(crate) fn from_finish(value: &Value, id: u64, signed_url: &str) -> Asset {
        let asset = value
            .get("asset")
            .filter(|a| a.is_object())
            .unwrap_or(value);
        let text = |name: &str| asset.get(name).and_then(Value::as_str).map(str::to_owned);
        let filename = text("filename")
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| signed_url.to_owned());
        Asset {
            id: asset.get("id").and_then(Value::as_u64).unwrap_or(id),
            cdn_url: cdn_url(&filename),
            filename,
            alt: text("alt"),
            title: text("title"),
            copyright: text("copyright"),
            focus: text("focus"),
            is_private: asset
                .get("is_private")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
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
        return format!("https://{host}{path}");
    }
    if let Some(bucket) = virtual_hosted_bucket(&lower) {
        return format!("https://{}{path}", &host[..bucket.len()]);
    }
    if crate::url::is_loopback_host(host.split(':').next().unwrap_or(host)) {
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
            "mailto:someone@example.com",
            "not a url",
            "",
        ] {
            assert_eq!(cdn_url(url), url);
        }
        // A host that merely contains "s3" is not S3.
        assert_eq!(
            cdn_url("https://mys3.amazonaws.com/b/k"),
            "https://mys3.amazonaws.com/b/k"
        );
    }

    #[test]
    fn reads_both_finish_shapes() {
        let flat = json!({"id": 7, "filename": "https://s3.amazonaws.com/a.storyblok.com/f/1/h/a.png",
            "alt": "A", "title": null, "copyright": "C", "focus": null, "is_private": true});
        let wrapped = json!({"asset": flat.clone()});
        for value in [&flat, &wrapped] {
            let asset = Asset::from_finish(value, 7, "unused");
            assert_eq!(asset.id, 7);
            assert_eq!(asset.cdn_url, "https://a.storyblok.com/f/1/h/a.png");
            assert_eq!(asset.alt.as_deref(), Some("A"));
            assert_eq!(asset.title, None);
            assert!(asset.is_private);
        }
    }

    #[test]
    fn falls_back_to_signed_data() {
        let asset = Asset::from_finish(&json!({}), 9, "//a.storyblok.com/f/1/h/b.png");
        assert_eq!(asset.id, 9);
        assert_eq!(asset.filename, "//a.storyblok.com/f/1/h/b.png");
        assert_eq!(asset.cdn_url, "https://a.storyblok.com/f/1/h/b.png");
        assert!(!asset.is_private);
    }
}
