//! rear-server: the central service that rear clients report to.
//!
//! Reports arrive over HTTP (`POST /api/v1/reports`), SMTP, LMTP or a pipe (`rear-server
//! ingest`), all funnelled through [`ingest`], stored by a [`store::Store`], and shown in a
//! server-rendered web GUI ([`web`]) and a JSON API ([`handlers::api`]), every route behind
//! [`auth`]. [`Server::start`] takes already bound listeners so that tests can bind port 0.

pub mod auth;
pub mod config;
pub mod error;
pub mod handlers;
pub mod health;
pub mod images;
pub mod ingest;
pub mod inventory_diff;
pub mod layout_tree;
pub mod metrics;
pub mod router;
pub mod smtp;
pub mod store;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::store::Store;

/// Shared state of all handlers and mail sessions.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: Config,
    policy: health::StalePolicy,
    clock: health::Clock,
    counters: metrics::Counters,
    images: images::ImageStore,
    /// Per-process secret for CSRF tokens of proxy-authenticated users (who have no session).
    secret: String,
}

impl AppState {
    /// State over an opened store.
    ///
    /// # Errors
    /// The image store's settings cannot be used (see [`images::ImageStore::from_config`]).
    pub fn new(store: Arc<dyn Store>, config: Config) -> Result<Self, images::PutError> {
        Self::with_clock(store, config, health::Clock::system())
    }

    /// State whose notion of "now" (host states, ages) comes from `clock`.
    ///
    /// # Errors
    /// The image store's settings cannot be used (see [`images::ImageStore::from_config`]).
    pub fn with_clock(
        store: Arc<dyn Store>,
        config: Config,
        clock: health::Clock,
    ) -> Result<Self, images::PutError> {
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                images: images::ImageStore::from_config(&config)?,
                policy: health::StalePolicy::from_config(&config),
                config,
                clock,
                counters: metrics::Counters::default(),
                secret: auth::random_token(),
            }),
        })
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The stale policy of the configuration.
    pub fn stale_policy(&self) -> &health::StalePolicy {
        &self.inner.policy
    }

    /// The time host states are computed against.
    pub fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    /// The server's own counters (for `/metrics`).
    pub fn counters(&self) -> &metrics::Counters {
        &self.inner.counters
    }

    /// The rescue image object store.
    pub fn images(&self) -> &images::ImageStore {
        &self.inner.images
    }

    pub(crate) fn secret(&self) -> &str {
        &self.inner.secret
    }
}

/// Listeners the server runs on, already bound.
pub struct Listeners {
    /// Web GUI and API.
    pub http: TcpListener,
    /// SMTP, if enabled.
    pub smtp: Option<TcpListener>,
    /// LMTP, if enabled.
    pub lmtp: Option<TcpListener>,
}

/// A running server.
pub struct Server {
    /// Address of the HTTP listener.
    pub http_addr: SocketAddr,
    /// Address of the SMTP listener.
    pub smtp_addr: Option<SocketAddr>,
    /// Address of the LMTP listener.
    pub lmtp_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Starts serving on the listeners; returns once all are accepting.
    ///
    /// # Errors
    /// A listener's address cannot be read, or the STARTTLS certificate or key cannot be loaded.
    pub fn start(state: AppState, listeners: Listeners) -> std::io::Result<Self> {
        let http_addr = listeners.http.local_addr()?;
        let smtp_addr = listeners
            .smtp
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?;
        let lmtp_addr = listeners
            .lmtp
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?;
        let tls = smtp::load_tls(&state.config().smtp)?;
        let mut tasks = Vec::new();
        let app = router::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let http = listeners.http;
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(http, app).await {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        }));
        if let Some(l) = listeners.smtp {
            tasks.push(tokio::spawn(smtp::serve(
                l,
                state.clone(),
                smtp::Protocol::Smtp,
                tls.clone(),
            )));
        }
        if let Some(l) = listeners.lmtp {
            tasks.push(tokio::spawn(smtp::serve(
                l,
                state,
                smtp::Protocol::Lmtp,
                tls,
            )));
        }
        Ok(Self {
            http_addr,
            smtp_addr,
            lmtp_addr,
            tasks,
        })
    }

    /// Waits until a listener task ends (normally never).
    pub async fn wait(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Stops all listeners.
    pub fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
