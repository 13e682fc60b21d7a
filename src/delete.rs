//! Deleting an asset record: on request ([`Client::delete`](crate::Client::delete)), and
//! as the clean-up policy for a new record whose upload failed for good
//! ([`ClientBuilder::delete_on_failure`](crate::ClientBuilder::delete_on_failure)).

use crate::error::{Error, ErrorKind, Record, Step};
use crate::mapi::{Method, call};
use crate::session::Session;

/// `DELETE /v1/spaces/{space}/assets/{id}`: removes an asset record and its file.
pub(crate) fn delete(session: &Session, space_id: u64, asset_id: u64) -> Result<(), Error> {
    call(
        session,
        Step::Delete,
        space_id,
        Some(asset_id),
        Method::Delete,
        &format!("/assets/{asset_id}"),
    )
    .map(drop)
}

/// Deletes the record of a new asset whose upload failed for good, when the session is set
/// to; an existing asset (a replace) is never touched. The error names `record`; a failed
/// delete leaves the original error.
pub(crate) fn abandon(session: &Session, space_id: u64, record: Record, error: Error) -> Error {
    let error = error.record(record);
    let Record::New(asset_id) = record else {
        return error;
    };
    if !session.delete_on_failure {
        return error;
    }
    match delete(session, space_id, asset_id) {
        Ok(()) => Error::wrap(ErrorKind::RecordDeleted, error),
        Err(_) => error,
    }
}
