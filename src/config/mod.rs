//! Settings: every option of `hookd serve`, from a TOML file, `HOOKD_*` environment variables
//! and flags, plus the file-only lists of clients and roles.
//!
//! Flags win over environment variables, which win over the file, which wins over the built-in
//! default. How the pieces fit:
//!
//! - [`serve`]: the clap structs ([`ServeArgs`], [`AmqpArgs`], [`MongoArgs`]). Their attributes
//!   are the *only* defaults: nothing else writes a default value again. Tests and embedders
//!   get defaults by parsing a command line ([`Settings::new`], [`Settings::from_flags`],
//!   [`ServeArgs::from_flags`]), which ignores the environment.
//! - [`file`]: the config file, read once into a [`ConfigFile`].
//! - [`layers`]: the file's settings become clap defaults of a second parse.
//! - [`settings`]: [`Settings`], the validated result, made of each part's own settings struct
//!   (e.g. [`crate::listener::AmqpSettings`], [`crate::notify::NotifySettings`]), which live
//!   with the part that uses them.
//! - [`task_queue`]: which sink `--task-queue` selects.
//!
//! Imports point inward: this module reads the parts' settings types; no part imports it.
//! Only `cli` and `startup` do.

mod error;
pub mod file;
pub mod layers;
pub mod serve;
pub mod settings;
pub mod task_queue;

pub use error::ConfigError;
pub use file::{ConfigFile, FileLists};
pub use serve::{AmqpArgs, MongoArgs, ServeArgs, ServiceRole};
pub use settings::Settings;
pub use task_queue::TaskQueue;
