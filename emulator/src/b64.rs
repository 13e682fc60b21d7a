//! Standard base64 with padding (RFC 4648 §4), through the `base64` crate.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Encodes bytes as standard base64 with `=` padding.
pub(crate) fn encode(input: impl AsRef<[u8]>) -> String {
    STANDARD.encode(input)
}

/// Decodes standard base64; `None` for anything else.
pub(crate) fn decode(input: &str) -> Option<Vec<u8>> {
    STANDARD.decode(input.trim()).ok()
}
