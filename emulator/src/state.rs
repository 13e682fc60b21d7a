//! The state every connection thread shares, and the path of a request through it: recorded
//! when its head arrives, then faults, then the Management API or S3 handler.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::fault::{Fault, FaultAction, SignFault, cut_point};
use crate::route::Route;
use crate::signer::SharedSigner;
use crate::store::{AssetRecord, ObjectRecord};
use crate::{Endpoint, FinishShape, RecordedRequest, http, mapi, s3, sigv4};

/// Fixed configuration.
pub(crate) struct Config {
    pub(crate) token: String,
    pub(crate) oauth_token: String,
    pub(crate) space_id: u64,
    pub(crate) rate_limit: Option<u32>,
    pub(crate) max_in_flight: usize,
    pub(crate) policy_ttl: Duration,
    pub(crate) max_file_size: u64,
    pub(crate) finish_shape: FinishShape,
    /// Sign the emulator's own policies (SigV4) and key its ids.
    pub(crate) credentials: sigv4::Credentials,
    pub(crate) s3_url: String,
    /// Signs for a real S3 server instead of the emulator's own.
    pub(crate) signer: Option<SharedSigner>,
}

/// Shared by the handle and every connection thread.
pub(crate) struct State {
    pub(crate) config: Config,
    pub(crate) inner: Mutex<Inner>,
    /// Management API requests being handled.
    pub(crate) in_flight: AtomicUsize,
}

/// Mutable state.
#[derive(Default)]
pub(crate) struct Inner {
    /// (sequence number, request), so an in-progress entry can be updated after a clear.
    pub(crate) requests: Vec<(u64, RecordedRequest)>,
    pub(crate) next_request: u64,
    pub(crate) counts: HashMap<Endpoint, usize>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) assets: BTreeMap<u64, AssetRecord>,
    pub(crate) objects: HashMap<String, ObjectRecord>,
    pub(crate) folders: BTreeSet<u64>,
    pub(crate) next_id: u64,
    /// Orders signs and uploads.
    pub(crate) events: u64,
    pub(crate) rate: mapi::RateLimiter,
}

impl Inner {
    /// The next event number.
    pub(crate) fn next_event(&mut self) -> u64 {
        self.events += 1;
        self.events
    }
}

impl State {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs when a request's head arrives: classifies, counts and records it, and picks its
    /// fault. Then either cuts the body short ([`FaultAction::ResetMidBody`]) or has the body
    /// read and the request handed to [`State::handle`].
    pub(crate) fn plan(self: Arc<Self>, head: &http::Head) -> http::Plan {
        let route = Route::parse(&head.method, &head.target);
        let endpoint = route.endpoint();
        let (seq, fault) = {
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
            inner.requests.push((
                seq,
                RecordedRequest {
                    endpoint,
                    method: head.method.clone(),
                    path: head.target.clone(),
                    headers: head.headers.clone(),
                    body: Vec::new(),
                    json: None,
                    form: None,
                    status: 0,
                },
            ));
            (seq, fault)
        };
        if let Some(FaultAction::ResetMidBody) = fault {
            return http::Plan::Cut(cut_point(head.content_length));
        }
        http::Plan::Read(Box::new(move |request| {
            self.handle(&request, &route, seq, fault)
        }))
    }

    /// Runs once the whole request is read: records its body, applies its fault, then hands it
    /// to the MAPI or S3 handler.
    fn handle(
        &self,
        request: &http::Request,
        route: &Route,
        seq: u64,
        fault: Option<FaultAction>,
    ) -> http::Outcome {
        let mapi = route.is_mapi();
        // Count the request towards the in-flight cap first, so a delayed request holds its slot.
        let in_flight = mapi.then(|| InFlight::enter(&self.in_flight));
        let over_in_flight = in_flight
            .as_ref()
            .is_some_and(|g| g.position > self.config.max_in_flight);
        if mapi && !request.body.is_empty() {
            let json = serde_json::from_slice(&request.body).ok();
            let mut inner = self.lock();
            if let Some((_, recorded)) = inner.requests.iter_mut().find(|(s, _)| *s == seq) {
                recorded.body.clone_from(&request.body);
                recorded.json = json;
            }
        }
        let mut form = None;
        let outcome = match fault {
            Some(FaultAction::Respond {
                status,
                body,
                content_type,
                headers,
            }) => {
                let mut response = http::Response::new(status, &content_type, body);
                response.headers.extend(headers);
                http::Outcome::Respond(response)
            }
            Some(FaultAction::Drop | FaultAction::ResetMidBody) => http::Outcome::Drop,
            action => {
                if let Some(FaultAction::Delay(delay)) = action {
                    std::thread::sleep(delay);
                }
                let sign_fault = SignFault::from(action);
                http::Outcome::Respond(match route {
                    Route::Upload => {
                        let (response, parsed) = s3::handle(self, request);
                        form = parsed;
                        response
                    }
                    Route::NotMapi => s3::not_found(&request.target),
                    _ => mapi::handle(self, route, request, over_in_flight, sign_fault),
                })
            }
        };
        let status = match &outcome {
            http::Outcome::Respond(r) => r.status,
            http::Outcome::Drop => 0,
        };
        let mut inner = self.lock();
        if let Some((_, recorded)) = inner.requests.iter_mut().find(|(s, _)| *s == seq) {
            recorded.status = status;
            recorded.form = form;
        }
        outcome
    }
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a> {
    counter: &'a AtomicUsize,
    /// 1-based position among the requests in flight when it entered.
    position: usize,
}

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> InFlight<'a> {
        let position = counter.fetch_add(1, Ordering::SeqCst) + 1;
        InFlight { counter, position }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}
