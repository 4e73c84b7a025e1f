//! The simulator's whole world, behind one mutex: objects, events, idempotency
//! records, fault knobs, the clock and the webhook delivery log, and the sweep
//! that bounds how much of it is kept.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::ids;
use crate::model::{
    Charge, Coupon, Customer, Event, PaymentIntent, PaymentMethod, PromotionCode, Refund, Session,
    SessionStatus, ShippingRate, WebhookEndpoint,
};
use crate::payments::{self, Job};
use crate::rate_limit::{RateLimit, RateLimiter};
use crate::store::{Record, Table};
use crate::webhooks::{self, Delivery, Outgoing, Target};

/// How long Stripe keeps idempotency keys.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 60 * 60;

/// Test knobs set through `POST /_sim/faults`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Faults {
    pub latency_ms: u64,
    pub error_rate: u32,
    pub error_status: u16,
    pub webhook_duplicate: bool,
    pub webhook_out_of_order: bool,
    pub webhook_drop: bool,
    /// Events of these types are dropped like `webhook_drop` drops all.
    pub webhook_drop_types: Vec<String>,
    pub clock_offset_secs: i64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_rate: 0,
            error_status: 500,
            webhook_duplicate: false,
            webhook_out_of_order: false,
            webhook_drop: false,
            webhook_drop_types: Vec::new(),
            clock_offset_secs: 0,
        }
    }
}

/// One attempt (or deliberate non-attempt) to deliver an event, for `GET /_sim/deliveries`.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub event_type: String,
    pub endpoint_id: String,
    pub url: String,
    pub attempt: u32,
    /// `delivered`, `failed` or `dropped`.
    pub outcome: &'static str,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// The second copy sent by the `webhook_duplicate` fault.
    pub duplicate: bool,
    /// The `t=` of the `Stripe-Signature` header.
    pub signature_timestamp: Option<i64>,
}

/// What identifies a request for idempotency (a key reused with anything else
/// is an error): a SHA-256 of its method, path and parameter tree, so a kept
/// key costs 32 bytes rather than a copy of the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn new(method: &str, path: &str, params: &Value) -> Self {
        let mut hash = Sha256::new();
        // NUL cannot occur in a method or path, so the parts cannot run together.
        for part in [method.as_bytes(), b"\0", path.as_bytes(), b"\0"] {
            hash.update(part);
        }
        hash.update(params.to_string().as_bytes());
        Self(hash.finalize().into())
    }
}

#[derive(Debug, Clone)]
pub enum Idempotent {
    InFlight {
        fingerprint: Fingerprint,
    },
    Done {
        fingerprint: Fingerprint,
        status: u16,
        body: Box<[u8]>,
        request_id: String,
    },
}

/// An idempotency key's record, under the id `"{api key} {Idempotency-Key}"`
/// (API keys have no spaces): keys are scoped per API key.
#[derive(Debug)]
pub struct IdempotencyRecord {
    pub id: String,
    pub created: i64,
    pub entry: Idempotent,
}

impl Record for IdempotencyRecord {
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

/// How much the simulator keeps; see [`crate::Config::max_objects`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_objects: usize,
    pub retention_secs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_objects: usize::MAX,
            retention_secs: i64::MAX,
        }
    }
}

/// The API request being executed, recorded on the events it causes.
#[derive(Debug, Clone)]
pub struct RequestRef {
    pub id: String,
    pub idempotency_key: Option<String>,
}

/// Internal references are consistent by construction; a dangling one is Stripe's 500.
fn must<'a, T: Record>(table: &'a mut Table<T>, id: &str) -> Result<&'a mut T, ApiError> {
    table.get_mut(id).ok_or_else(ApiError::internal)
}

fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[derive(Debug, Default)]
pub struct State {
    /// Base of the hosted page URLs handed out in `url`.
    pub public_url: String,
    pub limits: Limits,
    pub sessions: Table<Session>,
    pub payment_intents: Table<PaymentIntent>,
    pub charges: Table<Charge>,
    pub customers: Table<Customer>,
    pub payment_methods: Table<PaymentMethod>,
    pub refunds: Table<Refund>,
    pub events: Table<Event>,
    pub endpoints: Table<WebhookEndpoint>,
    pub coupons: Table<Coupon>,
    pub promotion_codes: Table<PromotionCode>,
    pub shipping_rates: Table<ShippingRate>,
    /// Bank debits and refunds waiting to settle, by when (simulated time).
    jobs: BTreeSet<(i64, Job)>,
    /// How long they wait, in seconds.
    settlement_delay: i64,
    pub rate_limiter: RateLimiter,
    /// The rate limit of the `Config`, which `/_sim/reset` restores.
    pub configured_rate_limit: RateLimit,
    pub idempotency: Table<IdempotencyRecord>,
    pub faults: Faults,
    /// Counts /v1 requests since `error_rate` was last set, to fail every Nth one.
    pub fault_counter: u64,
    /// Seconds added by `POST /_sim/advance_clock`.
    pub clock_advance: i64,
    /// The newest `max_objects` delivery attempts.
    pub deliveries: VecDeque<DeliveryRecord>,
    pub request: Option<RequestRef>,
    /// Deliveries emitted under the lock, started once it is released.
    outbox: Vec<Delivery>,
    /// Deliveries held back by the out-of-order fault.
    held: Vec<Delivery>,
    start_hold: bool,
}

impl State {
    pub fn new(
        public_url: String,
        limits: Limits,
        settlement_delay: i64,
        rate_limit: RateLimit,
    ) -> Self {
        Self {
            public_url,
            limits,
            settlement_delay,
            configured_rate_limit: rate_limit,
            rate_limiter: RateLimiter::new(rate_limit),
            ..Self::default()
        }
    }

    /// Runs `job` once the settlement delay has passed.
    pub fn schedule_settlement(&mut self, job: Job) {
        let due = self.now().saturating_add(self.settlement_delay);
        self.jobs.insert((due, job));
    }

    /// Removes and returns the jobs due by `until` (all of them for `None`), in order.
    pub fn take_jobs(&mut self, until: Option<i64>) -> Vec<Job> {
        let due: Vec<(i64, Job)> = self
            .jobs
            .iter()
            .take_while(|(at, _)| until.is_none_or(|until| *at <= until))
            .cloned()
            .collect();
        for entry in &due {
            self.jobs.remove(entry);
        }
        due.into_iter().map(|(_, job)| job).collect()
    }

    /// The simulated "now": real time, moved by `advance_clock` and `clock_offset_secs`.
    pub fn now(&self) -> i64 {
        system_now() + self.clock_advance + self.faults.clock_offset_secs
    }

    /// The time webhook signatures carry: the wall clock skewed by
    /// `clock_offset_secs`, but not moved by `advance_clock`. Advancing the
    /// clock ages Stripe's objects (expiry); the receiver's clock stays real,
    /// so signatures must too, or every delivery after an advance would be stale.
    pub fn signing_now(&self) -> i64 {
        system_now() + self.faults.clock_offset_secs
    }

    /// Decides whether the error-rate fault fails this /v1 request: with a rate of p
    /// percent the k-th request fails when ⌊k·p/100⌋ grows, so exactly p of every 100
    /// fail, evenly spread and reproducibly.
    pub fn injected_fault(&mut self) -> Option<ApiError> {
        let rate = u64::from(self.faults.error_rate);
        if rate == 0 {
            return None;
        }
        self.fault_counter += 1;
        let k = self.fault_counter;
        if k * rate / 100 == (k - 1) * rate / 100 {
            return None;
        }
        Some(match self.faults.error_status {
            429 => ApiError::rate_limited(),
            409 => ApiError::idempotency_in_use("(the simulator's error fault)"),
            400 => ApiError::invalid("This request was refused by the simulator's error fault."),
            401 => {
                ApiError::unauthorized("Invalid API Key provided (the simulator's error fault).")
            }
            _ => ApiError::internal(),
        })
    }

    /// The request saved under this key, unless Stripe would have forgotten
    /// it (the sweep drops such keys once a second; this hides them meanwhile).
    pub fn idempotent(&self, scope: &str) -> Option<&Idempotent> {
        let cutoff = self.now() - IDEMPOTENCY_TTL_SECS;
        self.idempotency
            .get(scope)
            .filter(|record| record.created > cutoff)
            .map(|record| &record.entry)
    }

    /// Records a delivery attempt, forgetting the oldest beyond the bound.
    pub fn log_delivery(&mut self, record: DeliveryRecord) {
        self.deliveries.push_back(record);
        while self.deliveries.len() > self.limits.max_objects {
            self.deliveries.pop_front();
        }
    }

    pub fn session_mut(&mut self, id: &str) -> Result<&mut Session, ApiError> {
        must(&mut self.sessions, id)
    }

    pub fn payment_intent_mut(&mut self, id: &str) -> Result<&mut PaymentIntent, ApiError> {
        must(&mut self.payment_intents, id)
    }

    pub fn payment_method_mut(&mut self, id: &str) -> Result<&mut PaymentMethod, ApiError> {
        must(&mut self.payment_methods, id)
    }

    pub fn charge_mut(&mut self, id: &str) -> Result<&mut Charge, ApiError> {
        must(&mut self.charges, id)
    }

    pub fn charge_json(&self, charge: &Charge) -> Value {
        let mut refunds: Vec<Value> = self
            .refunds
            .lookup("charge", &charge.id)
            .map(Refund::to_json)
            .collect();
        refunds.reverse();
        charge.to_json(refunds)
    }

    /// Any object by id, for `expand[]`.
    pub fn render(&self, id: &str) -> Option<Value> {
        let prefix = id.split('_').next().unwrap_or_default();
        match prefix {
            "cs" => self.sessions.get(id).map(Session::to_json),
            "pi" => self.payment_intents.get(id).map(PaymentIntent::to_json),
            "ch" => self.charges.get(id).map(|c| self.charge_json(c)),
            "cus" => self.customers.get(id).map(Customer::to_json),
            "pm" => self.payment_methods.get(id).map(PaymentMethod::to_json),
            "re" => self.refunds.get(id).map(Refund::to_json),
            "shr" => self.shipping_rates.get(id).map(ShippingRate::to_json),
            "promo" => self.promotion_code_json(id),
            _ => None,
        }
    }

    /// A promotion code with its coupon, as Stripe shows it.
    pub fn promotion_code_json(&self, id: &str) -> Option<Value> {
        let code = self.promotion_codes.get(id)?;
        let coupon = self.coupons.get(&code.coupon)?;
        Some(code.to_json(coupon, self.now()))
    }

    /// Stores a new customer and emits `customer.created`; returns its id.
    pub fn add_customer(&mut self, customer: Customer) -> String {
        let id = customer.id.clone();
        self.emit("customer.created", customer.to_json());
        self.customers.insert(customer);
        id
    }

    /// Records an event and queues its deliveries to every subscribed endpoint,
    /// applying the webhook faults in force now.
    pub fn emit(&mut self, kind: &str, object: Value) {
        self.record_event(kind, object, None);
    }

    /// Emits a `*.updated` event, with the fields that changed as they were.
    pub fn emit_update(&mut self, kind: &str, object: Value, previous_attributes: Value) {
        self.record_event(kind, object, Some(previous_attributes));
    }

    fn record_event(&mut self, kind: &str, object: Value, previous_attributes: Option<Value>) {
        let targets: Vec<Target> = self
            .endpoints
            .iter()
            .filter(|e| e.matches(kind))
            .map(|e| Target {
                endpoint_id: e.id.clone(),
                url: e.url.clone(),
                secret: e.secret.clone(),
            })
            .collect();
        let event = Event {
            id: ids::object("evt"),
            created: self.now(),
            kind: kind.to_owned(),
            object: object.to_string().into_boxed_str(),
            previous_attributes: previous_attributes.map(|p| p.to_string().into_boxed_str()),
            request_id: self.request.as_ref().map(|r| r.id.clone()),
            idempotency_key: self
                .request
                .as_ref()
                .and_then(|r| r.idempotency_key.clone()),
            pending_webhooks: i64::try_from(targets.len()).unwrap_or(i64::MAX),
        };
        if !targets.is_empty() {
            let delivery = Delivery {
                event_id: event.id.clone(),
                event_type: event.kind.clone(),
                // Stripe sends pretty-printed JSON; receivers must verify these exact bytes.
                body: Arc::new(serde_json::to_vec_pretty(&event.to_json()).unwrap_or_default()),
                targets,
                duplicate: self.faults.webhook_duplicate,
            };
            self.queue(delivery);
        }
        self.events.insert(event);
    }

    fn queue(&mut self, delivery: Delivery) {
        let dropped = self.faults.webhook_drop
            || self
                .faults
                .webhook_drop_types
                .contains(&delivery.event_type);
        if dropped {
            for target in &delivery.targets {
                self.log_delivery(DeliveryRecord {
                    event_id: delivery.event_id.clone(),
                    event_type: delivery.event_type.clone(),
                    endpoint_id: target.endpoint_id.clone(),
                    url: target.url.clone(),
                    attempt: 0,
                    outcome: "dropped",
                    status: None,
                    error: None,
                    duplicate: false,
                    signature_timestamp: None,
                });
            }
        } else if self.faults.webhook_out_of_order {
            self.start_hold |= self.held.is_empty();
            self.held.push(delivery);
        } else {
            self.outbox.push(delivery);
        }
    }

    /// Held deliveries, newest first, for the out-of-order fault.
    pub fn take_held(&mut self) -> Vec<Delivery> {
        let mut held = std::mem::take(&mut self.held);
        held.reverse();
        held
    }

    fn take_outgoing(&mut self) -> Outgoing {
        Outgoing {
            deliveries: std::mem::take(&mut self.outbox),
            start_hold: std::mem::take(&mut self.start_hold),
        }
    }

    /// Expires one open session, as `POST .../expire` and the clock do.
    pub fn expire_session(&mut self, id: &str) -> Result<(), ApiError> {
        let session = self.session_mut(id)?;
        session.status = SessionStatus::Expired;
        session.pending_authentication = None;
        let json = session.to_json();
        self.emit("checkout.session.expired", json);
        Ok(())
    }

    pub fn expire_due(&mut self) {
        let now = self.now();
        let due: Vec<String> = self
            .sessions
            .iter()
            .filter(|s| s.status == SessionStatus::Open && s.expires_at <= now)
            .map(|s| s.id.clone())
            .collect();
        for id in due {
            // Ids were just read from `sessions`, so this cannot fail.
            let _ = self.expire_session(&id);
        }
    }

    /// Once a second, and on `advance_clock`: expires due sessions, settles
    /// what is due, then applies the memory bound.
    pub fn tick(&mut self) {
        self.expire_due();
        payments::run_due(self);
        self.sweep();
        self.rate_limiter.prune(Instant::now());
    }
}

/// What the server, the hosted page and the background tasks share.
pub struct Shared {
    state: Mutex<State>,
    pub http: reqwest::Client,
    pub runtime: tokio::runtime::Handle,
    pub shutdown: watch::Receiver<bool>,
    pub webhook_retry_base: Duration,
    pub webhook_max_attempts: u32,
}

impl Shared {
    pub fn new(
        state: State,
        http: reqwest::Client,
        shutdown: watch::Receiver<bool>,
        webhook_retry_base: Duration,
        webhook_max_attempts: u32,
    ) -> Self {
        Self {
            state: Mutex::new(state),
            http,
            runtime: tokio::runtime::Handle::current(),
            shutdown,
            webhook_retry_base,
            webhook_max_attempts,
        }
    }

    /// The lock is never held across an await; a panic while holding it leaves
    /// state that is still usable, so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the state, then starts delivering the events it emitted.
    pub fn with_state<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let (result, outgoing) = {
            let mut state = self.lock();
            let result = f(&mut state);
            (result, state.take_outgoing())
        };
        webhooks::dispatch(self, outgoing);
        result
    }

    /// Spawns on the runtime that started the simulator (not an HTTP worker's),
    /// stopping the task when the simulator shuts down.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut shutdown = self.shutdown.clone();
        self.runtime.spawn(async move {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => {}
                () = task => {}
            }
        });
    }
}
