//! Downloading an asset's file from its CDN URL, streamed through SHA-256, to tell whether
//! an existing asset holds the same bytes as a local file. No token goes along: the CDN
//! serves public files without one.

use std::io::Read;

use crate::codec::sha256;
use crate::error::{Error, ErrorKind, Step};
use crate::session::Session;

/// The SHA-256 (hex) of the file at `url`, reading at most `expected + 1` bytes; `None`
/// when the file is longer or shorter than `expected` (it cannot be the same file).
pub(crate) fn sha256(
    session: &Session,
    url: &str,
    expected: u64,
    asset_id: u64,
) -> Result<Option<String>, Error> {
    let at_download = |error: Error| error.at(Step::Download).asset(Some(asset_id));
    if !crate::url::is_asset_url(url, session.base.is_loopback()) {
        return Err(at_download(Error::new(ErrorKind::InsecureUrl {
            url: crate::url::redacted(url),
        })));
    }
    let response = session
        .agent
        .get(url)
        .config()
        .timeout_global(Some(session.timeouts.upload))
        .timeout_recv_response(Some(session.timeouts.call))
        .build()
        .call()
        .map_err(|e| at_download(crate::retry::transport_error(e, url)))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(at_download(Error::new(ErrorKind::UnexpectedResponse {
            status,
            message: format!("the CDN answered {status} for {url}"),
            body: crate::mapi::read_body(response, crate::mapi::ERROR_BODY_LIMIT),
        })));
    }
    let reader = response.into_body().into_reader().take(expected + 1);
    let (hash, length) = sha256::of_reader(reader)
        .map_err(|e| at_download(Error::new(ErrorKind::Transport).caused_by(e)))?;
    Ok((length == expected).then_some(hash))
}
