//! The one rule for every URL the SDK sends to: `https`, or plain `http` on loopback.

use std::net::IpAddr;

use crate::error::{Error, ErrorKind};

/// The authority of an absolute URL as written: user info, host and port.
fn raw_authority(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    rest.split(['/', '?', '#']).next()
}

/// The `host[:port]` of an absolute URL, without user info: what tells one server from
/// another on one machine.
pub(crate) fn authority(url: &str) -> Option<&str> {
    let authority = raw_authority(url)?;
    Some(authority.rsplit_once('@').map_or(authority, |(_, h)| h))
}

/// The host of an absolute `http(s)://` URL, without brackets, port or user info.
pub(crate) fn host(url: &str) -> Option<&str> {
    authority(url).map(host_in)
}

/// The host of a `host[:port]`, without brackets or port.
pub(crate) fn host_in(authority: &str) -> &str {
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split_once(']').map_or("", |(h, _)| h);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn scheme(url: &str) -> Option<String> {
    url.split_once("://").map(|(s, _)| s.to_ascii_lowercase())
}

/// Whether `host` names this machine: `localhost`, `127.0.0.0/8` or `::1`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` points at this machine.
pub(crate) fn is_loopback(url: &str) -> bool {
    host(url).is_some_and(is_loopback_host)
}

/// Whether `url` carries a user name or password (`https://user:pass@host/`), which an
/// HTTP client would turn into an `Authorization` header.
fn has_user_info(url: &str) -> bool {
    raw_authority(url).is_some_and(|authority| authority.contains('@'))
}

/// Whether the SDK may send to `url`: `https` anywhere, `http` only to a loopback host,
/// and never with user info.
pub(crate) fn is_allowed(url: &str) -> bool {
    if has_user_info(url) {
        return false;
    }
    let Some(host) = host(url).filter(|h| !h.is_empty()) else {
        return false;
    };
    match scheme(url).as_deref() {
        Some("https") => true,
        Some("http") => is_loopback_host(host),
        _ => false,
    }
}

/// Whether the SDK may send to `url`, a URL an answer of the API handed out (S3's
/// `post_url`, an asset's file): as [`is_allowed`], and plain `http` to loopback only when
/// the API itself is on loopback (a local stand-in), so a remote API cannot point the SDK
/// at this machine's own services.
pub(crate) fn is_allowed_from(url: &str, local_api: bool) -> bool {
    is_allowed(url) && (local_api || !is_loopback(url) || scheme(url).as_deref() == Some("https"))
}

/// The hosts Storyblok serves asset files from, one or two per region (Storyblok's
/// "Regional domains"): EU, US, Australia, Canada, China.
const ASSET_HOSTS: [&str; 8] = [
    "a.storyblok.com",
    "a2.storyblok.com",
    "a-us.storyblok.com",
    "a2-us.storyblok.com",
    "a-ap.storyblok.com",
    "a2-ap.storyblok.com",
    "a-ca.storyblok.com",
    "a.storyblokchina.cn",
];

/// Whether the SDK may fetch an asset's file from `url`, a URL an answer of the API named:
/// `https` on one of Storyblok's asset hosts, or, when the API itself is on loopback (a
/// local stand-in such as the emulator), a loopback URL it may send to.
pub(crate) fn is_asset_url(url: &str, local_api: bool) -> bool {
    if !is_allowed_from(url, local_api) {
        return false;
    }
    let Some(host) = host(url) else {
        return false;
    };
    (local_api && is_loopback_host(host))
        || (scheme(url).as_deref() == Some("https")
            && ASSET_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(host)))
}

/// The refusal of `url`, which breaks the rule: an [`ErrorKind::InsecureUrl`] naming it
/// without its user info.
pub(crate) fn refusal(url: &str) -> Error {
    Error::new(ErrorKind::InsecureUrl { url: redacted(url) })
}

/// `url` with any user name and password replaced by `[redacted]`, for messages.
pub(crate) fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://[redacted]@{host}{}", &rest[end..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere() {
        assert!(is_allowed("https://mapi.storyblok.com/v1"));
        assert!(is_allowed("HTTPS://s3.amazonaws.com/a.storyblok.com"));
    }

    #[test]
    fn http_only_on_loopback() {
        assert!(is_allowed("http://127.0.0.1:8080/v1"));
        assert!(is_allowed("http://127.1.2.3/v1"));
        assert!(is_allowed("http://localhost:1234"));
        assert!(is_allowed("http://[::1]:9000/bucket"));
        assert!(!is_allowed("http://mapi.storyblok.com/v1"));
        assert!(!is_allowed("http://10.0.0.1/v1"));
        assert!(!is_allowed("http://localhost.evil.example/v1"));
        assert!(!is_allowed("http://127.0.0.1@evil.example/"));
    }

    #[test]
    fn answers_point_at_loopback_only_for_a_local_api() {
        assert!(is_allowed_from("http://127.0.0.1:9/b", true));
        assert!(!is_allowed_from("http://127.0.0.1:9/b", false));
        assert!(is_allowed_from("https://127.0.0.1:9/b", false));
        assert!(is_allowed_from("https://a.storyblok.com/f/1", false));
    }

    #[test]
    fn asset_files_come_from_storyblok_asset_hosts() {
        for url in [
            "https://a.storyblok.com/f/1/x.png",
            "https://A2-US.storyblok.com/f/1/x.png",
            "https://a.storyblokchina.cn/f/1/x.png",
        ] {
            assert!(is_asset_url(url, false), "{url}");
        }
        for url in [
            "http://a.storyblok.com/f/1/x.png",
            "https://evil.example/f/1/x.png",
            "https://a.storyblok.com.evil.example/f/1/x.png",
            "https://s3.amazonaws.com/a.storyblok.com/f/1/x.png",
            "https://me@a.storyblok.com/f/1/x.png",
            "http://127.0.0.1:9/a.storyblok.com/f/1/x.png",
            "https://127.0.0.1:9/x.png",
        ] {
            assert!(!is_asset_url(url, false), "{url}");
        }
        // A local API (the emulator) serves its files on loopback.
        assert!(is_asset_url(
            "http://127.0.0.1:9/a.storyblok.com/f/1/x.png",
            true
        ));
        assert!(is_asset_url("https://a.storyblok.com/f/1/x.png", true));
        assert!(!is_asset_url(
            "http://10.0.0.1/a.storyblok.com/f/1/x.png",
            true
        ));
        assert!(!is_asset_url("https://evil.example/x.png", true));
    }

    #[test]
    fn user_info_is_redacted() {
        assert_eq!(
            redacted("https://me:secret@mapi.storyblok.com/v1?x=a@b"),
            "https://[redacted]@mapi.storyblok.com/v1?x=a@b"
        );
        assert_eq!(
            redacted("https://mapi.storyblok.com/v1"),
            "https://mapi.storyblok.com/v1"
        );
    }

    #[test]
    fn authorities_keep_the_port() {
        assert_eq!(
            authority("http://127.0.0.1:8080/v1"),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            authority("https://u:p@mapi.storyblok.com/v1"),
            Some("mapi.storyblok.com")
        );
        assert_eq!(authority("nope"), None);
    }

    #[test]
    fn user_info_is_refused() {
        for url in [
            "https://user:pass@s3.amazonaws.com/a.storyblok.com",
            "https://user@s3.amazonaws.com/",
            "http://a:b@127.0.0.1:9000/bucket",
        ] {
            assert!(!is_allowed(url), "{url}");
        }
        assert!(is_allowed("https://s3.amazonaws.com/a.storyblok.com?x=a@b"));
    }

    #[test]
    fn odd_urls_are_refused() {
        for url in [
            "",
            "mapi.storyblok.com",
            "ftp://127.0.0.1/",
            "https://",
            "//a.storyblok.com/f",
        ] {
            assert!(!is_allowed(url), "{url}");
        }
    }
}
