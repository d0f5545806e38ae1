//! Wiring: build every part from [`Settings`], bind the socket, run until told to stop.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::api::auth::{Authenticator, ClientAuthenticator};
use crate::api::extract::BodyLimit;
use crate::api::openapi::{OpenApiDocument, OpenApiError};
use crate::api::rate_limit::RateLimits;
use crate::api::schemas::{SchemaError, SchemaSet};
use crate::api::webhooks::WebhookState;
use crate::api::{self, request_id, request_info, ApiState};
use crate::clients::file::{ClientFile, ClientFileError};
use crate::clients::tokens::TokenDeriver;
use crate::clients::{ClientError, ClientRegistry};
use crate::clock::Clock;
use crate::config::{ServiceRole, Settings, TaskQueue};
use crate::crypto::TokenCipher;
use crate::data_dir::{DataDir, DataDirError, ROOT_CLIENT_ID};
use crate::domain::Roles;
use crate::fire::sink::{AmqpSink, HttpSink, LocalSink, TaskclusterSink, TaskclusterSinkError};
use crate::fire::{FireDeps, RenderPool, TaskSink};
use crate::listener::{self, ListenerDeps, ListenerStatus};
use crate::metrics::{MeteredStore, Metrics};
use crate::notify::{ChatNotifier, EmailError, EmailNotifier, Notifier};
use crate::registry::{HookChange, HookRegistry};
use crate::scheduler::Scheduler;
use crate::store::{HookStore, MongoOptions, MongoStore, SqliteStore, StoreError};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data directory is unusable.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The store could not be opened.
    #[error("cannot open the store")]
    Store(#[from] StoreError),
    /// The embedded schemas do not compile (a build defect).
    #[error(transparent)]
    Schemas(#[from] SchemaError),
    /// The embedded OpenAPI reference does not bundle (a build defect).
    #[error(transparent)]
    OpenApi(#[from] OpenApiError),
    /// The client configuration is invalid.
    #[error(transparent)]
    Clients(#[from] ClientError),
    /// The Taskcluster sink's settings are unusable.
    #[error(transparent)]
    TaskclusterSink(#[from] TaskclusterSinkError),
    /// The HTTP client for task sinks could not be built.
    #[error("cannot build the HTTP client for the task sink")]
    HttpClient(#[source] reqwest::Error),
    /// The email settings are unusable.
    #[error("cannot send failure emails")]
    Email(#[from] EmailError),
    /// The MongoDB database lacks migrations this build needs.
    #[error(
        "the MongoDB database is missing migrations {pending:?}; run `hookd migrate` \
         (or start with --migrate) first"
    )]
    NotMigrated {
        /// The migrations not yet applied.
        pending: Vec<&'static str>,
    },
    /// The data dir's clients file is unusable.
    #[error(transparent)]
    ClientFile(#[from] ClientFileError),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The sink the settings ask for.
fn task_sink(
    settings: &Settings,
    store: &Arc<dyn HookStore>,
    clock: &Arc<dyn Clock>,
) -> Result<Arc<dyn TaskSink>, StartupError> {
    Ok(match &settings.task_queue {
        TaskQueue::Local => Arc::new(LocalSink::new(Arc::clone(store))),
        TaskQueue::Amqp(queue) => Arc::new(AmqpSink::new(queue.clone())),
        TaskQueue::Http { url, secret } => Arc::new(HttpSink::new(
            http_client()?,
            url.clone(),
            secret.clone(),
            settings.sink_retry,
            Arc::clone(clock),
        )),
        TaskQueue::Taskcluster {
            root_url,
            client_id,
            access_token,
        } => Arc::new(TaskclusterSink::new(
            http_client()?,
            root_url,
            client_id,
            access_token,
            settings.sink_retry,
        )?),
    })
}

/// The notifier the settings ask for (possibly one with no channels).
fn notifier(settings: &Settings, clock: &Arc<dyn Clock>) -> Result<Notifier, StartupError> {
    let notify = &settings.notify;
    let email = notify
        .smtp_url
        .as_deref()
        .map(|url| EmailNotifier::new(url, &notify.from))
        .transpose()?;
    let chat = notify
        .chat_webhook_url
        .clone()
        .map(|url| Ok::<_, StartupError>(ChatNotifier::new(http_client()?, url)))
        .transpose()?;
    Ok(Notifier::new(email, chat, notify.window, Arc::clone(clock)))
}

/// The HTTP client for outbound calls (task sinks, chat notices).
fn http_client() -> Result<reqwest::Client, StartupError> {
    reqwest::Client::builder()
        .user_agent(concat!("hookd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(StartupError::HttpClient)
}

/// A built, bound, not yet running service.
pub struct Application {
    port: u16,
    server: Server,
    new_root_token: Option<String>,
    /// Stops the background loops (scheduler, AMQP listener) when the server stops.
    stop_loops: CancellationToken,
    /// The AMQP listener, when this process runs that role and `--amqp-url` turned it on.
    listener: Option<JoinHandle<()>>,
    /// The scheduler and the change subscription that wakes its loop, when this process
    /// runs the scheduler role.
    scheduler: Option<(Arc<Scheduler>, broadcast::Receiver<HookChange>)>,
    /// How long stopping may wait for work in flight, per stage (HTTP, then the loops).
    shutdown_grace: std::time::Duration,
}

impl Application {
    /// Builds the service from `settings`, reading time from `clock`.
    ///
    /// # Errors
    /// [`StartupError`] naming the part that failed.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, StartupError> {
        let data_dir = DataDir::open(&settings.data_dir)?;
        // One registry per service, never a global: see `crate::metrics`.
        let metrics = Arc::new(Metrics::new());
        // The data dir holds the root client and token key with either store.
        let backend: Arc<dyn HookStore> = match &settings.mongodb {
            Some(options) => Arc::new(open_mongo(options, settings.migrate).await?),
            None => Arc::new(SqliteStore::open(&data_dir.store_path())?),
        };
        let store: Arc<dyn HookStore> = Arc::new(MeteredStore::new(backend, Arc::clone(&metrics)));
        let key = match settings.trigger_token_key {
            Some(key) => key,
            None => data_dir.token_key()?,
        };
        let deriver = TokenDeriver::new(data_dir.client_key()?);
        let root = data_dir.root_client(settings.root_access_token.as_deref(), &deriver)?;
        let roles = Arc::new(Roles::new(settings.roles.clone()));
        let mut clients = settings.clients.clone();
        clients.extend_from_slice(ClientFile::open(&data_dir.clients_path())?.clients());
        clients.push(root.config);
        let mut client_registry = ClientRegistry::new(&clients, &roles)?;
        for client in &clients {
            if let Some(salt) = &client.token_salt {
                let token = deriver.token(&client.client_id, salt);
                client_registry.allow_hawk(&client.client_id, token)?;
            }
        }
        if let Some(token) = root.explicit_token {
            client_registry.allow_hawk(ROOT_CLIENT_ID, token)?;
        }
        let authenticator: Arc<dyn Authenticator> = Arc::new(ClientAuthenticator::new(
            client_registry,
            Arc::clone(&clock),
        ));

        let fire = FireDeps {
            store: Arc::clone(&store),
            sink: task_sink(&settings, &store, &clock)?,
            notifier: Arc::new(notifier(&settings, &clock)?),
            roles,
            renderer: Arc::new(RenderPool::new(settings.render_limits.clone())),
            metrics: Arc::clone(&metrics),
        };
        let registry = HookRegistry::new(
            Arc::clone(&store),
            TokenCipher::new(&key),
            Arc::clone(&clock),
        );
        let stop_loops = CancellationToken::new();
        let amqp = settings
            .amqp
            .clone()
            .filter(|_| settings.runs(ServiceRole::Listener));
        let listener_status = Arc::new(match &amqp {
            Some(_) => ListenerStatus::connecting(),
            None => ListenerStatus::disabled(),
        });
        let scheduler = if settings.runs(ServiceRole::Scheduler) {
            let scheduler = Arc::new(Scheduler::new(
                fire.clone(),
                Arc::clone(&clock),
                settings.catch_up,
                registry.subscribe(),
            ));
            let wake = registry.subscribe();
            scheduler.start().await?;
            Some((scheduler, wake))
        } else {
            None
        };
        let amqp_listener = amqp.map(|amqp| {
            let deps = ListenerDeps {
                settings: amqp,
                fire: fire.clone(),
                clock: Arc::clone(&clock),
                status: Arc::clone(&listener_status),
            };
            listener::spawn(deps, registry.subscribe(), stop_loops.clone())
        });
        let state = web::Data::new(ApiState {
            registry,
            store: Arc::clone(&store),
            fire,
            schemas: Arc::new(SchemaSet::load()?),
            rate_limits: RateLimits::new(settings.rate_limits, Arc::clone(&clock)),
            webhooks: WebhookState::new(settings.webhook_secret_grace),
            openapi: OpenApiDocument::build()?,
            clock,
            started: Instant::now(),
            listener: listener_status,
        });
        let authenticator = web::Data::new(authenticator);
        let metrics = web::Data::from(metrics);
        let body_limit = BodyLimit(settings.body_limit);

        let bind_error = |source| StartupError::Bind {
            address: settings.listen,
            source,
        };
        let listener = TcpListener::bind(settings.listen).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let routes = if settings.runs(ServiceRole::Api) {
            api::routes
        } else {
            api::health_routes
        };
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(authenticator.clone())
                .app_data(body_limit)
                .app_data(metrics.clone())
                .wrap(from_fn(request_info::attach))
                // Outer layers run first: the id covers everything, including the counting.
                .wrap(from_fn(api::metrics::count))
                .wrap(from_fn(request_id::assign))
                .configure(routes)
        })
        // The caller decides when to stop (signals in main, a future in tests).
        .disable_signals()
        .shutdown_timeout(settings.shutdown_grace.as_secs());
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = server.listen(listener).map_err(bind_error)?.run();
        Ok(Self {
            port,
            server,
            new_root_token: root.new_token,
            stop_loops,
            listener: amqp_listener,
            scheduler,
            shutdown_grace: settings.shutdown_grace,
        })
    }

    /// The port the service listens on (useful when the settings asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The root client's token, when this start generated it; show it to the operator once.
    pub fn new_root_token(&self) -> Option<&str> {
        self.new_root_token.as_deref()
    }

    /// The scheduler, when this process runs one; tests drive it with [`Scheduler::tick`].
    pub fn scheduler(&self) -> Option<Arc<Scheduler>> {
        self.scheduler
            .as_ref()
            .map(|(scheduler, _)| Arc::clone(scheduler))
    }

    /// Serves (and schedules, and listens) until `shutdown` completes, then stops gracefully:
    /// no new connections, in-flight requests and scheduled fires finish, the AMQP listener
    /// cancels its consumers and closes its channels. Each stage waits at most the shutdown
    /// grace; work still running then is abandoned (an unacknowledged AMQP message goes back
    /// to its queue).
    ///
    /// # Errors
    /// I/O errors of the server.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let scheduling = self.scheduler.map(|(scheduler, wake)| {
            let stop = self.stop_loops.clone();
            tokio::spawn(async move { scheduler.run(wake, stop).await })
        });
        let handle = self.server.handle();
        let server = self.server;
        tokio::pin!(server);
        let result = tokio::select! {
            result = &mut server => result,
            () = shutdown => {
                // The stop command is carried out by the server future, so poll both.
                let ((), result) = tokio::join!(handle.stop(true), server);
                result
            }
        };
        self.stop_loops.cancel();
        let loops = async {
            if let Some(scheduling) = scheduling {
                if let Err(e) = scheduling.await {
                    tracing::error!(error = %e, "the scheduler loop ended abnormally");
                }
            }
            if let Some(listener) = self.listener {
                // A listener that panicked has nothing left to stop.
                let _ = listener.await;
            }
        };
        if tokio::time::timeout(self.shutdown_grace, loops)
            .await
            .is_err()
        {
            tracing::warn!(grace = ?self.shutdown_grace, "background loops did not stop in time");
        }
        result
    }
}

/// Connects to MongoDB, migrating first when asked, and refuses a database that is behind.
async fn open_mongo(options: &MongoOptions, migrate: bool) -> Result<MongoStore, StartupError> {
    let store = MongoStore::connect(options).await?;
    if migrate {
        store.migrate().await?;
    }
    let pending = store.pending_migrations().await?;
    if !pending.is_empty() {
        return Err(StartupError::NotMigrated { pending });
    }
    Ok(store)
}
