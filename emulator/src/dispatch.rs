//! The path of a request: recorded when its head arrives, then its fault, then the
//! Management API or S3 handler. Imports run this way: dispatch, the handlers (`mapi`,
//! `s3`), the shared state, its stores.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::fault::{FaultAction, SignFault, cut_point};
use crate::route::Route;
use crate::state::State;
use crate::{Endpoint, RecordedForm, RecordedRequest, http, mapi, s3};

impl State {
    /// Runs when a request's head arrives: classifies, counts and records it, and picks its
    /// fault; then decides from the head alone what it can (a cut, a 429, a 401, S3's checks
    /// of the head), or has the body read, within the endpoint's size limit, and the request
    /// handed to the Management API's or S3's handler.
    pub(crate) fn plan(self: Arc<Self>, head: &http::Head) -> http::Plan {
        let route = Route::parse(&head.method, &head.target);
        let endpoint = route.endpoint();
        let (seq, fault) = self.record_head(head, endpoint);
        match fault {
            Some(FaultAction::Drip(pause)) => {
                altered(self.decide(head, route, seq, None), move |r| {
                    r.drip = Some(pause);
                })
            }
            Some(FaultAction::CutAnswer) => {
                altered(self.decide(head, route, seq, None), |r| r.cut = true)
            }
            Some(FaultAction::Hold {
                endpoint,
                count,
                max,
            }) => {
                self.hold(endpoint, count, max);
                self.decide(head, route, seq, None)
            }
            fault => self.decide(head, route, seq, fault),
        }
    }

    /// Waits until `endpoint` has seen `count` requests, or `max` has passed.
    fn hold(&self, endpoint: Endpoint, count: usize, max: Duration) {
        let start = std::time::Instant::now();
        while start.elapsed() < max
            && self.lock().counts.get(&endpoint).copied().unwrap_or(0) < count
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The plan for a request already recorded as `seq`, with its fault (if any).
    fn decide(
        self: Arc<Self>,
        head: &http::Head,
        route: Route,
        seq: u64,
        fault: Option<FaultAction>,
    ) -> http::Plan {
        if let Some(FaultAction::ResetMidBody) = fault {
            return http::Plan::Cut(cut_point(head.content_length));
        }
        let mapi = route.is_mapi();
        if mapi {
            // The inbound trip: the emulator "sees" the request only now.
            self.one_way_trip();
        }
        let max_body = if mapi {
            crate::MAX_MAPI_BODY
        } else {
            self.config.max_body
        };
        // Faults that stand in for the emulator's answer: read the body, then answer or drop.
        let standing_in = match &fault {
            Some(FaultAction::Respond {
                status,
                body,
                content_type,
                headers,
            }) => {
                let mut response = http::Response::new(*status, content_type, body.as_bytes());
                response.headers.extend(headers.iter().cloned());
                Some(http::Outcome::Respond(response))
            }
            Some(FaultAction::Drop) => Some(http::Outcome::Drop),
            _ => None,
        };
        if let Some(outcome) = standing_in {
            return self.read_then(seq, mapi, max_body, move |_, _| (outcome, None));
        }
        // Count the request towards the in-flight cap first, so a delayed request holds its slot.
        let in_flight = mapi.then(|| InFlight::enter(Arc::clone(&self)));
        if let Some(FaultAction::Delay(delay)) = &fault {
            std::thread::sleep(*delay);
        }
        if let Some(in_flight) = in_flight {
            let over_in_flight = in_flight.position > self.config.max_in_flight;
            if let Some(refusal) = mapi::refuse(&self, route.space(), over_in_flight) {
                // A 429 is answered after reading the (small) body, so the connection stays
                // usable for the retry.
                return self.read_then(seq, mapi, max_body, move |_, _| {
                    drop(in_flight);
                    (http::Outcome::Respond(refusal), None)
                });
            }
            if !mapi::authorized(&self.config, &head.headers) {
                // Refused from the head alone: an unauthenticated body is never read.
                drop(in_flight);
                self.one_way_trip();
                return self.answer_from_head(seq, mapi::unauthorized());
            }
            let sign_fault = SignFault::from(fault);
            return self.read_then(seq, mapi, max_body, move |state, request| {
                let response = if request.too_large {
                    mapi::too_large()
                } else {
                    mapi::handle(state, &route, &request, sign_fault)
                };
                drop(in_flight);
                (http::Outcome::Respond(response), None)
            });
        }
        match route {
            Route::Upload => {
                if let Some(refusal) = s3::check_upload_head(head) {
                    return self.answer_from_head(seq, refusal);
                }
                self.read_then(seq, mapi, max_body, move |state, request| {
                    if request.too_large {
                        return (http::Outcome::Respond(s3::too_large(max_body)), None);
                    }
                    let (response, form) = s3::handle(state, request);
                    (http::Outcome::Respond(response), form)
                })
            }
            Route::Download { key } => {
                self.read_then(seq, mapi, crate::MAX_MAPI_BODY, move |state, _| {
                    (http::Outcome::Respond(s3::download(state, &key)), None)
                })
            }
            _ => self.answer_from_head(seq, s3::not_found(&head.target)),
        }
    }

    /// Sleeps for one trip of [`EmulatorBuilder::one_way_delay`](crate::EmulatorBuilder::one_way_delay), if set.
    fn one_way_trip(&self) {
        if let Some((min, jitter)) = self.config.one_way_delay {
            std::thread::sleep(trip(min, jitter));
        }
    }

    /// Counts a request for its endpoint, records its head and takes its fault, if any.
    fn record_head(&self, head: &http::Head, endpoint: Endpoint) -> (u64, Option<FaultAction>) {
        let mut inner = self.lock();
        let count = inner.counts.entry(endpoint).or_insert(0);
        *count += 1;
        let nth = *count;
        let fault = inner
            .faults
            .iter()
            .position(|f| f.endpoint == endpoint && f.nth == nth)
            .map(|i| inner.faults.remove(i).action);
        let seq = inner.next_request;
        inner.next_request += 1;
        if self.config.max_recorded_requests == 0 {
            return (seq, fault);
        }
        if inner.requests.len() >= self.config.max_recorded_requests {
            inner.requests.pop_front();
        }
        inner.requests.push_back((
            seq,
            RecordedRequest {
                endpoint,
                method: head.method.clone(),
                path: head.target.clone(),
                headers: head.headers.clone(),
                body: Vec::new(),
                body_len: 0,
                json: None,
                form: None,
                status: 0,
            },
        ));
        (seq, fault)
    }

    /// Updates the recorded request `seq`, if it is still in the log. The log is in the order
    /// of the sequence numbers, so a binary search finds it.
    fn update_record(&self, seq: u64, update: impl FnOnce(&mut RecordedRequest)) {
        let mut inner = self.lock();
        if let Ok(i) = inner.requests.binary_search_by_key(&seq, |(s, _)| *s) {
            update(&mut inner.requests[i].1);
        }
    }

    /// Answers from the head alone, and records the status.
    fn answer_from_head(&self, seq: u64, response: http::Response) -> http::Plan {
        self.update_record(seq, |recorded| recorded.status = response.status);
        http::Plan::Respond(response)
    }

    /// Has the body read (at most `max_body` bytes), runs `then`, and records in one go the
    /// body, the status and the parsed form. A Management API body (and its JSON) is kept
    /// when it is at most [`RECORDED_BODY_LIMIT`](crate::RECORDED_BODY_LIMIT) bytes; of any
    /// other, only the length. A body the server cannot read gets the server's refusal (a
    /// 400), recorded as its status.
    fn read_then(
        self: Arc<Self>,
        seq: u64,
        mapi: bool,
        max_body: u64,
        then: impl FnOnce(&State, http::Request) -> (http::Outcome, Option<RecordedForm>) + 'static,
    ) -> http::Plan {
        http::Plan::Read {
            max_body,
            then: Box::new(move |request| {
                let mut body_len = 0;
                let mut kept = None;
                let (outcome, form) = match request {
                    Err(refusal) => (http::Outcome::Respond(refusal), None),
                    Ok(request) => {
                        body_len = request.body.len() as u64;
                        let keep = mapi
                            && !request.body.is_empty()
                            && request.body.len() <= crate::RECORDED_BODY_LIMIT;
                        kept = keep.then(|| {
                            let json = serde_json::from_slice(&request.body).ok();
                            (request.body.clone(), json)
                        });
                        then(&self, request)
                    }
                };
                let status = match &outcome {
                    http::Outcome::Respond(r) => r.status,
                    http::Outcome::Drop => 0,
                };
                self.update_record(seq, |recorded| {
                    recorded.body_len = body_len;
                    if let Some((body, json)) = kept {
                        recorded.body = body;
                        recorded.json = json;
                    }
                    recorded.status = status;
                    recorded.form = form;
                });
                if mapi && status != 0 {
                    // The outbound trip, no longer in flight.
                    self.one_way_trip();
                }
                outcome
            }),
        }
    }
}

/// `plan` with `alter` applied to its answer: how it is sent (dripped, cut).
fn altered(plan: http::Plan, alter: impl Fn(&mut http::Response) + Send + 'static) -> http::Plan {
    match plan {
        http::Plan::Read { max_body, then } => http::Plan::Read {
            max_body,
            then: Box::new(move |request| match then(request) {
                http::Outcome::Respond(mut response) => {
                    alter(&mut response);
                    http::Outcome::Respond(response)
                }
                other => other,
            }),
        },
        http::Plan::Respond(mut response) => {
            alter(&mut response);
            http::Plan::Respond(response)
        }
        cut @ http::Plan::Cut(_) => cut,
    }
}

/// One trip: `min + U(0, jitter)`, at most `Duration::MAX` however large the two are.
fn trip(min: Duration, jitter: Duration) -> Duration {
    min.saturating_add(crate::random::duration_up_to(jitter))
}

/// Counts a Management API request in flight for as long as it lives.
pub(crate) struct InFlight {
    state: Arc<State>,
    /// 1-based position among the requests in flight when it entered.
    pub(crate) position: usize,
}

impl InFlight {
    fn enter(state: Arc<State>) -> InFlight {
        let position = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        InFlight { state, position }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_do_not_overflow() {
        assert_eq!(trip(Duration::MAX, Duration::MAX), Duration::MAX);
        assert_eq!(trip(Duration::MAX, Duration::ZERO), Duration::MAX);
        let short = trip(Duration::from_millis(5), Duration::from_millis(1));
        assert!(short >= Duration::from_millis(5) && short <= Duration::from_millis(6));
    }
}
