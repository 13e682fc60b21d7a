//! When to try a call again, and how long to wait first. The rules are stated once, in
//! the crate docs' [pacing and retries](crate#pacing-and-retries); this is their code.

use std::time::{Duration, SystemTime};

use crate::error::{Error, ErrorKind};

/// How many times, and how patiently, failed calls are tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Retries {
    /// Retries after the first attempt, per call, 429s aside (the call's budget bounds
    /// those).
    pub(crate) max: u32,
    /// The first backoff; doubled on each retry.
    pub(crate) base: Duration,
    /// The longest backoff.
    pub(crate) cap: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            max: 6,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(2),
        }
    }
}

impl Retries {
    /// The wait before retry number `attempt` (0 for the first retry): exponential from
    /// `base`, capped, with "equal jitter" (between half and all of it), so that threads
    /// that failed together do not retry together.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.min(31));
        let full = exp.min(self.cap);
        full.mul_f64(0.5 + 0.5 * crate::codec::random::fraction())
    }
}

/// How the method of a call limits its retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotence {
    /// Creates something (sign): retried on 429 and on failures before sending only.
    Creates,
    /// May be repeated (finish, delete): also on 5xx and connection errors.
    Idempotent,
}

/// Whether a transport error happened before any byte of the request was sent.
pub(crate) fn failed_before_sending(error: &ureq::Error) -> bool {
    use std::io::ErrorKind;
    match error {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
        ureq::Error::Timeout(timeout) => {
            matches!(timeout, ureq::Timeout::Resolve | ureq::Timeout::Connect)
        }
        ureq::Error::Io(io) => matches!(
            io.kind(),
            ErrorKind::ConnectionRefused
                | ErrorKind::AddrNotAvailable
                | ErrorKind::NetworkUnreachable
                | ErrorKind::HostUnreachable
        ),
        _ => false,
    }
}

/// Whether a transport error may pass if tried again: not a TLS or URL mistake, and not
/// the call's whole time budget, which a retry would only spend again.
pub(crate) fn is_transient(error: &ureq::Error) -> bool {
    if tls_problem(error).is_some() {
        return false;
    }
    match error {
        ureq::Error::Timeout(ureq::Timeout::Global) => false,
        ureq::Error::Io(_)
        | ureq::Error::Timeout(_)
        | ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Protocol(_) => true,
        _ => false,
    }
}

/// The error of a request to `url` that did not complete: [`ErrorKind::Tls`] when the TLS
/// handshake or TLS itself failed, [`ErrorKind::Transport`] otherwise; the HTTP client's
/// error is the cause either way.
pub(crate) fn transport_error(error: ureq::Error, url: &str) -> Error {
    let kind = match tls_problem(&error) {
        Some(problem) => ErrorKind::Tls {
            host: crate::url::host(url).unwrap_or(url).to_owned(),
            problem,
        },
        None => ErrorKind::Transport,
    };
    Error::new(kind).caused_by(error)
}

/// What went wrong with TLS, in plain words, if `error` is a TLS failure.
///
/// ureq reports a rustls failure as an I/O error of kind `InvalidData` wrapping rustls'
/// own error, and a native-tls failure as its own variant; the certificate problems are
/// told apart by the backends' words (rustls' `UnknownIssuer`, OpenSSL's "unable to get
/// local issuer certificate", and so on).
pub(crate) fn tls_problem(error: &ureq::Error) -> Option<String> {
    let text = match error {
        ureq::Error::Tls(text) => (*text).to_owned(),
        #[cfg(any(feature = "rustls", feature = "platform-verifier"))]
        ureq::Error::Rustls(e) => e.to_string(),
        #[cfg(feature = "native-tls")]
        ureq::Error::NativeTls(e) => e.to_string(),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            io.get_ref()?.to_string()
        }
        _ => return None,
    };
    let has = |needles: &[&str]| {
        needles
            .iter()
            .any(|n| text.to_ascii_lowercase().contains(&n.to_ascii_lowercase()))
    };
    let problem = if has(&["expired", "not yet valid", "NotValidYet"]) {
        "its certificate has expired or is not yet valid (is this machine's clock right?)"
    } else if has(&["NotValidForName", "not valid for name", "hostname mismatch"]) {
        "its certificate was issued for another host name"
    } else if has(&[
        "UnknownIssuer",
        "unknown issuer",
        "local issuer certificate",
        "self-signed",
        "self signed",
        "untrusted",
        "unknown ca",
    ]) {
        "its certificate is signed by an authority this client does not trust"
    } else {
        "the TLS handshake failed"
    };
    // The backend's own words stay in the cause, reached through `source()`.
    Some(problem.to_owned())
}

/// The wait after a 429: the `Retry-After` asked for plus up to a quarter more, drawn at
/// random so that clients refused together do not come back together; without one (or
/// with `0`, which would bring every client back at once), the `backoff` drawn for this
/// attempt.
pub(crate) fn after_refusal(asked: Option<Duration>, backoff: Duration) -> Duration {
    match asked.filter(|asked| !asked.is_zero()) {
        Some(asked) => asked.saturating_add(asked.mul_f64(0.25 * crate::codec::random::fraction())),
        None => backoff,
    }
}

/// Reads `Retry-After`: delay-seconds or an HTTP date, as the wait it asks for. A wait
/// longer than the call's budget is not waited out: the call fails at once, saying so.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = crate::codec::clock::parse_http_date(value)?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    // Longer than any budget anyway; kept small enough for time arithmetic.
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The longest wait a `Retry-After` is read as: a year.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(365 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_cap() {
        let retries = Retries::default();
        for attempt in 0..40 {
            let full = Duration::from_millis(200)
                .saturating_mul(1 << attempt.min(20))
                .min(Duration::from_secs(2));
            let wait = retries.backoff(attempt);
            assert!(wait >= full / 2 && wait <= full, "{attempt}: {wait:?}");
        }
    }

    #[test]
    fn a_refusal_waits_what_it_asked_and_up_to_a_quarter_more() {
        let asked = Duration::from_secs(1);
        let backoff = Duration::from_millis(300);
        let waits: std::collections::HashSet<Duration> = (0..50)
            .map(|_| after_refusal(Some(asked), backoff))
            .collect();
        for wait in &waits {
            assert!(*wait >= asked && *wait <= asked + asked / 4, "{wait:?}");
        }
        assert!(waits.len() > 40, "the waits are spread: {waits:?}");
        assert_eq!(after_refusal(None, backoff), backoff);
        assert_eq!(after_refusal(Some(Duration::ZERO), backoff), backoff);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = crate::codec::clock::from_unix_seconds(1_757_079_084);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Fri, 05 Sep 2025 13:31:30 GMT", now),
            Some(Duration::from_secs(6))
        );
        assert_eq!(
            parse_retry_after("Fri, 05 Sep 2025 13:31:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(
            parse_retry_after("999999", now),
            Some(Duration::from_secs(999_999))
        );
        assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(MAX_RETRY_AFTER),
            "a hostile value is read as a year, not overflowed"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn only_connection_set_up_failures_count_as_unsent() {
        assert!(failed_before_sending(&ureq::Error::ConnectionFailed));
        assert!(failed_before_sending(&ureq::Error::Timeout(
            ureq::Timeout::Connect
        )));
        assert!(failed_before_sending(&ureq::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused)
        )));
        assert!(!failed_before_sending(&ureq::Error::Timeout(
            ureq::Timeout::RecvResponse
        )));
        assert!(!failed_before_sending(&ureq::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset)
        )));
    }

    #[test]
    fn a_spent_budget_is_not_retried() {
        assert!(is_transient(&ureq::Error::Timeout(ureq::Timeout::PerRead)));
        assert!(is_transient(&ureq::Error::ConnectionFailed));
        assert!(!is_transient(&ureq::Error::Timeout(ureq::Timeout::Global)));
        assert!(!is_transient(&ureq::Error::BadUri("x".into())));
    }
}
