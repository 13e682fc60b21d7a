//! The Storyblok credential, kept out of every `Debug` and `Display`.

use std::fmt;

/// A Storyblok Management API token.
///
/// Its `Debug` prints `[redacted]`; the secret is reachable only through
/// [`Token::secret`]. The token goes to Storyblok's Management API and nowhere else: never to
/// S3, never into an error message.
///
/// ```
/// use storyblok_assets::Token;
///
/// let token = Token::personal("my-secret-token");
/// assert_eq!(format!("{token:?}"), "Token::Personal([redacted])");
/// assert_eq!(token.secret(), "my-secret-token");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    kind: Kind,
    secret: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Personal,
    OAuth,
}

impl Token {
    /// A personal access token (Storyblok: My account → Personal access tokens); sent
    /// as it is in `Authorization`.
    pub fn personal(secret: impl Into<String>) -> Token {
        Token {
            kind: Kind::Personal,
            secret: secret.into(),
        }
    }

    /// An OAuth access token; sent as `Authorization: Bearer <token>`.
    pub fn oauth(secret: impl Into<String>) -> Token {
        Token {
            kind: Kind::OAuth,
            secret: secret.into(),
        }
    }

    /// The secret itself. Handle with care: anything that prints it leaks it.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Whether this is an OAuth token (else a personal access token).
    pub fn is_oauth(&self) -> bool {
        self.kind == Kind::OAuth
    }

    /// The `Authorization` header value.
    pub(crate) fn header_value(&self) -> String {
        match self.kind {
            Kind::Personal => self.secret.clone(),
            Kind::OAuth => format!("Bearer {}", self.secret),
        }
    }

    /// Why the token cannot be sent, if it cannot: an empty one, or one with characters
    /// that do not belong in a header (a pasted newline, say).
    pub(crate) fn problem(&self) -> Option<&'static str> {
        let secret = self.secret.trim();
        if secret.is_empty() {
            Some("the token is empty")
        } else if self
            .secret
            .bytes()
            .any(|b| b.is_ascii_control() || !b.is_ascii())
        {
            Some("the token contains a control or non-ASCII character (a pasted newline?)")
        } else if secret.len() != self.secret.len() {
            Some("the token has leading or trailing spaces")
        } else {
            None
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Personal => f.write_str("Token::Personal([redacted])"),
            Kind::OAuth => f.write_str("Token::OAuth([redacted])"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        assert_eq!(Token::personal("abc").header_value(), "abc");
        assert_eq!(Token::oauth("abc").header_value(), "Bearer abc");
    }

    #[test]
    fn debug_is_redacted() {
        let oauth = format!("{:?}", Token::oauth("s3cr3t"));
        assert_eq!(oauth, "Token::OAuth([redacted])");
        assert!(!format!("{:#?}", Token::personal("s3cr3t")).contains("s3cr3t"));
    }

    #[test]
    fn problems() {
        assert!(Token::personal("").problem().is_some());
        assert!(Token::personal("abc\n").problem().is_some());
        assert!(Token::personal(" abc").problem().is_some());
        assert!(Token::personal("ab\u{e9}").problem().is_some());
        assert_eq!(Token::personal("abc-123").problem(), None);
    }
}
