//! Logging setup. The writer is a parameter so tests can capture or silence output.

pub mod log_thread;
mod plain_line;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event, with its spans (such as the request id) in front.
    Human,
    /// One JSON object per line: `timestamp`, `level`, `target`, the event's fields, and the
    /// `span`/`spans` it happened in, for log collectors.
    Json,
}

/// Installs a global subscriber writing `format` lines to `writer`; human lines are coloured
/// when `ansi` is set (a terminal). The filter comes from `RUST_LOG`, else `default_filter`.
///
/// Calling it twice is harmless: the second call keeps the first subscriber.
pub fn init<W>(default_filter: &str, format: LogFormat, ansi: bool, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _already_set = match format {
        LogFormat::Human if ansi => builder.with_ansi(true).try_init(),
        // The same line, written for less (plain_line.rs says how much).
        LogFormat::Human => builder
            .with_ansi(false)
            .event_format(plain_line::PlainLine)
            .try_init(),
        // Fields at the top level, where collectors look for them first.
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// `error` and its causes, outermost first, joined by `: `: one line for a log or a terminal,
/// since `Display` of an error shows only its own level.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn error_chain_lists_every_cause_outermost_first() {
        let error = Outer(std::io::Error::other("inner"));
        assert_eq!(super::error_chain(&error), "outer: inner");
    }
}
