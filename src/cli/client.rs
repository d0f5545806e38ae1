//! `hookd client create|list|delete|reset`: manage the data dir's clients from the shell.
//!
//! Tokens are printed once, on create and reset; only their hashes are kept. Roles for
//! `assume:` scopes stay in the config file. A running server picks changes up on restart.

use std::path::PathBuf;

use crate::clients::file::{ClientFile, ClientFileError};
use crate::clients::tokens::TokenDeriver;
use crate::config::serve::DEFAULT_DATA_DIR;
use crate::data_dir::DataDir;

/// Options of `hookd client`.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// The data directory of the server these clients are for.
    #[arg(long, env = "HOOKD_DATA_DIR", default_value = DEFAULT_DATA_DIR, global = true)]
    pub data_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub action: ClientAction,
}

/// One client operation.
#[derive(Debug, clap::Subcommand)]
pub enum ClientAction {
    /// Create a client and print its access token (shown only this once).
    Create {
        /// The new client's id.
        client_id: String,
        /// Scopes the client holds; repeat the flag or separate with spaces.
        #[arg(long, num_args = 0..)]
        scopes: Vec<String>,
    },
    /// List clients with their scopes (never tokens).
    List,
    /// Delete a client.
    Delete {
        /// The client's id.
        client_id: String,
    },
    /// Give a client a new access token and print it; the old one stops working.
    Reset {
        /// The client's id.
        client_id: String,
    },
}

/// Why a client command failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientCommandError {
    /// The data directory is unusable.
    #[error(transparent)]
    DataDir(#[from] crate::data_dir::DataDirError),
    /// The clients file refused the change.
    #[error(transparent)]
    File(#[from] ClientFileError),
}

/// Carries out `args` and returns what to print.
///
/// # Errors
/// [`ClientCommandError`] when the data dir or the clients file refuse.
pub fn run(args: ClientArgs) -> Result<String, ClientCommandError> {
    let data_dir = DataDir::open(&args.data_dir)?;
    let mut file = ClientFile::open_in(&data_dir)?;
    let deriver = || TokenDeriver::open(&data_dir);
    Ok(match args.action {
        ClientAction::Create { client_id, scopes } => {
            let token = file.create(&client_id, scopes, &deriver()?)?;
            token_message("Created", &client_id, &token)
        }
        ClientAction::List => file
            .clients()
            .iter()
            .map(|c| format!("{}\t{}\n", c.client_id, c.scopes.join(" ")))
            .collect(),
        ClientAction::Delete { client_id } => {
            file.delete(&client_id)?;
            format!("Deleted client {client_id:?}; restart hookd to apply.\n")
        }
        ClientAction::Reset { client_id } => {
            let token = file.reset(&client_id, &deriver()?)?;
            token_message("Reset", &client_id, &token)
        }
    })
}

fn token_message(done: &str, client_id: &str, token: &str) -> String {
    format!(
        "{done} client {client_id:?}. Its access token is shown only this once:\n\n  {token}\n\n\
         Restart hookd to apply. Use it as `Authorization: Bearer {client_id}:<token>` or as \
         Taskcluster credentials (Hawk).\n"
    )
}
