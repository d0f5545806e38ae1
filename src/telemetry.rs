//! Logging setup. The writer is a parameter so tests can capture or silence output.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Installs a global subscriber writing human-readable lines to `writer`, coloured when
/// `ansi` is set (a terminal). The filter comes from `RUST_LOG`, else `default_filter`.
///
/// Calling it twice is harmless: the second call keeps the first subscriber.
pub fn init<W>(default_filter: &str, ansi: bool, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer)
        .try_init();
}
