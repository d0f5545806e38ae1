//! The server's log writer: lines are appended to a buffer, and a thread of their own writes
//! the buffer out, a batch at a time.
//!
//! Why not a channel whose thread is woken for every line: waking a sleeping thread is a
//! system call on the request's path, and the woken thread then competes for the cores with
//! the request's own next steps. With one client at a time, a durable token trigger answered
//! about a fifth sooner without its log line than with it (BENCHMARKS.md, issue 15's
//! thirteenth round). Here the thread is woken only by the first line after a quiet spell; it
//! then lets lines gather for [`GATHER_FOR`] and writes them with one system call, so under a
//! steady stream no line wakes anyone. A quiet server's thread sleeps until the next line.
//!
//! No line is dropped: a writer that finds the buffer full waits for the thread to empty it.
//! Lines are written in the order they were appended. Once the [`FlushGuard`] is dropped,
//! everything appended before is written.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// How long lines gather after the first one wakes the thread: how late a line may reach the
/// output, and the most often a busy server writes to it.
const GATHER_FOR: Duration = Duration::from_millis(50);

/// Bytes of lines held before writers wait: at the fastest fire rate measured (a few tens of
/// thousands a second, a few hundred bytes a line) about a tenth of a second of lines.
const CAPACITY: usize = 1 << 20;

/// Hands log lines to the log thread; what `tracing_subscriber` writes events to.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Stops the log thread when dropped, once it has written every line appended before.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What writers and the log thread share.
struct Shared {
    state: Mutex<State>,
    /// Signalled to the log thread: lines after a quiet spell, a full buffer, or stopping.
    lines: Condvar,
    /// Signalled to waiting writers: the buffer was emptied.
    room: Condvar,
    capacity: usize,
}

/// The lines not yet handed to the output, and what the log thread is doing.
#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    /// The log thread is asleep until the next line (and only then needs a signal).
    asleep: bool,
    /// The guard was dropped: write what is left and end; writers no longer wait for room.
    stopping: bool,
}

/// Starts the log thread, named `name`, writing to `out`.
///
/// # Errors
/// When the thread cannot be started.
pub fn spawn<W>(out: W, name: &str) -> io::Result<(LogWriter, FlushGuard)>
where
    W: Write + Send + 'static,
{
    spawn_with_capacity(out, name, CAPACITY)
}

/// [`spawn`] with writers waiting once `capacity` bytes are held (small in tests).
fn spawn_with_capacity<W>(
    out: W,
    name: &str,
    capacity: usize,
) -> io::Result<(LogWriter, FlushGuard)>
where
    W: Write + Send + 'static,
{
    let shared = Arc::new(Shared {
        state: Mutex::default(),
        lines: Condvar::new(),
        room: Condvar::new(),
        capacity,
    });
    let thread = thread::Builder::new().name(name.into()).spawn({
        let shared = Arc::clone(&shared);
        move || run(&shared, out)
    })?;
    let guard = FlushGuard {
        shared: Arc::clone(&shared),
        thread: Some(thread),
    };
    Ok((LogWriter { shared }, guard))
}

impl Shared {
    /// A poisoned lock only means a writer panicked mid-append; the buffer is still bytes.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn full(&self, state: &State) -> bool {
        state.buffer.len() >= self.capacity
    }
}

/// The log thread: sleep until a line, let more gather, write them all, repeat; write what is
/// left and end once stopping.
fn run<W: Write>(shared: &Shared, mut out: W) {
    let mut batch = Vec::new();
    loop {
        let mut state = shared.lock();
        while state.buffer.is_empty() && !state.stopping {
            state.asleep = true;
            state = shared
                .lines
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.asleep = false;
        let deadline = Instant::now() + GATHER_FOR;
        while !state.stopping && !shared.full(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = (shared.lines.wait_timeout(state, left))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        std::mem::swap(&mut state.buffer, &mut batch);
        let stopping = state.stopping;
        drop(state);
        shared.room.notify_all();
        // Nobody to tell if the output fails; the lines are given up, not retried forever.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        if stopping {
            return;
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.lines.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Write for &LogWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let shared = &self.shared;
        let mut state = shared.lock();
        while !state.stopping
            && !state.buffer.is_empty()
            && state.buffer.len() + line.len() > shared.capacity
        {
            shared.lines.notify_one();
            state = shared
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.buffer.extend_from_slice(line);
        let wake = std::mem::take(&mut state.asleep) || shared.full(&state);
        drop(state);
        if wake {
            shared.lines.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = &'a LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that keeps what is written, and can be held up.
    #[derive(Clone, Default)]
    struct Output(Arc<Mutex<Vec<u8>>>);

    impl Write for Output {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Output {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn lines(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("line {i}\n")).collect()
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_guard_is_dropped() {
        let output = Output::default();
        let (writer, guard) = spawn(output.clone(), "test-log").unwrap();
        for line in lines(1000) {
            (&writer).write_all(line.as_bytes()).unwrap();
        }
        drop(guard);
        assert_eq!(output.text(), lines(1000).concat());
    }

    /// With room for a few lines only, writers wait for the thread instead of growing the
    /// buffer or dropping lines.
    #[test]
    fn a_full_buffer_makes_writers_wait_and_loses_nothing() {
        const ROOM: usize = 32;
        let output = Output::default();
        let (writer, guard) = spawn_with_capacity(output.clone(), "test-log", ROOM).unwrap();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let writer = writer.clone();
                thread::spawn(move || {
                    for i in 0..100 {
                        (&writer)
                            .write_all(format!("{w}:{i}\n").as_bytes())
                            .unwrap();
                        let held = writer.shared.lock().buffer.len();
                        assert!(held <= ROOM, "the buffer grew to {held} bytes");
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        drop(guard);
        let text = output.text();
        for w in 0..4 {
            let prefix = format!("{w}:");
            let mine: Vec<&str> = text.lines().filter(|l| l.starts_with(&prefix)).collect();
            let expected: Vec<String> = (0..100).map(|i| format!("{w}:{i}")).collect();
            assert_eq!(mine, expected, "writer {w}'s lines were lost or reordered");
        }
    }

    #[test]
    fn a_line_reaches_the_output_without_the_guard_being_dropped() {
        let output = Output::default();
        let (writer, _guard) = spawn(output.clone(), "test-log").unwrap();
        (&writer).write_all(b"hello\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while output.text().is_empty() {
            assert!(Instant::now() < deadline, "the line was never written");
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(output.text(), "hello\n");
    }
}
