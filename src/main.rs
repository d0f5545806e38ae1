//! The `hookd` binary: everything it does is in [`hookd::cli`].

/// mimalloc rather than the system allocator: a fire makes a few hundred short-lived
/// allocations across the HTTP, render and store threads, and glibc's malloc spent about 15 %
/// of the token trigger's CPU on them (consolidating fastbins, taking arena locks). See
/// BENCHMARKS.md, "The token trigger's own cost".
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hookd::cli::run()
}
