//! Faults a test injects into the n-th request of an endpoint.

use std::time::Duration;

use crate::Endpoint;

/// A fault to inject into the n-th request of an endpoint.
#[derive(Clone, Debug)]
pub struct Fault {
    /// The endpoint whose requests are counted.
    pub endpoint: Endpoint,
    /// 1-based: the n-th request of that endpoint since the start (or [`Emulator::clear_requests`](crate::Emulator::clear_requests)).
    pub nth: usize,
    /// What to do to it.
    pub action: FaultAction,
}

/// What a [`Fault`] does.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum FaultAction {
    /// Answer with this instead of handling the request (not rate-limited, no side effects).
    Respond {
        /// The status.
        status: u16,
        /// The body.
        body: String,
        /// The `Content-Type`.
        content_type: String,
        /// Further headers, such as `Retry-After`.
        headers: Vec<(String, String)>,
    },
    /// Sleep, then handle the request normally.
    Delay(Duration),
    /// Read the request, then close the connection without answering.
    Drop,
    /// On a sign: date the policy this long ago (`x-amz-date`, and `expiration` one policy
    /// lifetime later), as a signer with a slow clock would. A lifetime's worth or more
    /// makes a policy S3 refuses as expired that still looks fresh from its own dates.
    StalePolicy(Duration),
    /// On a sign: hand out this field value instead of the signed one, as a proxy that
    /// rewrites the answer would; S3 then refuses the upload.
    TamperField {
        /// The field's name.
        name: String,
        /// The value handed out.
        value: String,
    },
    /// Read about half of the request body, then close the connection without answering, so
    /// the client sees its upload cut off mid-body. Without a `Content-Length` (no body, or a
    /// chunked one), only the head is read.
    ResetMidBody,
    /// Handle the request normally, send the answer's head at once, then its body one byte
    /// at a time, each after this pause, as a server that drips its answer would; a write
    /// that fails (the client gave up) ends it.
    Drip(Duration),
    /// Handle the request normally, then send the answer's head (with the whole body's
    /// `Content-Length`) and about half its body, and close the connection: a download cut
    /// off mid-stream.
    CutAnswer,
    /// Hold the request until `endpoint` has seen `count` requests (counted as for faults), or
    /// `max` has passed, then handle it normally: a way to make two clients' calls interleave
    /// the same way every time.
    Hold {
        /// The endpoint whose requests are awaited.
        endpoint: Endpoint,
        /// How many of them, since the start (or the last clear of the log).
        count: usize,
        /// The longest the request is held.
        max: Duration,
    },
}

impl Fault {
    /// Answers the `nth` request of `endpoint` with `status` and `body`. The content type is
    /// `application/xml` if the body starts with `<`, else `application/json`.
    pub fn respond(endpoint: Endpoint, nth: usize, status: u16, body: impl Into<String>) -> Fault {
        let body = body.into();
        let content_type = if body.trim_start().starts_with('<') {
            "application/xml"
        } else {
            "application/json"
        };
        Fault {
            endpoint,
            nth,
            action: FaultAction::Respond {
                status,
                body,
                content_type: content_type.into(),
                headers: Vec::new(),
            },
        }
    }

    /// Dates the policy of the `nth` sign `age` ago; see [`FaultAction::StalePolicy`].
    pub fn stale_policy(nth: usize, age: Duration) -> Fault {
        Fault {
            endpoint: Endpoint::Sign,
            nth,
            action: FaultAction::StalePolicy(age),
        }
    }

    /// Hands out `value` for the signed field `name` in the `nth` sign answer; see
    /// [`FaultAction::TamperField`].
    pub fn tamper_field(nth: usize, name: impl Into<String>, value: impl Into<String>) -> Fault {
        Fault {
            endpoint: Endpoint::Sign,
            nth,
            action: FaultAction::TamperField {
                name: name.into(),
                value: value.into(),
            },
        }
    }

    /// Adds a header to a [`Fault::respond`] answer, such as `Retry-After`. Other faults
    /// send no answer and are left as they are.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Fault {
        if let FaultAction::Respond { headers, .. } = &mut self.action {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// Delays the `nth` request of `endpoint` by `delay`, then handles it normally.
    pub fn delay(endpoint: Endpoint, nth: usize, delay: Duration) -> Fault {
        Fault {
            endpoint,
            nth,
            action: FaultAction::Delay(delay),
        }
    }

    /// Closes the connection of the `nth` request of `endpoint` without answering.
    pub fn drop_connection(endpoint: Endpoint, nth: usize) -> Fault {
        Fault {
            endpoint,
            nth,
            action: FaultAction::Drop,
        }
    }

    /// Reads about half of the body of the `nth` request of `endpoint` (at least 1 byte, and
    /// never all of it when it has more than one), then closes the connection without
    /// answering, so the client sees its upload cut off mid-body. The request is recorded with
    /// status 0 and no body.
    pub fn reset_mid_body(endpoint: Endpoint, nth: usize) -> Fault {
        Fault {
            endpoint,
            nth,
            action: FaultAction::ResetMidBody,
        }
    }

    /// Handles the `nth` request of `endpoint` normally (with its side effects), then sends
    /// the answer's head at once and its body one byte at a time, each after `pause`: a
    /// client whose budget is shorter than the body's drip sees a success status and part
    /// of its body, or none. The request is recorded with the status answered; see
    /// [`FaultAction::Drip`].
    pub fn drip(endpoint: Endpoint, nth: usize, pause: Duration) -> Fault {
        Fault {
            endpoint,
            nth,
            action: FaultAction::Drip(pause),
        }
    }

    /// Handles the `nth` request of `endpoint` normally (with its side effects), then sends
    /// the answer's head, whose `Content-Length` is the whole body's, and about half the body
    /// (at least 1 byte, and never all of it when it has more than one), and closes the
    /// connection: the client sees a success status and a body cut off mid-stream. The
    /// request is recorded with the status answered; see [`FaultAction::CutAnswer`].
    pub fn cut_answer(endpoint: Endpoint, nth: usize) -> Fault {
        Fault {
            endpoint,
            nth,
            action: FaultAction::CutAnswer,
        }
    }

    /// Holds the `nth` request of `endpoint` until `until` has seen `count` requests, or `max`
    /// has passed, then handles it normally; see [`FaultAction::Hold`].
    pub fn hold(
        endpoint: Endpoint,
        nth: usize,
        until: Endpoint,
        count: usize,
        max: Duration,
    ) -> Fault {
        Fault {
            endpoint,
            nth,
            action: FaultAction::Hold {
                endpoint: until,
                count,
                max,
            },
        }
    }
}

/// What a fault changes in a sign answer.
#[derive(Default)]
pub(crate) struct SignFault {
    pub(crate) age: Duration,
    pub(crate) tamper: Option<(String, String)>,
}

impl From<Option<FaultAction>> for SignFault {
    fn from(action: Option<FaultAction>) -> SignFault {
        match action {
            Some(FaultAction::StalePolicy(age)) => SignFault { age, tamper: None },
            Some(FaultAction::TamperField { name, value }) => SignFault {
                age: Duration::ZERO,
                tamper: Some((name, value)),
            },
            _ => SignFault::default(),
        }
    }
}

/// How many body bytes [`FaultAction::ResetMidBody`] reads: about half, at least one, and all of
/// them only when there is a single one; none without a `Content-Length`.
pub(crate) fn cut_point(content_length: Option<u64>) -> u64 {
    content_length.map_or(0, |len| (len / 2).max(1).min(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_content_type_is_guessed() {
        let xml = Fault::respond(Endpoint::Upload, 1, 503, "<Error/>");
        let json = Fault::respond(Endpoint::Sign, 2, 500, "{}");
        assert!(matches!(
            xml.action,
            FaultAction::Respond { ref content_type, .. } if content_type == "application/xml"
        ));
        assert!(matches!(
            json.action,
            FaultAction::Respond { ref content_type, .. } if content_type == "application/json"
        ));
    }

    #[test]
    fn reset_mid_body_reads_about_half() {
        let cuts: Vec<u64> = [None, Some(0), Some(1), Some(2), Some(3), Some(1_000_000)]
            .into_iter()
            .map(cut_point)
            .collect();
        assert_eq!(cuts, [0, 0, 1, 1, 1, 500_000]);
        assert!(matches!(
            Fault::reset_mid_body(Endpoint::Upload, 2),
            Fault {
                endpoint: Endpoint::Upload,
                nth: 2,
                action: FaultAction::ResetMidBody
            }
        ));
    }
}
