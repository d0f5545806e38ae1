//! Wiring: build every part from [`Settings`], bind the socket, run until told to stop.
//!
//! [`Application::build`] is a list of named steps, one function each below. Every background
//! loop (the scheduler, the AMQP listener, the bulk replay runner) is prepared in `build` and started in one place,
//! [`Application::run_until_stopped`], under one `CancellationToken`. [`fire_deps`] is the one
//! place the fire path's dependencies are put together, for the service and for tests.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_http::HttpService;
use actix_service::{fn_service, map_config, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server, Service};
use actix_web::middleware::from_fn;
use actix_web::{web, App};
use clap::ValueEnum;

use crate::api::auth::{Authenticator, ClientAuthenticator};
use crate::api::chat_commands::SlashCommands;
use crate::api::extract::{BodyLimit, BodyTimeout};
use crate::api::openapi::{OpenApiDocument, OpenApiError};
use crate::api::rate_limit::RateLimits;
use crate::api::schemas::{SchemaError, SchemaSet};
use crate::api::webhooks::WebhookState;
use crate::api::{self, framework_errors, request_id, request_info, unread_body, ApiState};
use crate::apply::{ApplyFailpoint, ApplyService};
use crate::chat::matrix::MatrixBot;
use crate::chat::{AliasError, AliasRegistry, ChatEngine};
use crate::clients::file::{ClientFile, ClientFileError};
use crate::clients::root::{RootClient, ROOT_CLIENT_ID};
use crate::clients::tokens::TokenDeriver;
use crate::clients::{ClientError, ClientRegistry};
use crate::clock::Clock;
use crate::config::{ServiceRole, Settings, TaskQueue};
use crate::crypto::TokenCipher;
use crate::data_dir::{DataDir, DataDirError};
use crate::domain::Roles;
use crate::fire::sink::{AmqpSink, HttpSink, LocalSink, TaskclusterSink, TaskclusterSinkError};
use crate::fire::{FireDeps, RenderPool, TaskSink};
use crate::listener::{self, ListenerDeps, ListenerStatus};
use crate::metrics::{MeteredStore, Metrics};
use crate::notify::{ChatNotifier, EmailError, EmailNotifier, Notifier};
use crate::registry::{HookChange, HookRegistry};
use crate::replayer::ReplayRunner;
use crate::scheduler::{Failpoint, Scheduler};
use crate::store::{
    one_outage, HookStore, MongoOptions, MongoStore, OutageGuard, SqliteStore, StoreError,
};
use crate::ui::{self, Ui};
use crate::webhook::DeliveryIds;
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
    /// The config file's chat aliases could not be written.
    #[error("cannot apply the config file's chat aliases")]
    ChatAliases(#[from] AliasError),
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

/// What the slash-command endpoints need, answering through `engine`.
fn slash_commands(
    settings: &Settings,
    engine: Arc<ChatEngine>,
) -> Result<SlashCommands, StartupError> {
    Ok(SlashCommands {
        engine,
        slack_signing_secret: settings.chat.slack_signing_secret.clone(),
        mattermost_command_token: settings.chat.mattermost_command_token.clone(),
        seen: DeliveryIds::default(),
        http: http_client()?,
    })
}

/// The HTTP client for outbound calls (task sinks, chat notices).
fn http_client() -> Result<reqwest::Client, StartupError> {
    reqwest::Client::builder()
        .user_agent(concat!("hookd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(StartupError::HttpClient)
}

/// A built, bound service whose background loops start with [`Application::run_until_stopped`].
pub struct Application {
    port: u16,
    server: Server,
    new_root_token: Option<String>,
    /// The scheduler and the AMQP listener, prepared but not started.
    loops: Loops,
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
        let store = open_store(&settings, &data_dir, &metrics).await?;
        let (clients, root) = client_registry(&settings, &data_dir)?;
        let sink = task_sink(&settings, &store, &clock)?;
        let fire = fire_deps(
            &settings,
            Arc::clone(&store),
            sink,
            &clock,
            Arc::clone(&metrics),
        )?;
        let registry = hook_registry(&settings, &data_dir, &store, &clock)?;
        // An apply a crash left half made (MongoDB) is finished before anything reads hooks.
        crate::store::roll_forward_all(&*store).await?;
        let apply = ApplyService::new(
            Arc::clone(&store),
            registry.clone(),
            Arc::clone(&clock),
            ApplyFailpoint::from_env(),
        );
        AliasRegistry::new(Arc::clone(&store))
            .apply_config(&settings.chat.aliases)
            .await?;
        let chat = Arc::new(ChatEngine::new(
            fire.clone(),
            Arc::clone(&fire.roles),
            Arc::clone(&clock),
        ));
        let mut loops = Loops::prepare(&settings, &fire, &registry, &clock).await?;
        loops.matrix = match &settings.chat.matrix {
            Some(matrix) if settings.runs(ServiceRole::Api) => Some(MatrixBot::new(
                http_client()?,
                matrix.clone(),
                Arc::clone(&chat),
                Arc::clone(&store),
            )),
            _ => None,
        };
        let slash = slash_commands(&settings, chat)?;
        let state = ApiState {
            apply,
            registry,
            store,
            fire,
            schemas: Arc::new(SchemaSet::load()?),
            rate_limits: RateLimits::new(settings.rate_limits, Arc::clone(&clock)),
            webhooks: WebhookState::new(settings.webhook_secret_grace),
            openapi: OpenApiDocument::build()?,
            started: Instant::now(),
            listener: Arc::clone(&loops.listener_status),
            clock: Arc::clone(&clock),
            slash,
        };
        let ui = web_ui(&settings, &clock);
        let authenticator: Arc<dyn Authenticator> =
            Arc::new(ClientAuthenticator::new(clients, clock));
        let (server, port) = http_server(&settings, state, ui, authenticator, metrics)?;
        Ok(Self {
            port,
            server,
            new_root_token: root.new_token,
            loops,
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
        self.loops
            .scheduler
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
        let stop_loops = CancellationToken::new();
        let running = self.loops.start(&stop_loops);
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
        stop_loops.cancel();
        let stopped = async {
            for (name, running) in running {
                if let Err(e) = running.await {
                    tracing::error!(error = %e, "the {name} loop ended abnormally");
                }
            }
        };
        if tokio::time::timeout(self.shutdown_grace, stopped)
            .await
            .is_err()
        {
            tracing::warn!(grace = ?self.shutdown_grace, "background loops did not stop in time");
        }
        result
    }
}

/// The background loops this process runs, each with the change subscription it was built
/// with (taken in `build`, so no change between build and start is missed).
struct Loops {
    /// The scheduler, when this process runs that role.
    scheduler: Option<(Arc<Scheduler>, broadcast::Receiver<HookChange>)>,
    /// The AMQP listener, when this process runs that role and `--amqp-url` turned it on.
    listener: Option<(ListenerDeps, broadcast::Receiver<HookChange>)>,
    /// What the listener is doing, for the API; "disabled" without a listener.
    listener_status: Arc<ListenerStatus>,
    /// The Matrix bot, when configured (it runs with the API role).
    matrix: Option<MatrixBot>,
    /// The bulk replay runner, with the scheduler's role (both fire in the background).
    replayer: Option<ReplayRunner>,
}

impl Loops {
    /// Builds the loops the settings ask for; the scheduler loads its timers from the store.
    async fn prepare(
        settings: &Settings,
        fire: &FireDeps,
        registry: &HookRegistry,
        clock: &Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let scheduler = if settings.runs(ServiceRole::Scheduler) {
            let scheduler = Arc::new(
                Scheduler::new(
                    fire.clone(),
                    Arc::clone(clock),
                    settings.catch_up,
                    registry.subscribe(),
                )
                .with_failpoint(Failpoint::from_env()),
            );
            let wake = registry.subscribe();
            scheduler.start().await?;
            Some((scheduler, wake))
        } else {
            None
        };
        let amqp = settings
            .amqp
            .clone()
            .filter(|_| settings.runs(ServiceRole::Listener));
        let listener_status = Arc::new(match &amqp {
            Some(_) => ListenerStatus::connecting(),
            None => ListenerStatus::disabled(),
        });
        let listener = amqp.map(|amqp| {
            let deps = ListenerDeps {
                settings: amqp,
                fire: fire.clone(),
                clock: Arc::clone(clock),
                status: Arc::clone(&listener_status),
            };
            (deps, registry.subscribe())
        });
        let replayer = settings
            .runs(ServiceRole::Scheduler)
            .then(|| ReplayRunner::new(fire.clone(), Arc::clone(clock), settings.replay_rate));
        Ok(Self {
            scheduler,
            listener,
            listener_status,
            matrix: None,
            replayer,
        })
    }

    /// Starts every loop on the current runtime; each ends when `stop` is cancelled.
    fn start(self, stop: &CancellationToken) -> Vec<(&'static str, JoinHandle<()>)> {
        let scheduling = self.scheduler.map(|(scheduler, wake)| {
            let stop = stop.clone();
            let run = tokio::spawn(async move { scheduler.run(wake, stop).await });
            ("scheduler", run)
        });
        let listening = self.listener.map(|(deps, changes)| {
            (
                "AMQP listener",
                listener::spawn(deps, changes, stop.clone()),
            )
        });
        let chatting = self.matrix.map(|bot| {
            let stop = stop.clone();
            (
                "Matrix bot",
                tokio::spawn(async move { bot.run(stop).await }),
            )
        });
        let replaying = self.replayer.map(|replayer| {
            let stop = stop.clone();
            ("replay", tokio::spawn(replayer.run(stop)))
        });
        scheduling
            .into_iter()
            .chain(listening)
            .chain(chatting)
            .chain(replaying)
            .collect()
    }
}

/// The fire path's dependencies: the one place a [`FireDeps`] is put together. The sink is an
/// argument (see [`task_sink`]) so that tests and benchmarks can put their own behind it.
///
/// # Errors
/// [`StartupError::Email`] or [`StartupError::HttpClient`] when a notice channel is unusable.
pub fn fire_deps(
    settings: &Settings,
    store: Arc<dyn HookStore>,
    sink: Arc<dyn TaskSink>,
    clock: &Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> Result<FireDeps, StartupError> {
    Ok(FireDeps {
        store,
        sink,
        notifier: Arc::new(notifier(settings, clock)?),
        roles: Arc::new(Roles::new(settings.roles.clone())),
        renderer: Arc::new(
            RenderPool::new(settings.render_limits.clone()).metered(Arc::clone(&metrics)),
        ),
        metrics,
        context_limit: settings.fire_context_limit,
    })
}

/// The store the settings ask for (MongoDB, or SQLite in the data dir), counted in `metrics`
/// and guarded so that one request waits for an outage at most once (see [`OutageGuard`]).
async fn open_store(
    settings: &Settings,
    data_dir: &DataDir,
    metrics: &Arc<Metrics>,
) -> Result<Arc<dyn HookStore>, StartupError> {
    // The data dir holds the root client and token key with either store.
    let backend: Arc<dyn HookStore> = match &settings.mongodb {
        Some(options) => Arc::new(open_mongo(options, settings.migrate).await?),
        None => Arc::new(SqliteStore::open(&data_dir.store_path())?),
    };
    // The guard outside the metering: the metrics count the calls that reached the backend.
    let metered = Arc::new(MeteredStore::new(backend, Arc::clone(metrics)));
    Ok(Arc::new(OutageGuard::new(metered)))
}

/// Every client: the configured ones, `hookd client`'s in the data dir, and root. Clients whose
/// token hookd can derive (and root with an explicit token) may also sign with Hawk.
fn client_registry(
    settings: &Settings,
    data_dir: &DataDir,
) -> Result<(ClientRegistry, RootClient), StartupError> {
    let deriver = TokenDeriver::open(data_dir)?;
    let root = RootClient::load(data_dir, settings.root_access_token.as_deref(), &deriver)?;
    let roles = Roles::new(settings.roles.clone());
    let mut clients = settings.clients.clone();
    clients.extend_from_slice(ClientFile::open_in(data_dir)?.clients());
    clients.push(root.config.clone());
    let mut registry = ClientRegistry::new(&clients, &roles)?;
    for client in &clients {
        if let Some(salt) = &client.token_salt {
            let token = deriver.token(&client.client_id, salt);
            registry.allow_hawk(&client.client_id, token)?;
        }
    }
    if let Some(token) = &root.explicit_token {
        registry.allow_hawk(ROOT_CLIENT_ID, token.clone())?;
    }
    Ok((registry, root))
}

/// The hook registry, sealing trigger tokens with the configured key or the data dir's.
fn hook_registry(
    settings: &Settings,
    data_dir: &DataDir,
    store: &Arc<dyn HookStore>,
    clock: &Arc<dyn Clock>,
) -> Result<HookRegistry, StartupError> {
    let key = match settings.trigger_token_key {
        Some(key) => key,
        None => data_dir.token_key()?,
    };
    Ok(HookRegistry::new(
        Arc::clone(store),
        TokenCipher::new(&key),
        Arc::clone(clock),
    ))
}

/// The web UI's state, when it is on and this process serves the API.
fn web_ui(settings: &Settings, clock: &Arc<dyn Clock>) -> Option<Ui> {
    let ui = settings
        .ui
        .as_ref()
        .filter(|_| settings.runs(ServiceRole::Api))?;
    let roles: Vec<String> = settings
        .service_roles
        .iter()
        .filter_map(|r| r.to_possible_value().map(|v| v.get_name().to_owned()))
        .collect();
    Some(Ui::new(ui, roles.join(", "), Arc::clone(clock)))
}

/// Binds the listen address and starts the HTTP server on it; returns the server and the port.
fn http_server(
    settings: &Settings,
    state: ApiState,
    ui: Option<Ui>,
    authenticator: Arc<dyn Authenticator>,
    metrics: Arc<Metrics>,
) -> Result<(Server, u16), StartupError> {
    let state = web::Data::new(state);
    let authenticator = web::Data::new(authenticator);
    let metrics = web::Data::from(metrics);
    let body_limit = BodyLimit(settings.body_limit);
    let body_timeout = BodyTimeout(settings.request_timeout);
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
    let app = move || {
        let ui = ui.clone();
        App::new()
            .app_data(state.clone())
            .app_data(authenticator.clone())
            .app_data(body_limit)
            .app_data(body_timeout)
            .app_data(metrics.clone())
            .wrap(from_fn(request_info::attach))
            // Outside `attach`, which rebuilds error bodies.
            .wrap(from_fn(unread_body::hold))
            // Outer layers run first: the id covers everything, including the counting.
            .wrap(from_fn(api::metrics::count))
            .wrap(from_fn(request_id::assign))
            // Each request is one unit for the store's outage guard.
            .wrap_fn(|req, service| one_outage(service.call(req)))
            // The UI's routes come first: the API's table ends in a catch-all.
            .configure(|cfg| {
                if let Some(ui) = &ui {
                    ui::routes(cfg, ui);
                }
            })
            .configure(routes)
    };
    // actix-web's `HttpServer` would do this assembly itself, but it gives no access to each
    // connection's socket, which `framework_errors` wraps.
    let request_timeout = settings.request_timeout;
    let mut server = Server::build()
        // The caller decides when to stop (signals in main, a future in tests).
        .disable_signals()
        .shutdown_timeout(settings.shutdown_grace.as_secs());
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    let server = server
        .listen("hookd-http", listener, move || {
            let http = HttpService::build()
                // The head of a request is bounded here, its body by the `BodyTimeout`
                // extractor setting.
                .client_request_timeout(request_timeout)
                // As `HttpServer` does: a peer that stops reading after the answer does not
                // keep its connection.
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1(map_config(app(), |_| AppConfig::default()));
            fn_service(framework_errors::accept).and_then(http)
        })
        .map_err(bind_error)?;
    Ok((server.run(), port))
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
