//! Configuration and lifecycle of the real `hookd` binary: layered settings, the README's
//! settings table, `hookd config check`, and graceful shutdown.

mod check;
mod readme;
mod shutdown;

/// The `hookd` binary under test.
fn hookd() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_hookd"))
}
