//! Rendering under limits: a JSON-e template runs on a blocking thread with a deadline, and
//! the task it produces must stay under a size bound.
//!
//! JSON-e is a full expression language: `$map` or `$reduce` over `range(0, 1e7)` takes
//! seconds, and templates come from hook authors. The renderer cannot be interrupted, so a
//! render that misses its deadline is abandoned: the fire fails with 400 at once while its
//! thread runs to its end. At most a fixed number of renders run at a time ([`DEFAULT_SLOTS`]
//! from the command line), so abandoned ones cannot pile up threads; waiting for a slot counts
//! against the deadline.
//!
//! What this does not bound: memory taken by one render before its deadline (JSON-e builds
//! `range` results eagerly). The body limit and the nesting limit keep the inputs small; the
//! template itself is the hook author's.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::render::{self, RenderError};
use crate::domain::TaskId;

/// Bounds on one render.
#[derive(Debug, Clone)]
pub struct RenderLimits {
    /// How long a render may take, including the wait for a slot.
    pub deadline: Duration,
    /// The largest rendered task, in bytes of JSON.
    pub max_task_bytes: usize,
    slots: Arc<Semaphore>,
}

impl RenderLimits {
    /// Limits with `deadline`, `max_task_bytes` and `slots` concurrent renders.
    pub fn new(deadline: Duration, max_task_bytes: usize, slots: usize) -> Self {
        Self {
            deadline,
            max_task_bytes,
            slots: Arc::new(Semaphore::new(slots.max(1))),
        }
    }
}

/// How many renders run at once by default.
pub const DEFAULT_SLOTS: usize = 4;

impl Default for RenderLimits {
    /// Two seconds, 1 MiB (Taskcluster's queue refuses larger task definitions anyway), and
    /// four renders at a time.
    fn default() -> Self {
        Self::new(Duration::from_secs(2), 1024 * 1024, DEFAULT_SLOTS)
    }
}

/// [`render::task`] under `limits`.
///
/// # Errors
/// [`RenderError::TimedOut`] past the deadline, [`RenderError::TooLarge`] for a task over the
/// size bound, and whatever [`render::task`] reports.
pub async fn task(
    limits: &RenderLimits,
    template: &Value,
    context: Value,
    task_id: &TaskId,
    now: DateTime<Utc>,
) -> Result<Option<Value>, RenderError> {
    let timed_out = || RenderError::TimedOut(limits.deadline);
    let work = async {
        let permit = Arc::clone(&limits.slots)
            .acquire_owned()
            .await
            .map_err(|_| timed_out())?;
        let (template, id) = (template.clone(), task_id.clone());
        let (done, rendered) = tokio::sync::oneshot::channel();
        // A plain thread, not `spawn_blocking`: an abandoned render must not hold up the
        // runtime's shutdown.
        std::thread::spawn(move || {
            let rendered = render::task(&template, &context, &id, now);
            drop(permit);
            let _ = done.send(rendered);
        });
        rendered.await.map_err(|_| RenderError::Crashed)?
    };
    let rendered = tokio::time::timeout(limits.deadline, work)
        .await
        .map_err(|_| timed_out())??;
    if let Some(task) = &rendered {
        let size = json_size(task);
        if size > limits.max_task_bytes {
            return Err(RenderError::TooLarge {
                size,
                limit: limits.max_task_bytes,
            });
        }
    }
    Ok(rendered)
}

/// The length of `value` as compact JSON, counted without building the text: this runs on
/// every fire.
fn json_size(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing into a counter cannot fail, and a `Value` always serializes.
    serde_json::to_writer(&mut counter, value).map_or(usize::MAX, |()| counter.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_size_is_the_length_of_the_compact_text() {
        let value = serde_json::json!({"a": [1, "é", null], "b": {"c": true}});
        assert_eq!(json_size(&value), serde_json::to_vec(&value).unwrap().len());
    }

    use super::*;
    use serde_json::json;

    fn id() -> TaskId {
        TaskId::parse("fN1SbArXTPSVFNUvaOlinQ").unwrap()
    }

    #[tokio::test]
    async fn a_task_over_the_size_bound_is_refused() {
        let limits = RenderLimits::new(Duration::from_secs(60), 1000, 1);
        let template = json!({"$map": {"$eval": "range(0, 500)"}, "each(x)": {"n": "${x}"}});
        let wrapped = json!({"items": template});
        let err = task(&limits, &wrapped, json!({}), &id(), Utc::now())
            .await
            .unwrap_err();
        assert!(
            matches!(err, RenderError::TooLarge { limit: 1000, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_render_past_its_deadline_is_abandoned() {
        let limits = RenderLimits::new(Duration::from_millis(1), 1 << 30, 1);
        let slow = json!({"n": {"$reduce": {"$eval": "range(0, 100000)"}, "initial": 0,
                                "each(x, acc)": {"$eval": "acc + 1"}}});
        let err = task(&limits, &slow, json!({}), &id(), Utc::now())
            .await
            .unwrap_err();
        assert!(matches!(err, RenderError::TimedOut(_)), "{err}");
    }

    #[tokio::test]
    async fn small_templates_render_as_before() {
        let limits = RenderLimits::default();
        let rendered = task(&limits, &json!({"a": 1}), json!({}), &id(), Utc::now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rendered["a"], 1);
    }
}
