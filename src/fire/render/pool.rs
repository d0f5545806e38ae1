//! Rendering under limits: task templates render in a small pool of worker processes
//! (`hookd render-worker`, see `render_worker`), each with a memory limit, a deadline per
//! render, and a bound on the rendered task's size.
//!
//! A render that misses its deadline has its worker killed, so it stops using CPU at once; a
//! render that exhausts its memory aborts only its worker. Either way the fire fails with a
//! 400 that names the limit, and the next render gets a fresh worker. Workers start on first
//! use and are reused while they behave.

use std::borrow::Cow;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

use super::protocol::{self, RenderRequest, Tag, HEADER_LEN};
use super::RenderError;
use crate::domain::TaskId;

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
}

impl RenderPool {
    /// A pool under `limits`; no worker starts until the first render.
    pub fn new(limits: RenderLimits) -> Self {
        let slots = Semaphore::new(limits.workers.max(1));
        Self {
            limits,
            slots,
            idle: Mutex::new(Vec::new()),
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
        template: &Value,
        context: &Value,
        task_id: &TaskId,
        now: DateTime<Utc>,
    ) -> Result<Option<Value>, PoolError> {
        let request = RenderRequest {
            template: Cow::Borrowed(template),
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

        let err = pool
            .task(&json!({}), &json!({}), &id, Utc::now())
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
