//! Small std-only codecs, each tested against published vectors: base64 (the policy),
//! UTC dates (policy expiry, `Retry-After`), SHA-256 (the sync manifest), image headers
//! (the `size` parameter) and pseudo-random numbers (boundaries, jitter).

pub(crate) mod base64;
pub(crate) mod clock;
pub(crate) mod image_size;
pub(crate) mod random;
pub(crate) mod sha256;
