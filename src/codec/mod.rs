//! Small std-only codecs: base64 (the policy), UTC dates (policy expiry, `x-amz-date`,
//! `Retry-After`, listing times), SHA-256 (the sync manifest), image headers (the `size`
//! parameter) and pseudo-random numbers (boundaries, jitter). Base64 and SHA-256 are
//! tested against published vectors (RFC 4648, FIPS 180); dates against known instants;
//! image headers against headers built by hand, and garbage; random numbers for range
//! and spread.

pub(crate) mod base64;
pub(crate) mod clock;
pub(crate) mod image_size;
pub(crate) mod random;
pub(crate) mod sha256;
