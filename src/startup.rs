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
use crate::api::rate_limit::RateLimits;
use crate::api::webhooks::WebhookState;
use crate::api::{self, request_info, ApiState};
use crate::client_file::{ClientFile, ClientFileError};
use crate::client_tokens::TokenDeriver;
use crate::clients::{ClientError, ClientRegistry};
use crate::clock::Clock;
use crate::config::Settings;
use crate::data_dir::{DataDir, DataDirError, ROOT_CLIENT_ID};
use crate::domain::Roles;
use crate::fire::sink::LocalSink;
use crate::fire::{FireDeps, TriggerSchemas};
use crate::registry::HookRegistry;
use crate::schemas::{SchemaError, SchemaSet};
use crate::store::{HookStore, SqliteStore, StoreError};
use crate::token_cipher::TokenCipher;

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
    /// The client configuration is invalid.
    #[error(transparent)]
    Clients(#[from] ClientError),
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

/// A built, bound, not yet running service.
pub struct Application {
    port: u16,
    server: Server,
    new_root_token: Option<String>,
}

impl Application {
    /// Builds the service from `settings`, reading time from `clock`.
    ///
    /// # Errors
    /// [`StartupError`] naming the part that failed.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, StartupError> {
        let data_dir = DataDir::open(&settings.data_dir)?;
        let store: Arc<dyn HookStore> = Arc::new(SqliteStore::open(&data_dir.store_path())?);
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

        let state = web::Data::new(ApiState {
            registry: HookRegistry::new(Arc::clone(&store), TokenCipher::new(&key)),
            store: Arc::clone(&store),
            fire: FireDeps {
                store: Arc::clone(&store),
                sink: Arc::new(LocalSink::new(Arc::clone(&store))),
                roles,
                trigger_schemas: Arc::new(TriggerSchemas::default()),
                render_limits: settings.render_limits.clone(),
            },
            schemas: Arc::new(SchemaSet::load()?),
            rate_limits: RateLimits::new(settings.rate_limits, Arc::clone(&clock)),
            webhooks: WebhookState::new(settings.webhook_secret_grace),
            clock,
            started: Instant::now(),
        });
        let authenticator = web::Data::new(authenticator);
        let body_limit = BodyLimit(settings.body_limit);

        let bind_error = |source| StartupError::Bind {
            address: settings.listen,
            source,
        };
        let listener = TcpListener::bind(settings.listen).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(authenticator.clone())
                .app_data(body_limit)
                .wrap(from_fn(request_info::attach))
                .configure(api::routes)
        })
        // The caller decides when to stop (signals in main, a future in tests).
        .disable_signals();
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = server.listen(listener).map_err(bind_error)?.run();
        Ok(Self {
            port,
            server,
            new_root_token: root.new_token,
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

    /// Serves until `shutdown` completes, then stops gracefully: no new connections, in-flight
    /// requests finish.
    ///
    /// # Errors
    /// I/O errors of the server.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let handle = self.server.handle();
        let server = self.server;
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => result,
            () = shutdown => {
                // The stop command is carried out by the server future, so poll both.
                let ((), result) = tokio::join!(handle.stop(true), server);
                result
            }
        }
    }
}
