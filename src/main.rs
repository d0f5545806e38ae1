//! The `hookd` command: `hookd serve` runs the service.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use hookd::client_command::{self, ClientArgs};
use hookd::clock::SystemClock;
use hookd::config::{ServeArgs, Settings};
use hookd::startup::Application;
use hookd::telemetry;

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
    Serve(ServeArgs),
    /// Manage API clients in the data dir: create, list, delete, reset.
    Client(ClientArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    telemetry::init("info", ansi, std::io::stderr);
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Client(args) => client_command::run(args)
            .map(|text| print!("{text}"))
            .map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                message.push_str(": ");
                message.push_str(&s.to_string());
                source = s.source();
            }
            eprintln!("hookd: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::load(args)?;
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

/// Completes on Ctrl-C or SIGTERM.
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
}
