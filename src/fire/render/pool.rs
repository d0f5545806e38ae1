//! Rendering under limits: task templates render in a small pool of worker processes
//! (`hookd render-worker`, see `render_worker`), each with a memory limit, a deadline per
//! render, and a bound on the rendered task's size.
//!
//! A template whose render is provably small (see `domain::template`: a bound on its output
//! and work for this fire's context size, within [`RenderLimits::in_process_budget`]) renders
//! in the calling thread instead: the round trip to a worker costs more than such a render.
//! Everything else, and anything the bound cannot vouch for, goes to a worker.
//!
//! A render that misses its deadline has its worker killed, so it stops using CPU at once; a
//! render that exhausts its memory aborts only its worker. Either way the fire fails with a
//! 400 that names the limit, and the next render gets a fresh worker. Workers start on first
//! use and are reused while they behave.

use std::borrow::Cow;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

use super::protocol::{self, RenderRequest, Tag, HEADER_LEN};
use super::RenderError;
use crate::domain::template::json_size;
use crate::domain::{TaskId, TaskTemplate};
use crate::metrics::Metrics;

/// Bounds on rendering, and where the worker program lives.
#[derive(Debug, Clone)]
pub struct RenderLimits {
    /// How long a render may take, including the wait for a free worker.
    pub deadline: Duration,
    /// The largest rendered task, in bytes of compact JSON.
    pub max_task_bytes: usize,
    /// Memory one worker may use for rendering, in bytes.
    pub memory_limit: u64,
    /// How many renders run at once, each in its own worker.
    pub workers: usize,
    /// The hookd binary that serves `hookd render-worker`: this executable by default.
    pub worker_program: PathBuf,
}

/// Bytes a pinned `now` takes in a template's context (an ISO time in quotes).
const NOW_BYTES: u64 = 32;

impl RenderLimits {
    /// The most output and work (bytes touched, see `domain::template::bound`) a template may
    /// provably need to render in-process: a quarter of the task size limit, and at most about
    /// 4 MiB of work (a few milliseconds), less under a deadline shorter than a second.
    pub fn in_process_budget(&self) -> (u64, u64) {
        let output = self.max_task_bytes as u64 / 4;
        let micros = u64::try_from(self.deadline.as_micros()).unwrap_or(u64::MAX);
        let work = micros.saturating_mul(4).min(1 << 22);
        (output, work)
    }
}

/// The running hookd binary, the usual [`RenderLimits::worker_program`]. On Linux
/// `/proc/self/exe`, which names the running image even after an upgrade replaced or removed
/// the file it was started from.
pub fn this_executable() -> PathBuf {
    if cfg!(target_os = "linux") {
        PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().unwrap_or_else(|_| PathBuf::from("hookd"))
    }
}

/// The render workers could not be used: a problem of this server, not of the template.
#[derive(Debug, thiserror::Error)]
pub enum RenderWorkerUnavailable {
    /// The worker program did not start.
    #[error("could not start the render worker {program}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The worker exited by itself, or answered something that is not a reply.
    #[error("the render worker failed: {0}")]
    Broken(String),
}

/// Why a render through the pool did not produce a task.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The template's fault, or over a limit: recorded as an error fire.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The server's fault: not recorded, the caller may retry.
    #[error(transparent)]
    Unavailable(#[from] RenderWorkerUnavailable),
}

/// The workers and the limits they run under.
pub struct RenderPool {
    limits: RenderLimits,
    /// One permit per worker that may run.
    slots: Semaphore,
    /// Started workers waiting for a render.
    idle: Mutex<Vec<Worker>>,
    /// Where renders are counted, by path.
    metrics: Option<Arc<Metrics>>,
}

impl RenderPool {
    /// A pool under `limits`; no worker starts until the first render.
    pub fn new(limits: RenderLimits) -> Self {
        let slots = Semaphore::new(limits.workers.max(1));
        Self {
            limits,
            slots,
            idle: Mutex::new(Vec::new()),
            metrics: None,
        }
    }

    /// This pool, counting its renders by path in `metrics`.
    #[must_use]
    pub fn metered(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Renders in this thread when the template's bound for this context fits the budget;
    /// `None` sends the render to a worker. A template the checker refuses goes to a worker
    /// too, which reports the renderer's own error.
    fn in_process(
        &self,
        template: &TaskTemplate,
        context: &Value,
        task_id: &TaskId,
        now: DateTime<Utc>,
    ) -> Option<Result<Option<Value>, RenderError>> {
        let checked = template.checked()?;
        let bound = checked.bound(json_size(context) as u64, &[("now", NOW_BYTES)])?;
        let (output, work) = self.limits.in_process_budget();
        if !bound.within(output, work) {
            return None;
        }
        // The bound rules out what exhausts time, memory or stack; a panic inside JSON-e is
        // left to a worker, which reports it the way it always has.
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            super::task(template.as_json(), context, task_id, now)
        }))
        .ok()?;
        Some(rendered.and_then(|task| {
            let size = task.as_ref().map_or(0, json_size);
            if size > self.limits.max_task_bytes {
                return Err(RenderError::TooLarge {
                    size,
                    limit: self.limits.max_task_bytes,
                });
            }
            Ok(task)
        }))
    }

    fn count(&self, in_process: bool) {
        if let Some(metrics) = &self.metrics {
            metrics.rendered(in_process);
        }
    }

    /// Renders `template` with `context` into the task `task_id` at time `now` (see
    /// [`super::render::task`]), under the pool's limits.
    ///
    /// # Errors
    /// [`PoolError::Render`] for what the template did, [`RenderError::TimedOut`],
    /// [`RenderError::OutOfMemory`] and [`RenderError::TooLarge`] among them;
    /// [`PoolError::Unavailable`] when no worker could do the work.
    pub async fn task(
        &self,
        template: &TaskTemplate,
        context: &Value,
        task_id: &TaskId,
        now: DateTime<Utc>,
    ) -> Result<Option<Value>, PoolError> {
        if let Some(rendered) = self.in_process(template, context, task_id, now) {
            self.count(true);
            return Ok(rendered?);
        }
        self.count(false);
        let request = RenderRequest {
            template: Cow::Borrowed(template.as_json()),
            context: Cow::Borrowed(context),
            task_id: Cow::Borrowed(task_id),
            now,
        };
        // Serializing values we hold cannot fail.
        let request = serde_json::to_vec(&request).unwrap_or_default();
        let work = async {
            let _permit =
                self.slots.acquire().await.map_err(|_| {
                    RenderWorkerUnavailable::Broken("the render pool is closed".into())
                })?;
            let mut worker = self.idle_worker().map_or_else(|| self.spawn(), Ok)?;
            // A worker dropped mid-render (on error, deadline or cancellation) is killed, so
            // no reply can ever be read by the wrong request.
            let outcome = worker.render(&request, self.reply_limit()).await;
            match outcome {
                Ok(outcome) => {
                    self.put_back(worker);
                    Ok(outcome?)
                }
                Err(WorkerFailure::Io) => Err(worker.died(self.limits.memory_limit).await),
                Err(WorkerFailure::Garbage(why)) => {
                    Err(RenderWorkerUnavailable::Broken(why).into())
                }
            }
        };
        tokio::time::timeout(self.limits.deadline, work)
            .await
            .map_err(|_| RenderError::TimedOut(self.limits.deadline))?
    }

    fn idle_worker(&self) -> Option<Worker> {
        self.idle.lock().map_or(None, |mut idle| idle.pop())
    }

    fn put_back(&self, worker: Worker) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(worker);
        }
    }

    fn spawn(&self) -> Result<Worker, RenderWorkerUnavailable> {
        let program = &self.limits.worker_program;
        let mut child = Command::new(program)
            .arg("render-worker")
            .arg("--memory-limit-bytes")
            .arg(self.limits.memory_limit.to_string())
            .arg("--max-task-bytes")
            .arg(self.limits.max_task_bytes.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| RenderWorkerUnavailable::Spawn {
                program: program.clone(),
                source,
            })?;
        let broken = || RenderWorkerUnavailable::Broken("the worker has no pipes".into());
        let stdin = child.stdin.take().ok_or_else(broken)?;
        let stdout = child.stdout.take().ok_or_else(broken)?;
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(relay(stderr));
        }
        Ok(Worker {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// The longest reply accepted: a task at the size bound, or an error with room to spare.
    fn reply_limit(&self) -> usize {
        self.limits.max_task_bytes.saturating_add(1024 * 1024)
    }
}

/// Logs what a worker writes on stderr (the message of a failed allocation, a panic), so it
/// reaches hookd's log in hookd's log format. Ends when the worker exits.
async fn relay(stderr: ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::warn!(output = %line, "render worker stderr");
    }
}

/// How a round trip with a worker failed.
enum WorkerFailure {
    /// The pipe broke: the worker is gone.
    Io,
    /// The worker answered something that is not a reply.
    Garbage(String),
}

/// One running `hookd render-worker`.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    /// Sends one request and reads its reply.
    async fn render(
        &mut self,
        request: &[u8],
        reply_limit: usize,
    ) -> Result<Result<Option<Value>, RenderError>, WorkerFailure> {
        let frame = protocol::frame(Tag::Request, request);
        self.stdin
            .write_all(&frame)
            .await
            .map_err(|_| WorkerFailure::Io)?;
        self.stdin.flush().await.map_err(|_| WorkerFailure::Io)?;
        let mut header = [0; HEADER_LEN];
        self.stdout
            .read_exact(&mut header)
            .await
            .map_err(|_| WorkerFailure::Io)?;
        let (tag, len) = protocol::parse_header(header, reply_limit)
            .map_err(|e| WorkerFailure::Garbage(e.to_string()))?;
        let mut payload = vec![0; len];
        self.stdout
            .read_exact(&mut payload)
            .await
            .map_err(|_| WorkerFailure::Io)?;
        protocol::decode_reply(tag, &payload).map_err(|e| WorkerFailure::Garbage(e.to_string()))
    }

    /// What a broken pipe means: a worker killed by a signal (the abort of a failed
    /// allocation, or a stack overflow) was stopped by the template; one that exited by
    /// itself is broken.
    async fn died(mut self, memory_limit: u64) -> PoolError {
        match self.child.wait().await {
            Ok(status) if killed_by_signal(status) => RenderError::OutOfMemory {
                limit_mib: memory_limit / (1024 * 1024),
            }
            .into(),
            Ok(status) => {
                RenderWorkerUnavailable::Broken(format!("it exited with {status}")).into()
            }
            Err(e) => RenderWorkerUnavailable::Broken(e.to_string()).into(),
        }
    }
}

#[cfg(unix)]
fn killed_by_signal(status: ExitStatus) -> bool {
    std::os::unix::process::ExitStatusExt::signal(&status).is_some()
}

#[cfg(not(unix))]
fn killed_by_signal(status: ExitStatus) -> bool {
    !status.success()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in worker that writes its pid next to itself and never answers.
    fn silent_worker(dir: &std::path::Path) -> PathBuf {
        let program = dir.join("silent-worker");
        std::fs::write(
            &program,
            "#!/bin/sh\necho $$ > \"$(dirname \"$0\")/pid.tmp\"\nmv \"$(dirname \"$0\")/pid.tmp\" \"$(dirname \"$0\")/pid\"\nexec sleep 600\n",
        )
        .unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        program
    }

    /// Whether `pid` is gone or a zombie: either way it runs no more.
    fn stopped(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|s| s.trim_start().starts_with('Z'))
        })
    }

    fn without_workers() -> RenderPool {
        RenderPool::new(RenderLimits {
            deadline: Duration::from_secs(2),
            max_task_bytes: 1024 * 1024,
            memory_limit: 256 * 1024 * 1024,
            workers: 1,
            worker_program: "/nonexistent/hookd".into(),
        })
    }

    #[tokio::test]
    async fn bounded_templates_render_in_process_and_others_need_a_worker() {
        let pool = without_workers();
        let id = TaskId::parse("fN1SbArXTPSVFNUvaOlinQ").unwrap();
        let context = json!({"payload": {"branch": "main", "items": [1, 2]}});

        let bounded = TaskTemplate::from(json!({"name": "${payload.branch}",
                             "args": {"$map": {"$eval": "payload.items"}, "each(x)": "-${x}"}}));
        let task = pool
            .task(&bounded, &context, &id, Utc::now())
            .await
            .unwrap();
        assert_eq!(task.unwrap()["args"], json!(["-1", "-2"]));

        let unbounded = TaskTemplate::from(json!({"$eval": "range(0, payload.items[1])"}));
        let err = pool
            .task(&unbounded, &context, &id, Utc::now())
            .await
            .unwrap_err();
        assert!(matches!(err, PoolError::Unavailable(_)), "{err}");
    }

    #[tokio::test]
    async fn in_process_renders_fail_as_a_worker_would() {
        let pool = without_workers();
        let id = TaskId::parse("fN1SbArXTPSVFNUvaOlinQ").unwrap();

        let err = pool
            .task(
                &json!({"a": {"$eval": "nosuch"}}).into(),
                &json!({}),
                &id,
                Utc::now(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, PoolError::Render(RenderError::Template(_))),
            "{err}"
        );
        let declined = pool
            .task(
                &json!({"$if": "false", "then": {}}).into(),
                &json!({}),
                &id,
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(declined, None);
    }

    #[tokio::test]
    async fn a_worker_that_misses_the_deadline_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pool = RenderPool::new(RenderLimits {
            deadline: Duration::from_secs(2),
            max_task_bytes: 1024 * 1024,
            memory_limit: 256 * 1024 * 1024,
            workers: 4,
            worker_program: silent_worker(dir.path()),
        });
        let id = TaskId::parse("fN1SbArXTPSVFNUvaOlinQ").unwrap();

        // A $reduce has no bound, so it goes to the (silent) worker.
        let unbounded = TaskTemplate::from(json!({"$reduce": [], "each(a, x)": 1, "initial": {}}));
        let err = pool
            .task(&unbounded, &json!({}), &id, Utc::now())
            .await
            .unwrap_err();

        assert!(
            matches!(err, PoolError::Render(RenderError::TimedOut(_))),
            "{err}"
        );
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
        let pid = pid.trim();
        // Killing is immediate; reaping the zombie may take a moment, so poll briefly.
        for _ in 0..100 {
            if stopped(pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("worker {pid} still runs after its deadline");
    }
}
