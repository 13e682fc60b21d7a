//! Downloading an asset's file from its CDN URL, streamed through SHA-256: to tell whether
//! an existing asset holds the same bytes as a local file (sync), or into a file (pull).
//! No token goes along: the CDN serves public files without one.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use super::manifest::{create_temporary, temporary_name};
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
    let reader = open(session, url, expected, asset_id)?.take(expected + 1);
    let (hash, length) = sha256::of_reader(reader)
        .map_err(|e| at_download(Error::new(ErrorKind::Transport).caused_by(e)))?;
    Ok((length == expected).then_some(hash))
}

/// Downloads the file at `url`, of `expected` bytes, into `dest`: streamed through SHA-256
/// into a temporary file beside it, renamed into place only when whole. Its SHA-256 (hex).
/// A file of another length is an [`ErrorKind::UnexpectedResponse`]; nothing is left at
/// `dest` or beside it when it fails.
pub(crate) fn to_file(
    session: &Session,
    url: &str,
    expected: u64,
    asset_id: u64,
    dest: &Path,
) -> Result<String, Error> {
    let at_download = |error: Error| error.at(Step::Download).asset(Some(asset_id));
    let local = |error: std::io::Error| Error::source_io(Some(dest.to_path_buf()), error);
    let mut reader = open(session, url, expected, asset_id)?.take(expected + 1);
    let (temporary, file) = create_temporary(|| temporary_name(dest)).map_err(local)?;
    let written = (|mut file: std::fs::File| {
        let mut hasher = sha256::Sha256::new();
        let mut buffer = vec![0; 64 * 1024];
        let mut length = 0u64;
        loop {
            let read = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(at_download(Error::new(ErrorKind::Transport).caused_by(e))),
            };
            hasher.update(&buffer[..read]);
            file.write_all(&buffer[..read]).map_err(local)?;
            length += read as u64;
        }
        if length != expected {
            return Err(at_download(Error::unexpected(
                200,
                format!("the CDN sent {length} bytes of a file listed with {expected}"),
                "",
            )));
        }
        file.sync_all().map_err(local)?;
        // Closed before the rename: Windows renames no open file.
        drop(file);
        std::fs::rename(&temporary, dest).map_err(local)?;
        Ok(hasher.finish_hex())
    })(file);
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// The body of a GET of `url`, which must arrive whole within [`budget`] for `expected`
/// bytes: only from Storyblok's asset hosts (or loopback with a local API), no token, and
/// an error status as [`ErrorKind::Download`]. Read it at most `expected + 1` bytes far.
pub(crate) fn open(
    session: &Session,
    url: &str,
    expected: u64,
    asset_id: u64,
) -> Result<impl Read + Send + use<>, Error> {
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
    Ok(response.into_body().into_reader())
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
