//! [`FireDeps`]: what the fire path needs from the rest of the service, built once at
//! start-up (`startup::fire_deps`) and shared by every way into [`super::fire`].

use std::sync::Arc;

use super::render::pool::RenderPool;
use super::sink::TaskSink;
use crate::domain::Roles;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::store::HookStore;

/// What the fire path needs from the rest of the service.
#[derive(Clone)]
pub struct FireDeps {
    /// Where fires are recorded.
    pub store: Arc<dyn HookStore>,
    /// Where tasks go.
    pub sink: Arc<dyn TaskSink>,
    /// Roles, for hooks that act as `hook-id:<group>/<id>`.
    pub roles: Arc<Roles>,
    /// Who hears about error fires.
    pub notifier: Arc<Notifier>,
    /// The render workers, with their deadline, memory and size bounds.
    pub renderer: Arc<RenderPool>,
    /// This service's metrics; the scheduler and listener reach them through here too.
    pub metrics: Arc<Metrics>,
    /// The most bytes of payload JSON, and of template JSON, a fire's record keeps.
    pub context_limit: usize,
}
