//! `hookd render`: previews a fire of a hook definition kept in a file, offline (no server, no
//! store), for CI pipelines that keep hooks in git.
//!
//! It takes the steps `POST /render` takes, with the same checks of its input and a render
//! worker under the same bounds as the service's, and prints the same JSON answer. Exit status:
//! 0 when a fire would submit the task; 1 when it would not (declined, schema errors, missing
//! scopes: the answer is on stdout) or when nothing could be rendered (unreadable files, an
//! invalid definition, a template that does not render: the reason is on stderr).
//!
//! No roles are configured offline, so a hook without its own `scopes` holds none of its role's:
//! every scope its task asks for is listed as missing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use serde_json::{json, Value};

use crate::api::render::RenderRequest;
use crate::api::schemas::{SchemaId, SchemaSet};
use crate::config::serve::RenderArgs;
use crate::domain::Roles;
use crate::fire::{self, RenderPool};

/// The `clientId` a `triggerHook` fire is rendered for.
const CLIENT_ID: &str = "hookd-render";

/// Options of `hookd render`.
#[derive(clap::Args)]
pub struct RenderCommand {
    /// The hook definition: a createHook body (JSON) that names its hookGroupId and hookId.
    #[arg(long)]
    hook: PathBuf,
    /// The trigger payload (JSON).
    #[arg(long)]
    payload: PathBuf,
    /// The time of the fire (RFC 3339); now by default.
    #[arg(long)]
    now: Option<String>,
    /// The task id, unless payload.taskId gives one; a fresh one by default.
    #[arg(long)]
    task_id: Option<String>,
    /// What fires the hook: triggerHook (the default), triggerHookWithToken, schedule,
    /// pulseMessage or webhook.
    #[arg(long)]
    fired_by: Option<String>,
    /// Bounds on rendering, as for `hookd serve`.
    #[command(flatten)]
    limits: RenderArgs,
}

/// Runs `hookd render`; see the module documentation for the exit status.
pub fn run(args: RenderCommand) -> ExitCode {
    match preview(args) {
        Ok(preview) => {
            println!("{}", json!(preview));
            if preview.would_fire() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(message) => {
            eprintln!("hookd render: {message}");
            ExitCode::FAILURE
        }
    }
}

/// What a fire would do, or why nothing could be rendered.
fn preview(args: RenderCommand) -> Result<fire::Preview, String> {
    let schemas = SchemaSet::load().map_err(|e| e.to_string())?;
    let mut body = json!({
        "hook": read_json(&args.hook)?,
        "payload": read_json(&args.payload)?,
    });
    for (field, value) in [
        ("now", args.now),
        ("taskId", args.task_id),
        ("firedBy", args.fired_by),
    ] {
        if let Some(value) = value {
            body[field] = Value::String(value);
        }
    }
    let mut request =
        RenderRequest::parse(&schemas, SchemaId::RenderRequest, body).map_err(|e| e.message)?;
    let hook = request.candidate().map_err(|e| e.message)?;
    let trigger = request
        .trigger(CLIENT_ID, Utc::now())
        .map_err(|e| e.message)?;
    let renderer = RenderPool::new(args.limits.limits());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime
        .block_on(fire::preview(&renderer, &Roles::default(), &hook, trigger))
        .map_err(|e| e.to_string())
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}
