//! The AMQP listener: hooks with `bindings` fire on matching messages.
//!
//! One task owns the connection. It reconciles queues and bindings with the stored hooks at
//! start-up, on every hook change (this process's, announced by the registry, and other
//! replicas', announced on the hook-change exchanges) and periodically. Each hook's queue has a
//! consumer whose deliveries go through [`crate::fire::fire`]. When the broker goes away the task
//! reconnects with capped exponential backoff and reconciles again; the process keeps serving.
//!
//! Owns: the connection loop (this file), queue and binding names and declarations (`topology`),
//! reconciliation (`reconcile`), the channels hook consumers share (`channels`), hook-change events between replicas (`events`), deliveries and
//! their ack, nack and dead-lettering (`delivery`, `backoff`), the state shown in getHookStatus
//! (`status`) and its settings (`settings`). Leaves to others: firing (`fire`), the broker
//! connection itself (`amqp`), hook storage (`store`, `registry`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::{Connection, Event};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::domain::{Binding, HookKey};
use crate::metrics::AmqpEvent;
use crate::registry::HookChange;

mod backoff;
mod channels;
mod delivery;
mod deps;
mod events;
mod reconcile;
mod settings;
mod status;
mod topology;

pub use deps::ListenerDeps;
pub use settings::AmqpSettings;
pub use status::{ListenerState, ListenerStatus};

use events::Events;
use reconcile::Reconciler;
use topology::{Names, Topology, TopologyError};

/// The first wait after losing the broker; it doubles up to the configured cap.
const RECONNECT_BASE: Duration = Duration::from_millis(100);

/// How long connecting may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the listener on the current runtime; it runs until `stop` is cancelled.
pub fn spawn(
    deps: ListenerDeps,
    changes: broadcast::Receiver<HookChange>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(run(deps, changes, stop))
}

/// Connects, serves, and reconnects after every loss until stopped.
async fn run(
    deps: ListenerDeps,
    mut changes: broadcast::Receiver<HookChange>,
    stop: CancellationToken,
) {
    let mut applied = HashMap::new();
    let mut failures = 0u32;
    loop {
        let session = serve(&deps, &mut changes, &mut applied, &stop, &mut failures);
        let error = match session.await {
            Ok(()) => return,
            Err(e) => e,
        };
        // Counted first, so whoever sees the status change also sees the count.
        deps.fire.metrics.amqp(AmqpEvent::Reconnecting);
        deps.status.set_lost();
        failures = failures.saturating_add(1);
        let wait = backoff::delay(RECONNECT_BASE, failures, deps.settings.reconnect_max);
        tracing::warn!(
            error = %error,
            reconnects = deps.status.reconnects(),
            ?wait,
            "AMQP listener lost the broker; reconnecting"
        );
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("cannot connect")]
    Connect(#[source] lapin::Error),
    #[error("connecting took longer than {0:?}")]
    ConnectTimeout(Duration),
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error("the connection closed")]
    Closed,
}

/// One connection's lifetime. `Ok` means stopped on request.
async fn serve(
    deps: &ListenerDeps,
    changes: &mut broadcast::Receiver<HookChange>,
    applied: &mut HashMap<HookKey, Vec<Binding>>,
    stop: &CancellationToken,
    failures: &mut u32,
) -> Result<(), SessionError> {
    let (connection, topology, mut events) = open(&deps.settings).await?;
    let mut connection_events = Box::pin(connection.events_listener());
    let (ended_tx, mut ended) = mpsc::unbounded_channel();
    let mut hooks = Reconciler::new(deps, Arc::clone(&connection), topology, applied, ended_tx);
    // Changes made while disconnected are covered by the full pass below.
    *changes = changes.resubscribe();
    hooks.all().await?;
    deps.status.set_connected();
    *failures = 0;
    tracing::info!("AMQP listener connected and reconciled");

    let mut tick = tokio::time::interval(deps.settings.reconcile_interval);
    tick.reset();
    let outcome = loop {
        let step = tokio::select! {
            () = stop.cancelled() => break Ok(()),
            event = connection_events.next() => match event {
                // Channel errors (a refused binding) are reported here too; only a closed
                // connection ends the session.
                Some(Event::Error(e)) if !connection.status().connected() => {
                    break Err(TopologyError::ConnectionLost(e).into())
                }
                None => break Err(SessionError::Closed),
                Some(_) => Ok(()),
            },
            change = changes.recv() => match change {
                Ok(change) => {
                    let step = hooks.one(&change.key).await;
                    events.publish(&change.key, change.kind).await;
                    step
                }
                Err(broadcast::error::RecvError::Lagged(_)) => hooks.all().await,
                // The registry is gone: the service is shutting down.
                Err(broadcast::error::RecvError::Closed) => break Ok(()),
            },
            foreign = events.next_foreign() => match foreign {
                Some(key) => hooks.one(&key).await,
                None => break Err(SessionError::Closed),
            },
            Some(key) = ended.recv() => hooks.one(&key).await,
            _ = tick.tick() => hooks.all().await,
        };
        if let Err(e) = step {
            break Err(e.into());
        }
    };
    match outcome {
        // A stop on request lets fires in flight finish and acknowledge their messages.
        Ok(()) => hooks.drain_consumers().await,
        Err(_) => hooks.stop_consumers().await,
    }
    close(&connection).await;
    outcome
}

/// Connects and declares what every session needs: the dead-letter queue and the
/// hook-change exchanges.
async fn open(
    settings: &AmqpSettings,
) -> Result<(Arc<Connection>, Topology, Events), SessionError> {
    let runtime = tokio::runtime::Handle::current();
    let connecting = crate::amqp::connect(&settings.url, "hookd listener", &runtime);
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| SessionError::ConnectTimeout(CONNECT_TIMEOUT))?
        .map_err(SessionError::Connect)?;
    let connection = Arc::new(connection);
    let mut topology = Topology::new(Arc::clone(&connection), Names::new(settings));
    topology.dead_letter().await?;
    let events = Events::open(&connection, &mut topology, &settings.exchange_prefix).await?;
    Ok((connection, topology, events))
}

async fn close(connection: &Connection) {
    if connection.status().connected() {
        let _ = connection.close(200, "hookd stopping").await;
    }
}
