//! The render worker: a child process (`hookd render-worker`) that renders task templates for
//! hookd, one at a time, under a bound on its heap.
//!
//! Templates come from hook authors and JSON-e is a full expression language: a `$reduce`
//! that doubles a string sixty times asks for exabytes, and the renderer can be neither
//! interrupted nor told to stop allocating. In a process of its own a runaway render is
//! stopped for real: the bound (kept by the allocator, see `crate::allocator`) makes its
//! allocation fail, which aborts only the worker, and hookd kills a worker that misses its
//! deadline. See `render_pool` for the other side.

use std::io::{self, Read, Write};

use super::protocol::{self, HeaderError, RenderRequest, Tag, HEADER_LEN};
use super::{self as render, RenderError};
use crate::allocator;

/// What a worker is allowed.
#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    /// Bytes the worker's heap may grow by past its size at start.
    pub memory_limit: u64,
    /// The largest rendered task, in bytes of compact JSON.
    pub max_task_bytes: usize,
}

/// Why a worker stopped other than at the end of its input.
#[derive(Debug, thiserror::Error)]
pub enum RenderWorkerError {
    /// Reading a request or writing a reply failed.
    #[error("render worker I/O failed")]
    Io(#[from] io::Error),
    /// A request frame was malformed.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A request was not JSON of the expected shape.
    #[error("a render request is malformed")]
    Request(#[from] serde_json::Error),
}

/// Serves render requests from `input` until it ends, writing one reply per request to
/// `output`.
///
/// # Errors
/// [`RenderWorkerError`] when the stream breaks; hookd then sees the worker exit and starts
/// another.
pub fn run(
    options: WorkerOptions,
    mut input: impl Read,
    mut output: impl Write,
) -> Result<(), RenderWorkerError> {
    let memory_limit = usize::try_from(options.memory_limit).unwrap_or(usize::MAX);
    allocator::bound_heap_growth(memory_limit);
    while let Some(request) = read_request(&mut input, memory_limit)? {
        let request: RenderRequest<'_> = serde_json::from_slice(&request)?;
        let outcome = std::panic::catch_unwind(|| {
            render::task(
                &request.template,
                &request.context,
                &request.task_id,
                request.now,
            )
        })
        .unwrap_or(Err(RenderError::Crashed));
        output.write_all(&protocol::reply(outcome, options.max_task_bytes))?;
        output.flush()?;
    }
    Ok(())
}

/// The next request's payload, or `None` when hookd closed the stream.
fn read_request(input: &mut impl Read, limit: usize) -> Result<Option<Vec<u8>>, RenderWorkerError> {
    let mut header = [0; HEADER_LEN];
    match input.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let (tag, len) = protocol::parse_header(header, limit)?;
    if tag != Tag::Request {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "expected a request frame").into());
    }
    let mut payload = vec![0; len];
    input.read_exact(&mut payload)?;
    Ok(Some(payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TaskId;
    use protocol::frame;
    use serde_json::json;
    use std::borrow::Cow;

    fn request(template: serde_json::Value) -> Vec<u8> {
        let id = TaskId::parse("fN1SbArXTPSVFNUvaOlinQ").unwrap();
        let request = RenderRequest {
            template: Cow::Owned(template),
            context: Cow::Owned(json!({"who": "world"})),
            task_id: Cow::Owned(id),
            now: "2026-03-01T12:00:00Z".parse().unwrap(),
        };
        frame(Tag::Request, &serde_json::to_vec(&request).unwrap())
    }

    #[test]
    fn read_request_ends_cleanly_at_the_end_of_input() {
        let mut input: &[u8] = &[];
        assert!(read_request(&mut input, 10).unwrap().is_none());
    }

    #[test]
    fn read_request_refuses_reply_frames() {
        let bytes = frame(Tag::Declined, &[]);
        assert!(read_request(&mut bytes.as_slice(), 10).is_err());
    }

    #[test]
    fn read_request_returns_each_payload_in_turn() {
        let mut input = request(json!({"a": 1}));
        input.extend(request(json!(null)));
        let mut input = input.as_slice();
        assert!(read_request(&mut input, 1 << 20).unwrap().is_some());
        assert!(read_request(&mut input, 1 << 20).unwrap().is_some());
        assert!(read_request(&mut input, 1 << 20).unwrap().is_none());
    }
}
