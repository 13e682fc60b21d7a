//! What the SDK knows of S3's browser-POST upload: the multipart form it sends
//! ([`form`]), the signed policy it reads before sending ([`policy`]) and the XML error
//! documents S3 answers with ([`xml`]).

pub(crate) mod form;
pub(crate) mod policy;
pub(crate) mod xml;
