//! `hookd apply`: make an apply set on a running hookd what files in git define.
//!
//! Reads the files (`files`), asks the server for the plan (`POST /apply` with `dryRun`),
//! prints it (`report`) and, unless `--dry-run`, applies exactly that plan: the second request
//! names the revision the plan was made against, so a set that moved on in between is refused
//! (409) rather than changed in a way nobody saw. `--diff` shows the set's drift instead.
//! Credentials are Taskcluster's environment variables, sent as a bearer token.
//!
//! Exit status: 0 done (or nothing to do), 1 failed, 2 with `--exit-code` when there are
//! changes (or drift, with `--diff`).

mod files;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};

/// Options of `hookd apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyCommand {
    /// Hook and chat alias definition files or directories (YAML or JSON, one definition or a
    /// list per file; directories are read recursively). A definition with an `aliasId` is a
    /// chat alias.
    #[arg(short = 'f', long = "filename", num_args = 1.., required_unless_present = "diff")]
    files: Vec<PathBuf>,
    /// The apply set these hooks and chat aliases make up.
    #[arg(long)]
    set: String,
    /// Delete hooks and chat aliases this set applied before that the files no longer define.
    #[arg(long)]
    prune: bool,
    /// Accept files that define nothing (with --prune: delete all the set owns).
    #[arg(long)]
    allow_empty: bool,
    /// Print the plan and stop.
    #[arg(long)]
    dry_run: bool,
    /// Exit with status 2 when there are changes (or, with --diff, drift).
    #[arg(long)]
    exit_code: bool,
    /// Overwrite hooks and chat aliases changed outside the set since its last apply, and
    /// adopt listed ones no set owns.
    #[arg(long)]
    force: bool,
    /// Where the files come from (e.g. a git commit), recorded with the set's revision.
    #[arg(long)]
    source: Option<String>,
    /// Show how the stored hooks differ from the set's last apply, and stop.
    #[arg(long)]
    diff: bool,
    /// The deployment's root URL; the API is under `/api/hooks/v1`.
    #[arg(long, env = "TASKCLUSTER_ROOT_URL")]
    root_url: String,
    /// The client id to authenticate as.
    #[arg(long, env = "TASKCLUSTER_CLIENT_ID")]
    client_id: Option<String>,
    /// The client's access token.
    #[arg(long, env = "TASKCLUSTER_ACCESS_TOKEN", hide_env_values = true)]
    access_token: Option<String>,
}

/// Why `hookd apply` failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyCommandError {
    /// The files could not be read.
    #[error(transparent)]
    Files(#[from] files::FilesError),
    /// hookd could not be reached or answered nonsense.
    #[error("cannot talk to hookd")]
    Http(#[from] reqwest::Error),
    /// hookd refused the request.
    #[error("hookd answered {status}: {code}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// hookd's explanation.
        message: String,
    },
    /// A task template does not compile (checked before asking for a plan).
    #[error(transparent)]
    Template(#[from] crate::apply::TemplateRefused),
    /// Only one of the client id and the access token is set.
    #[error("set both TASKCLUSTER_CLIENT_ID and TASKCLUSTER_ACCESS_TOKEN, or neither")]
    HalfCredentials,
    /// The runtime could not start.
    #[error("cannot start the runtime")]
    Runtime(#[source] std::io::Error),
}

/// Runs `hookd apply`, printing the plan to stdout and failures to stderr.
pub fn run(command: ApplyCommand) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ApplyCommandError::Runtime)
        .and_then(|runtime| runtime.block_on(execute(&command)));
    match result {
        Ok(changed) if changed && command.exit_code => ExitCode::from(2),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookd apply: {}", crate::telemetry::error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// Does the work; returns whether there were changes (or drift).
async fn execute(command: &ApplyCommand) -> Result<bool, ApplyCommandError> {
    let api = Api::new(command)?;
    if command.diff {
        let status = api.get(&format!("apply-sets/{}", command.set)).await?;
        print!("{}", report::drift(&status));
        return Ok(any(&status, &["drift", "chatAliasDrift"]));
    }
    let (chat_aliases, hooks): (Vec<Value>, Vec<Value>) = files::load(&command.files)?
        .into_iter()
        .partition(|definition| definition.get("aliasId").is_some());
    // The server checks this too; checking here names the problem without a round trip.
    // A hook without ids or task is left to the server's schema check.
    crate::apply::check_templates(hooks.iter().map(|hook| {
        let id = |field: &str| hook[field].as_str().unwrap_or("?").to_owned();
        let key = format!("{}/{}", id("hookGroupId"), id("hookId"));
        (key, hook.get("task").unwrap_or(&Value::Null))
    }))?;
    let mut body = json!({
        "set": command.set,
        "hooks": hooks,
        "chatAliases": chat_aliases,
        "prune": command.prune,
        "allowEmpty": command.allow_empty,
        "force": command.force,
        "dryRun": true,
    });
    if let Some(source) = &command.source {
        body["source"] = json!(source);
    }
    let plan = api.post("apply", &body).await?;
    print!("{}", report::plan(&plan));
    let changed = any(&plan, &["changes", "chatAliasChanges"]);
    if command.dry_run || !changed {
        return Ok(changed);
    }
    body["dryRun"] = json!(false);
    body["expectedRevision"] = plan["previousRevision"].clone();
    let applied = api.post("apply", &body).await?;
    println!(
        "applied: set {} is at revision {}",
        command.set, applied["revision"]
    );
    Ok(true)
}

/// Whether any of the arrays `fields` of `answer` has an item.
fn any(answer: &Value, fields: &[&str]) -> bool {
    fields
        .iter()
        .any(|f| answer[*f].as_array().is_some_and(|a| !a.is_empty()))
}

/// The hookd API at the root URL, with the caller's credentials.
struct Api {
    http: reqwest::Client,
    base: String,
    authorization: Option<String>,
}

impl Api {
    fn new(command: &ApplyCommand) -> Result<Self, ApplyCommandError> {
        let authorization = match (&command.client_id, &command.access_token) {
            (Some(id), Some(token)) => Some(format!("Bearer {id}:{token}")),
            (None, None) => None,
            _ => return Err(ApplyCommandError::HalfCredentials),
        };
        Ok(Self {
            http: reqwest::Client::builder().build()?,
            base: format!("{}/api/hooks/v1", command.root_url.trim_end_matches('/')),
            authorization,
        })
    }

    async fn get(&self, path: &str) -> Result<Value, ApplyCommandError> {
        self.send(self.http.get(format!("{}/{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, ApplyCommandError> {
        let request = self.http.post(format!("{}/{path}", self.base)).json(body);
        self.send(request).await
    }

    async fn send(&self, mut request: reqwest::RequestBuilder) -> Result<Value, ApplyCommandError> {
        if let Some(authorization) = &self.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if status.is_success() {
            return Ok(body);
        }
        Err(ApplyCommandError::Refused {
            status: status.as_u16(),
            code: body["code"].as_str().unwrap_or("unknown").to_owned(),
            message: body["message"].as_str().unwrap_or_default().to_owned(),
        })
    }
}
