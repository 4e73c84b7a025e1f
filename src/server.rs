//! Server assembly: the database, the session key, the app state of each
//! HTTP worker, middleware and security headers around the route table
//! (`routes`), the background jobs, and running until stopped.

use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use rand::RngCore;

use crate::admin::auth::domain::SessionRules;
use crate::cart::writes::CartWrites;
use crate::catalog::cache::{self, Catalog};
use crate::checkout::reconciler;
use crate::config::{SESSION_KEY_MIN_LEN, Secret, Settings, is_loopback_origin};
use crate::db::cluster::{Durability, LocalCluster};
use crate::db::{self, DbPool, ReadStats, Reads};
use crate::events::domain::RetryPolicy;
use crate::mail::domain::LinkKey;
use crate::mail::http::SentMailPage;
use crate::mail::sender::{self, Mailer};
use crate::mail::transport::Transport;
use crate::ops::http::NodePools;
use crate::payments_api::key_cache::{self, ApiKeyCache};
use crate::payments_api::queue;
use crate::state::{AppState, Jobs};
use crate::stripe::StripeGateway;
use crate::stripe::gateway::Simulator;
use crate::web::AppError;
use crate::web::caching;
use crate::web::rate_limit::{self, RateLimiter};
use crate::{events, payments_api, purge, routes, seed, telemetry};

/// Largest form body we accept; our forms are a few hundred bytes.
const FORM_LIMIT_BYTES: usize = 16 * 1024;

/// Connections for the background tasks (the reconciler, the purge),
/// next to the request pools.
const BACKGROUND_POOL_SIZE: usize = 3;

/// Connections of the debit queue's worker, its own so that a large batch
/// of debits does not keep the other background tasks waiting.
const DEBIT_QUEUE_POOL_SIZE: usize = 4;

/// Where the database lives, resolved once at start.
pub struct Database {
    pub url: Secret,
    /// The private cluster we started, to stop on shutdown; `None` with DATABASE_URL.
    pub cluster: Option<LocalCluster>,
}

impl Database {
    /// Uses DATABASE_URL, or creates/starts the private cluster under
    /// `data_dir/postgres` and its `storefront` database. Runs migrations; a
    /// fresh private database gets the seed catalog.
    pub async fn prepare(settings: &Settings) -> anyhow::Result<Database> {
        let database = match &settings.database_url {
            Some(url) => Database {
                url: url.clone(),
                cluster: None,
            },
            None => {
                let cluster =
                    LocalCluster::start(&settings.data_dir.join("postgres"), Durability::Durable)
                        .await?;
                Database {
                    url: cluster.url("storefront"),
                    cluster: Some(cluster),
                }
            }
        };
        let ready = async {
            if let Some(cluster) = &database.cluster {
                db::create_database(&cluster.url("postgres"), "storefront", None).await?;
            }
            db::run_migrations(&database.url).await?;
            if database.cluster.is_some() {
                seed::load_if_empty(&database.url).await?;
            }
            anyhow::Ok(())
        }
        .await;
        if let (Err(_), Some(cluster)) = (&ready, &database.cluster) {
            // Do not leave a cluster we started running behind a failed start.
            cluster.stop().await?;
        }
        ready.map(|()| database)
    }
}

/// SESSION_KEY, or a key generated once and kept in `data_dir` so carts
/// survive restarts in development.
pub fn session_key(settings: &Settings) -> anyhow::Result<Key> {
    if let Some(key) = &settings.session_key {
        return Ok(Key::derive_from(key.expose().as_bytes()));
    }
    let path = settings.data_dir.join("session_key");
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    let key = if stored.trim().len() >= SESSION_KEY_MIN_LEN {
        stored.trim().to_owned()
    } else {
        let mut bytes = [0u8; 64];
        rand::rng().fill_bytes(&mut bytes);
        let key = hex::encode(bytes);
        std::fs::create_dir_all(&settings.data_dir)?;
        write_private(&path, &key).with_context(|| format!("writing {}", path.display()))?;
        tracing::info!(path = %path.display(), "generated a session key");
        key
    };
    Ok(Key::derive_from(key.as_bytes()))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(contents.as_bytes())
}

/// Headers on every response. Pages use no inline script or style; forms
/// post to us, and checkout redirects a form POST to Stripe's payment page,
/// which `form-action` must allow.
fn security_headers(checkout_origin: &str, https: bool) -> DefaultHeaders {
    let csp = format!(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' {checkout_origin}"
    );
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", csp))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "strict-origin-when-cross-origin"));
    if https {
        // Served over https: browsers never try plain http for a year.
        headers.add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        headers
    }
}

pub struct Application {
    port: u16,
    base_url: String,
    server: Server,
    /// The in-process Stripe simulator, in test mode.
    simulator: Option<Simulator>,
    /// `/metrics`, on METRICS_BIND.
    metrics_server: Server,
    metrics_port: u16,
    reconciler: tokio::task::JoinHandle<()>,
    debit_reconciler: tokio::task::JoinHandle<()>,
    debit_queue_listener: tokio::task::JoinHandle<()>,
    debit_queue: tokio::task::JoinHandle<()>,
    purge: tokio::task::JoinHandle<()>,
    catalog_listener: tokio::task::JoinHandle<()>,
    api_keys_listener: tokio::task::JoinHandle<()>,
    mail_sender: tokio::task::JoinHandle<()>,
    event_sender: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Binds the listener (port 0 picks a free one) and builds the server.
    pub async fn build(
        settings: &Settings,
        db_url: &Secret,
        session_key: Key,
    ) -> anyhow::Result<Self> {
        crate::web::assets::use_dir(settings.static_dir.clone());
        let workers = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let per_worker = settings.database_pool_size.div_ceil(workers);
        let worker_pools = (0..workers)
            .map(|_| db::pool(db_url, per_worker))
            .collect::<anyhow::Result<Vec<_>>>()?;
        // History reads and catalog loads: a standby's pool per worker too.
        let read_pools = match &settings.database_read_url {
            Some(url) => (0..workers)
                .map(|_| db::pool(url, per_worker).map(Some))
                .collect::<anyhow::Result<Vec<_>>>()?,
            None => vec![None; workers],
        };
        let read_stats = Arc::new(ReadStats::default());
        let background_pool = db::pool(db_url, BACKGROUND_POOL_SIZE)?;
        let debit_queue_pool = db::pool(db_url, DEBIT_QUEUE_POOL_SIZE)?;
        let pools: Arc<[DbPool]> = worker_pools
            .iter()
            .chain(read_pools.iter().flatten())
            .chain([&background_pool, &debit_queue_pool])
            .cloned()
            .collect();
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let metrics_listener = TcpListener::bind(settings.metrics_bind)
            .with_context(|| format!("binding METRICS_BIND {}", settings.metrics_bind))?;
        let metrics_port = metrics_listener.local_addr()?.port();
        let node_pools = web::Data::new(NodePools(pools));
        let node_reads = web::Data::from(read_stats.clone());
        let port = listener.local_addr()?.port();
        let base_url = match &settings.app_base_url {
            Some(url) => url.clone(),
            None => format!("http://{}", listener.local_addr()?),
        };
        let catalog = Arc::new(Catalog::new(&base_url));
        let node_catalog = web::Data::from(catalog.clone());
        let api_keys = Arc::new(ApiKeyCache::default());
        let node_api_keys = web::Data::from(api_keys.clone());
        // Stopped with the shop's server (run_until_stopped), not by signals.
        let metrics_server = HttpServer::new(move || {
            App::new()
                .app_data(node_pools.clone())
                .app_data(node_catalog.clone())
                .app_data(node_api_keys.clone())
                .app_data(node_reads.clone())
                .configure(routes::metrics)
        })
        .workers(1)
        .disable_signals()
        .listen(metrics_listener)?
        .run();
        let (stripe, simulator) = StripeGateway::connect(settings, &base_url).await?;
        let stripe = Arc::new(stripe);
        let rate_limiter = web::Data::new(RateLimiter::new(
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
            settings.trust_proxy_headers,
        ));
        let catalog_listener = tokio::spawn(db::listen::listen(
            db_url.clone(),
            cache::CHANNEL,
            catalog.clone(),
        ));
        let api_keys_listener = tokio::spawn(db::listen::listen(
            db_url.clone(),
            key_cache::CHANNEL,
            api_keys.clone(),
        ));
        let jobs = Jobs {
            db: background_pool,
            stripe: stripe.clone(),
        };
        let reconciler = tokio::spawn(reconciler::run(
            jobs.clone(),
            settings.reconcile_interval,
            settings.reconcile_after,
        ));
        let debit_reconciler = tokio::spawn(payments_api::reconciler::run(
            jobs.clone(),
            settings.reconcile_interval,
            settings.reconcile_after,
        ));
        let doorbell = Arc::new(queue::Doorbell::default());
        let debit_queue_listener = tokio::spawn(db::listen::listen(
            db_url.clone(),
            queue::CHANNEL,
            doorbell.clone(),
        ));
        let debit_queue = tokio::spawn(queue::run(
            Jobs {
                db: debit_queue_pool,
                stripe: stripe.clone(),
            },
            doorbell,
        ));
        let purge = tokio::spawn(purge::run(
            jobs.db.clone(),
            settings.cart_retention,
            settings.admin_idle_timeout,
        ));
        let transport =
            Transport::new(settings.mail.smtp.as_ref(), &settings.data_dir.join("mail"))?;
        // Sent emails hold shoppers' addresses and links to their orders:
        // the test-mode page shows them only on the developer's own machine.
        let sent_mail = Arc::new(match transport.mail_dir() {
            None => SentMailPage::ViaSmtp,
            Some(dir) if is_loopback_origin(&base_url) => SentMailPage::Listed(dir.to_owned()),
            Some(_) => SentMailPage::NotShownPublicly,
        });
        let mailer = Arc::new(Mailer {
            transport,
            from: settings.mail.from.clone(),
            shop_url: base_url.clone(),
            retry: settings.mail.retry,
        });
        let mail_sender = tokio::spawn(sender::run(jobs.db.clone(), mailer));
        let events_out = events::sender::Sender::new(
            RetryPolicy {
                first_retry: settings.event_retry,
            },
            stripe.is_test_mode(),
        )?;
        let event_sender = tokio::spawn(events::sender::run(jobs.db.clone(), Arc::new(events_out)));
        let orders_link_key = LinkKey::derive(session_key.master());
        let https = settings.secure_cookies();
        let pending_checkouts_per_client = settings.pending_checkouts_per_client;
        let staff_sessions = SessionRules {
            idle_timeout: settings.admin_idle_timeout,
            secure_cookie: https,
        };
        let upload_dir: Arc<Path> = settings.upload_dir.clone().into();
        let checkout_origin = stripe.checkout_origin();
        // Called once on each worker thread: each takes the next pool.
        let next_pool = Arc::new(AtomicUsize::new(0));
        let server = HttpServer::new(move || {
            let worker = next_pool.fetch_add(1, Ordering::Relaxed) % workers;
            let pool = &worker_pools[worker];
            let state = web::Data::new(AppState {
                db: pool.clone(),
                reads: Reads::new(pool.clone(), read_pools[worker].clone(), read_stats.clone()),
                cart: CartWrites::new(pool),
                catalog: catalog.clone(),
                api_keys: api_keys.clone(),
                stripe: stripe.clone(),
                staff_sessions,
                upload_dir: upload_dir.clone(),
                pending_checkouts_per_client,
                orders_link_key: orders_link_key.clone(),
                sent_mail: sent_mail.clone(),
            });
            let session =
                SessionMiddleware::builder(CookieSessionStore::default(), session_key.clone())
                    .cookie_name("storefront_session".into())
                    .cookie_content_security(CookieContentSecurity::Private)
                    .cookie_secure(https)
                    .cookie_http_only(true)
                    .cookie_same_site(SameSite::Lax)
                    .session_lifecycle(
                        PersistentSession::default().session_ttl(CookieDuration::days(30)),
                    )
                    .build();
            App::new()
                .app_data(state)
                .app_data(rate_limiter.clone())
                .app_data(web::PayloadConfig::new(FORM_LIMIT_BYTES))
                // A malformed query string (a repeated parameter, say) gets
                // the shop's error page, not actix's plain text.
                .app_data(web::QueryConfig::default().error_handler(|_, _| {
                    AppError::BadRequest("That link is not valid.".into()).into()
                }))
                .wrap(session)
                .wrap(from_fn(rate_limit::limit_writes))
                .wrap(from_fn(caching::default_cache_control))
                .wrap(security_headers(&checkout_origin, https))
                .wrap(from_fn(telemetry::request_id))
                .configure(routes::configure)
        })
        // Small responses go out at once instead of waiting on Nagle's algorithm.
        .on_connect(|connection, _| {
            if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .workers(workers)
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            metrics_server,
            metrics_port,
            base_url,
            server,
            simulator,
            reconciler,
            debit_reconciler,
            debit_queue_listener,
            debit_queue,
            purge,
            catalog_listener,
            api_keys_listener,
            mail_sender,
            event_sender,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics listener's port.
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// The origin shoppers use, e.g. `http://127.0.0.1:8080`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The in-process simulator's address, in test mode.
    pub fn simulator_url(&self) -> Option<String> {
        self.simulator.as_ref().map(|sim| sim.base_url())
    }

    /// Lets the owner stop the server (tests restart the app this way).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or a stop through `handle`), then drains
    /// in-flight requests and stops the background tasks and the simulator.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics_server.handle();
        let metrics_server = tokio::spawn(self.metrics_server);
        let result = self.server.await;
        metrics.stop(true).await;
        let _ = metrics_server.await;
        self.reconciler.abort();
        self.debit_reconciler.abort();
        self.debit_queue_listener.abort();
        self.debit_queue.abort();
        self.purge.abort();
        self.catalog_listener.abort();
        self.api_keys_listener.abort();
        self.mail_sender.abort();
        self.event_sender.abort();
        if let Some(simulator) = self.simulator {
            simulator.shutdown().await;
        }
        result
    }
}
