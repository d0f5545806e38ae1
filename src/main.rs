//! The `hookd` binary: everything it does is in [`hookd::cli`].

fn main() -> std::process::ExitCode {
    hookd::cli::run()
}
