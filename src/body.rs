//! Reading a response body within a size cap, keeping what arrived when it breaks off:
//! for Management API answers, S3's errors and CDN downloads alike.

use std::io::Read;

/// The most of an error body the SDK reads (S3's XML, a proxy's page): a few KiB say
/// enough.
pub(crate) const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// The most of a Management API answer the SDK reads: a page of 100 assets, a space's
/// folders, a sign answer echoing large `meta_data`.
pub(crate) const ANSWER_LIMIT: u64 = 8 * 1024 * 1024;

/// Reads at most `limit` bytes of an error answer's body as (lossy) UTF-8. A body that
/// breaks off gives what arrived: for an error answer the status already says enough.
pub(crate) fn read_body(response: ureq::http::Response<ureq::Body>, limit: u64) -> String {
    read_whole(response, limit).unwrap_or_else(|broken| broken.partial)
}

/// A body that broke off before its end: what arrived, and why it stopped.
pub(crate) struct Broken {
    pub(crate) partial: String,
    pub(crate) error: std::io::Error,
}

/// Reads at most `limit` bytes of a body as (lossy) UTF-8; a body longer than that is cut
/// there. A read that fails first (a timeout, a reset) is an error, with what arrived.
pub(crate) fn read_whole(
    response: ureq::http::Response<ureq::Body>,
    limit: u64,
) -> Result<String, Broken> {
    let mut bytes = Vec::new();
    let read = response
        .into_body()
        .into_reader()
        .take(limit)
        .read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match read {
        Ok(_) => Ok(text),
        Err(error) => Err(Broken {
            partial: text,
            error,
        }),
    }
}
