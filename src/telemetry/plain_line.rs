//! The human log line without colour, as a server writes it to a file or a pipe.
//!
//! [`PlainLine`] writes exactly the line tracing-subscriber's default format writes with ANSI
//! off (time, level, spans from the root with their fields, target, the event's fields), but
//! each piece as a plain string instead of through `write!` and the formatting machinery,
//! and the time with [`micros_time`]. On the `hook fired` line of every fire, those pieces
//! took about 7,900 instructions through the default format and take 2,500 here: a token
//! trigger costs 2.3 % fewer (BENCHMARKS.md, issue 15, ninth round). The fields themselves
//! are still written by the subscriber's own field formatter, so their text cannot drift from
//! the default's. Coloured lines, for a person at a terminal, keep the default format.

use std::fmt;

use chrono::Utc;
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::domain::micros_time;

/// The default human format's line, ANSI off, written piece by piece.
pub(super) struct PlainLine;

impl<S, N> FormatEvent<S, N> for PlainLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // A record from the `log` crate carries its own level and target in its fields.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        writer.write_str(&micros_time(Utc::now()))?;
        writer.write_char(' ')?;
        writer.write_str(level(*meta.level()))?;
        writer.write_char(' ')?;
        if let Some(scope) = ctx.event_scope() {
            let mut any = false;
            for span in scope.from_root() {
                any = true;
                writer.write_str(span.metadata().name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        writer.write_char('{')?;
                        writer.write_str(fields)?;
                        writer.write_char('}')?;
                    }
                }
                writer.write_char(':')?;
            }
            if any {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// The level as the default format writes it: right-aligned in five columns.
fn level(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::format::DefaultFields;
    use tracing_subscriber::fmt::Layer;

    use super::*;

    /// Everything written to it, kept for the test to read.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer \"failure\"")]
    struct Outer(#[source] io::Error);

    /// Events of every level, in and out of nested spans, with fields of every kind the
    /// field formatter treats apart, and a record of the `log` crate.
    fn emit() {
        tracing::info!("outside any span");
        let request = tracing::info_span!("request", request_id = "r-1", n = 3);
        let _request = request.enter();
        let bare = tracing::debug_span!("bare");
        let _bare = bare.enter();
        let fire = tracing::info_span!("fire", hook = %"group/id", why = ?Some("cron"));
        let _fire = fire.enter();
        tracing::info!(
            hook = %"group/id",
            fired_by = "schedule",
            task_id = "quote \" and \\ and \u{7}",
            r#type = "raw",
            result = "success",
            duration_ms = 0.123_456_f64,
            ok = true,
            count = -4_i64,
            "hook fired"
        );
        let error = Outer(io::Error::other("inner"));
        tracing::error!(
            error = &error as &dyn std::error::Error,
            "write failed: {}",
            7
        );
        tracing::warn!(list = ?[1, 2], "a warning");
        tracing::debug!("debug");
        tracing::trace!(empty = "", "trace");
        let record = log::Record::builder()
            .level(log::Level::Warn)
            .target("some_crate::module")
            .module_path_static(Some("some_crate::module"))
            .file_static(Some("module.rs"))
            .line(Some(12))
            .args(format_args!("from the log crate"))
            .build();
        tracing_log::format_trace(&record).unwrap();
    }

    /// The lines `emit` writes through a subscriber with the given event format.
    fn lines<E>(format: E) -> Vec<String>
    where
        E: FormatEvent<tracing_subscriber::Registry, DefaultFields> + Send + Sync + 'static,
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        let capture = Capture::default();
        let writer = capture.clone();
        let layer = Layer::default()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .event_format(format);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn plain_lines_are_the_default_format_without_colour() {
        let ours = lines(PlainLine);
        let default = lines(tracing_subscriber::fmt::format().with_ansi(false));
        assert_eq!(ours.len(), 7, "{ours:#?}");
        assert_eq!(ours.len(), default.len(), "{default:#?}");
        for (ours, default) in ours.iter().zip(&default) {
            // The times differ; their shape must not, and everything after them must match.
            let (our_time, our_rest) = ours.split_once(' ').unwrap();
            let (default_time, default_rest) = default.split_once(' ').unwrap();
            assert_eq!(our_time.len(), default_time.len(), "{ours}\n{default}");
            assert!(
                chrono::DateTime::parse_from_rfc3339(our_time).is_ok(),
                "{ours}"
            );
            assert_eq!(our_rest, default_rest);
        }
        assert!(
            ours[1].contains("request{request_id=\"r-1\" n=3}:bare:fire{"),
            "{}",
            ours[1]
        );
    }
}
