//! Configuration and lifecycle of the real `hookd` binary: layered settings, the README's
//! settings table, `hookd config check`, graceful shutdown, and a `kill -9` during a burst of
//! fires.

mod check;
mod fire_crash;
mod readme;
mod shutdown;

/// The `hookd` binary under test.
fn hookd() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_hookd"))
}
