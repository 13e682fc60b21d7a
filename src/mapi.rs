//! Calls to Storyblok's Management API: paced, retried, their answers read within a size
//! cap and their errors in Storyblok's own words.

use std::time::{Duration, Instant, SystemTime};

use crate::body::{ANSWER_LIMIT, Broken, read_whole};
use crate::error::{Error, ErrorKind, Step};
use crate::message::message;
use crate::retry::{self, Idempotence};
use crate::session::Session;

/// The method of a Management API call, with the JSON body of a POST or PUT.
pub(crate) enum Method {
    Get,
    /// Creates something: an asset record (sign), a folder, a tag.
    Post(Vec<u8>),
    Put(Vec<u8>),
    Delete,
}

impl Method {
    /// Whether repeating the call is harmless. A POST creates a record, a folder or a tag.
    fn idempotence(&self) -> Idempotence {
        match self {
            Method::Post(_) => Idempotence::Creates,
            Method::Get | Method::Put(_) | Method::Delete => Idempotence::Idempotent,
        }
    }
}

/// A 2xx answer.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    /// The `Total` header of a paginated list.
    pub(crate) total: Option<u64>,
}

/// One Management API call about `space_id` (`path` is what follows
/// `/spaces/{space_id}`), paced and retried: `Authorization` set, the body (if any)
/// sent as JSON, the call's time budget applied to each attempt.
///
/// Retried as [pacing and retries](crate#pacing-and-retries) says, by the method's
/// [`Idempotence`]. Returns the status and body of a 2xx answer; another status is an
/// [`ErrorKind::Api`], a 429 that outlasts the retries an [`ErrorKind::RateLimited`]. A
/// 2xx whose body could not be read whole (it dripped past the budget, the connection
/// broke) is never a success: it is tried again as a connection error would be, and in
/// the end an [`ErrorKind::UnexpectedResponse`] with what arrived, the read's error as
/// its cause.
pub(crate) fn call(
    session: &Session,
    step: Step,
    space_id: u64,
    asset_id: Option<u64>,
    method: Method,
    path: &str,
) -> Result<Reply, Error> {
    let url = session.space_url(space_id, path);
    // Processes share a ledger per API host and space (the port tells local servers
    // apart); within this process the pacer paces per space.
    let host = crate::url::authority(&url).unwrap_or_default();
    let retries = session.retries;
    let idempotence = method.idempotence();
    let fail = |kind: ErrorKind| Error::new(kind).at(step).asset(asset_id);
    let mut attempt = 0u32;
    // Retries other than after a 429: these are what `Retries::max` bounds; 429s are
    // bounded by the budget alone.
    let mut retried = 0u32;
    // The last 429, reported if the budget then runs out mid-attempt.
    let mut last_refusal: Option<(String, Option<Duration>)> = None;
    // The call's whole budget: every attempt, and every wait between them, fits in it.
    // It starts once the pacer lets the first attempt go.
    let mut call_deadline = None;
    loop {
        let (sent, started_at, deadline) = {
            let permit = session.pacer.acquire(space_id, host);
            let deadline =
                *call_deadline.get_or_insert_with(|| Instant::now() + session.timeouts.call);
            let budget = deadline.saturating_duration_since(Instant::now());
            (
                send(session, &method, &url, budget),
                permit.started_at(),
                deadline,
            )
        };
        let can_retry = retried < retries.max;
        // Drawn once: the wait that is checked against the budget is the wait slept.
        let backoff = retries.backoff(attempt);
        // Waiting `wait` and trying again still fits in the budget.
        let fits = |wait: Duration| {
            Instant::now()
                .checked_add(wait)
                .is_some_and(|then| then < deadline)
        };
        let wait = match sent {
            Ok(answer) if (200..300).contains(&answer.status) => match answer.broken {
                None => {
                    return Ok(Reply {
                        status: answer.status,
                        body: answer.body,
                        total: answer.total,
                    });
                }
                // A success whose body broke off is not a success: what arrived could be
                // empty, or half of a listing. Tried again when the call may be repeated
                // (a sign's record already exists) and the failure may pass.
                Some(error)
                    if can_retry
                        && idempotence == Idempotence::Idempotent
                        && retry::is_transient(&error)
                        && fits(backoff) =>
                {
                    retried += 1;
                    backoff
                }
                Some(error) => {
                    let message = format!(
                        "the answer broke off after {} bytes of its body",
                        answer.body.len()
                    );
                    return Err(Error::unexpected(answer.status, message, &answer.body)
                        .at(step)
                        .asset(asset_id)
                        .caused_by(error));
                }
            },
            Ok(answer) if answer.status == 429 => {
                let said = message(429, &answer.body);
                session
                    .pacer
                    .throttled(space_id, started_at, crate::pacer::limit_in(&said));
                // A 429 was not processed: it is tried again while the budget lasts,
                // however many times, after the wait it asked for (or a backoff), with
                // jitter so that clients refused together do not come back together.
                let wait = retry::after_refusal(answer.retry_after, backoff);
                if retries.max == 0 || !fits(wait) {
                    return Err(fail(ErrorKind::RateLimited {
                        attempts: attempt + 1,
                        message: said,
                        retry_after: answer.retry_after,
                    }));
                }
                last_refusal = Some((said, answer.retry_after));
                wait
            }
            Ok(answer)
                if answer.status >= 500
                    && can_retry
                    && idempotence == Idempotence::Idempotent
                    && fits(backoff) =>
            {
                retried += 1;
                backoff
            }
            Ok(answer) => {
                let message = match (&answer.location, answer.status) {
                    (Some(to), 300..=399) => format!(
                        "redirected to {}, which is not followed (the token would not go along)",
                        crate::url::redacted(to)
                    ),
                    _ => message(answer.status, &answer.body),
                };
                return Err(fail(ErrorKind::Api {
                    status: answer.status,
                    message,
                    body: answer.body,
                }));
            }
            Err(error)
                if can_retry
                    && fits(backoff)
                    && match idempotence {
                        Idempotence::Idempotent => retry::is_transient(&error),
                        Idempotence::Creates => retry::failed_before_sending(&error),
                    } =>
            {
                retried += 1;
                backoff
            }
            // The budget ran out in an attempt after 429s: the rate limit is the story.
            Err(ureq::Error::Timeout(ureq::Timeout::Global)) if last_refusal.is_some() => {
                let (message, retry_after) = last_refusal.unwrap_or_default();
                return Err(fail(ErrorKind::RateLimited {
                    attempts: attempt + 1,
                    message,
                    retry_after,
                }));
            }
            Err(error) => return Err(retry::transport_error(error, &url).at(step).asset(asset_id)),
        };
        std::thread::sleep(wait);
        attempt += 1;
    }
}

/// Reads a 2xx answer's JSON as `T`; an answer that is not `what` is an
/// [`ErrorKind::UnexpectedResponse`] of `step`.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    reply: &Reply,
    step: Step,
    what: &str,
) -> Result<T, Error> {
    serde_json::from_str(&reply.body).map_err(|e| not_what(reply, step, what, &e))
}

/// The [`ErrorKind::UnexpectedResponse`] of `step` for a 2xx answer that is not `what`.
pub(crate) fn not_what(
    reply: &Reply,
    step: Step,
    what: &str,
    problem: &serde_json::Error,
) -> Error {
    Error::unexpected(reply.status, format!("not {what}: {problem}"), &reply.body).at(step)
}

/// What one attempt got back.
struct Answer {
    status: u16,
    /// As much of the body as arrived.
    body: String,
    /// Why the body broke off before its end, if it did.
    broken: Option<ureq::Error>,
    retry_after: Option<Duration>,
    location: Option<String>,
    total: Option<u64>,
}

/// Sends one attempt of a call, within `budget`, and reads its answer.
fn send(
    session: &Session,
    method: &Method,
    url: &str,
    budget: Duration,
) -> Result<Answer, ureq::Error> {
    let agent = &session.agent;
    let auth = session.token.header_value();
    let budget = Some(budget);
    let response = match method {
        Method::Get | Method::Delete => {
            let request = if matches!(method, Method::Get) {
                agent.get(url)
            } else {
                agent.delete(url)
            };
            request
                .header("Authorization", &auth)
                .header("Accept", "application/json")
                .config()
                .timeout_global(budget)
                .build()
                .call()?
        }
        Method::Post(body) | Method::Put(body) => {
            let request = if matches!(method, Method::Post(_)) {
                agent.post(url)
            } else {
                agent.put(url)
            };
            request
                .header("Authorization", &auth)
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .config()
                .timeout_global(budget)
                .build()
                .send(&body[..])?
        }
    };
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after =
        header("retry-after").and_then(|v| retry::parse_retry_after(&v, SystemTime::now()));
    let location = header("location");
    let total = header("total").and_then(|v| v.trim().parse().ok());
    let status = response.status().as_u16();
    let (body, broken) = match read_whole(response, ANSWER_LIMIT) {
        Ok(body) => (body, None),
        Err(Broken { partial, error }) => (partial, Some(ureq::Error::from(error))),
    };
    Ok(Answer {
        total,
        status,
        body,
        broken,
        retry_after,
        location,
    })
}
