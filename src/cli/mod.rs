//! The `hookd` command line: `hookd serve` runs the service; `hookd migrate` brings a MongoDB
//! database up to date; `hookd config check` shows the effective configuration; `hookd render`
//! previews a fire of a hook definition offline; `hookd apply` applies hook files as a set.
//!
//! Owns: parsing the command line (through `config`'s layering) and one function per
//! subcommand: `serve`, `migrate`, `client` ([`client`]), `config check` ([`config_check`]),
//! `render` ([`render`]), `apply` ([`apply`]) and the hidden `render-worker`. Leaves to others: what the service is
//! (`startup`), what a setting means (`config`), rendering (`fire::render`).

use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
pub mod apply;
pub mod client;
pub mod config_check;
pub mod render;

use crate::clock::SystemClock;
use crate::config::layers::{self as config_layers, Layered};
use crate::config::{ConfigError, MongoArgs, ServeArgs, Settings};
use crate::fire::render::worker::{self as render_worker, WorkerOptions};
use crate::startup::Application;
use crate::store::MongoStore;
use crate::telemetry::{self, LogFormat};
use client::ClientArgs;

/// hookd: turns events into tasks, speaking the Taskcluster hooks v1 API.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API.
    // Boxed: the serve options dwarf the other commands' (clippy::large_enum_variant).
    Serve(Box<ServeArgs>),
    /// Apply pending MongoDB migrations (`hookd migrate`), or list them (`hookd migrate status`).
    /// The embedded SQLite store migrates itself when opened.
    Migrate(MigrateArgs),
    /// Manage API clients in the data dir: create, list, delete, reset.
    Client(ClientArgs),
    /// Inspect the configuration (`hookd config check`).
    Config(ConfigArgs),
    /// Preview a fire of a hook definition in a file, offline: print what it would submit; exit
    /// status 0 when it would fire, 1 otherwise.
    Render(Box<render::RenderCommand>),
    /// Make an apply set on a running hookd what hook files define, all at once: print the
    /// plan, then apply it (exit status 2 with --exit-code when there are changes).
    Apply(Box<apply::ApplyCommand>),
    /// Render task templates for a running hookd over stdin and stdout (started by hookd).
    #[command(hide = true)]
    RenderWorker(RenderWorkerArgs),
}

#[derive(clap::Args)]
struct RenderWorkerArgs {
    /// Bytes of memory the worker may use for rendering.
    #[arg(long)]
    memory_limit_bytes: u64,
    /// The largest rendered task, in bytes of JSON.
    #[arg(long)]
    max_task_bytes: usize,
}

#[derive(clap::Args)]
struct ConfigArgs {
    #[command(subcommand)]
    action: ConfigAction,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate the configuration (file, environment and any `hookd serve` flags) and print
    /// the effective settings, secrets redacted; exit status 1 if it is invalid.
    Check(Box<ServeArgs>),
}

#[derive(clap::Args)]
struct MigrateArgs {
    #[command(subcommand)]
    action: Option<MigrateAction>,
    #[command(flatten)]
    mongodb: MongoArgs,
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Show which migrations are applied and which are pending; exit status 1 if any pend.
    Status,
}

/// Runs the `hookd` command line: parses the layered settings, then dispatches.
pub fn run() -> ExitCode {
    let layered = match config_layers::parse(Cli::command(), std::env::args_os()) {
        Ok(layered) => layered,
        Err(ConfigError::Command(e)) => e.exit(),
        Err(e) => return failure(&e),
    };
    let cli = Cli::from_arg_matches(&layered.matches).unwrap_or_else(|e| e.exit());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let log_format = match &cli.command {
        Command::Serve(args) => args.log_format,
        // The other commands run in a terminal, for a person; they have no log format setting.
        Command::Migrate(_)
        | Command::Client(_)
        | Command::Config(_)
        | Command::Render(_)
        | Command::Apply(_)
        | Command::RenderWorker(_) => LogFormat::Human,
    };
    // A server's log lines are written by a thread of their own (telemetry::log_thread), so a
    // request neither waits on the locked stderr (a file or a pipe) behind other requests'
    // lines nor wakes a thread per line. Until `_log_writer` is dropped at the end of this
    // function, appended lines are still being written. Other commands are for a person at a
    // terminal: their lines and their answers keep their order.
    let _log_writer = if matches!(cli.command, Command::Serve(_)) {
        let (writer, guard) = match telemetry::log_thread::spawn(std::io::stderr(), "hookd-log") {
            Ok(started) => started,
            Err(e) => return failure(&e),
        };
        telemetry::init("info", log_format, ansi, writer);
        Some(guard)
    } else {
        telemetry::init("info", log_format, ansi, std::io::stderr);
        None
    };
    let result = match cli.command {
        Command::Serve(args) => serve(*args, &layered),
        Command::Migrate(args) => migrate(args),
        Command::Client(args) => client::run(args)
            .map(|text| print!("{text}"))
            .map_err(Into::into),
        Command::Render(args) => return render::run(*args),
        Command::Apply(args) => return apply::run(*args),
        Command::RenderWorker(args) => render_worker(&args),
        Command::Config(ConfigArgs {
            action: ConfigAction::Check(args),
        }) => config_check(*args, &layered),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failure(e.as_ref()),
    }
}

/// Reports `e` with its causes on stderr.
fn failure(e: &dyn std::error::Error) -> ExitCode {
    eprintln!("hookd: {}", telemetry::error_chain(e));
    ExitCode::FAILURE
}

/// Validates the settings as `hookd serve` would, then prints them.
fn config_check(args: ServeArgs, layered: &Layered) -> Result<(), Box<dyn std::error::Error>> {
    Settings::load(args, layered.file_lists())?;
    print!("{}", config_check::render(layered));
    Ok(())
}

fn migrate(args: MigrateArgs) -> Result<(), Box<dyn std::error::Error>> {
    let options = args
        .mongodb
        .options()
        .ok_or("hookd migrate needs --mongodb-uri (or HOOKD_MONGODB_URI)")?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let store = MongoStore::connect(&options).await?;
            match args.action {
                None => {
                    let applied = store.migrate().await?;
                    println!("applied {} migration(s): {applied:?}", applied.len());
                    Ok(())
                }
                Some(MigrateAction::Status) => {
                    let states = store.migration_status().await?;
                    for state in &states {
                        match state.applied_at {
                            Some(at) => println!("applied  {}  {}", state.name, at.to_rfc3339()),
                            None => println!("pending  {}", state.name),
                        }
                    }
                    if states.iter().any(|s| s.applied_at.is_none()) {
                        return Err("migrations are pending".into());
                    }
                    Ok(())
                }
            }
        })
}

fn render_worker(args: &RenderWorkerArgs) -> Result<(), Box<dyn std::error::Error>> {
    let options = WorkerOptions {
        memory_limit: args.memory_limit_bytes,
        max_task_bytes: args.max_task_bytes,
    };
    let output = std::io::BufWriter::new(std::io::stdout().lock());
    render_worker::run(options, std::io::stdin().lock(), output)?;
    Ok(())
}

fn serve(args: ServeArgs, layered: &Layered) -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::load(args, layered.file_lists())?;
    let listen = settings.listen;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings, Arc::new(SystemClock)).await?;
        if let Some(token) = app.new_root_token() {
            print_root_token(token, listen.ip(), app.port());
        }
        tracing::info!(
            "hookd is listening on http://{}:{}",
            listen.ip(),
            app.port()
        );
        app.run_until_stopped(shutdown_signal()).await?;
        tracing::info!("hookd stopped");
        Ok(())
    })
}

/// Shows the generated root token, once, with a command that uses it.
fn print_root_token(token: &str, ip: std::net::IpAddr, port: u16) {
    let host = if ip.is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        ip.to_string()
    };
    println!(
        "\nCreated the root client (scope \"*\"). Its access token is shown only this once:\n\n  \
         {token}\n\nTry it:\n\n  curl -H 'Authorization: Bearer root:{token}' \
         http://{host}:{port}/api/hooks/v1/hooks\n\nSet --root-access-token (or HOOKD_ROOT_ACCESS_TOKEN) \
         to choose the token yourself.\n"
    );
}

/// Completes on Ctrl-C or SIGTERM, saying so.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("hookd is stopping: no new connections; finishing work in flight");
}
