//! Downloading an asset's file from its CDN URL, streamed through SHA-256, to tell whether
//! an existing asset holds the same bytes as a local file. No token goes along: the CDN
//! serves public files without one.

use std::io::Read;
use std::time::Duration;

use crate::codec::sha256;
use crate::error::{Error, ErrorKind, Step};
use crate::session::Session;

/// The slowest a download is allowed to be beyond the call budget: a second per MiB of the
/// file, so a large file read at any sound speed fits, and a CDN that drips a small one
/// cannot hold the sync for longer than about the call budget.
const MIN_RATE: u64 = 1024 * 1024;

/// The whole time a download of `expected` bytes may take: the call budget, plus a second
/// per MiB.
fn budget(call: Duration, expected: u64) -> Duration {
    call.saturating_add(Duration::from_secs_f64(expected as f64 / MIN_RATE as f64))
}

/// The SHA-256 (hex) of the file at `url`, reading at most `expected + 1` bytes; `None`
/// when the file is longer or shorter than `expected` (it cannot be the same file). The
/// whole download, body included, must end within [`budget`].
pub(crate) fn sha256(
    session: &Session,
    url: &str,
    expected: u64,
    asset_id: u64,
) -> Result<Option<String>, Error> {
    let at_download = |error: Error| error.at(Step::Download).asset(Some(asset_id));
    if !crate::url::is_asset_url(url, session.base.is_loopback()) {
        return Err(at_download(crate::url::refusal(url)));
    }
    let response = session
        .agent
        .get(url)
        .config()
        .timeout_global(Some(budget(session.timeouts.call, expected)))
        .timeout_recv_response(Some(session.timeouts.call))
        .build()
        .call()
        .map_err(|e| at_download(crate::retry::transport_error(e, url)))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(at_download(Error::new(ErrorKind::Download {
            status,
            url: crate::url::redacted(url),
            body: crate::body::read_body(response, crate::body::ERROR_BODY_LIMIT),
        })));
    }
    let reader = response.into_body().into_reader().take(expected + 1);
    let (hash, length) = sha256::of_reader(reader)
        .map_err(|e| at_download(Error::new(ErrorKind::Transport).caused_by(e)))?;
    Ok((length == expected).then_some(hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_the_call_budget_plus_a_second_per_mib() {
        let call = Duration::from_secs(60);
        assert_eq!(budget(call, 0), call);
        assert_eq!(budget(call, 512 * 1024), Duration::from_millis(60_500));
        assert_eq!(budget(call, 100 * MIN_RATE), Duration::from_secs(160));
        assert_eq!(budget(Duration::MAX, u64::MAX), Duration::MAX);
    }
}
