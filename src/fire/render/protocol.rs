//! The wire format between hookd and its render workers (see `render_pool` and
//! `render_worker`).
//!
//! Both directions carry frames: a 4-byte big-endian payload length, a 1-byte tag, then the
//! payload. Requests are JSON; a rendered task travels as its compact JSON text, so the worker
//! can check the task's size on the very bytes it sends.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RenderError;
use crate::domain::TaskId;

/// Bytes in a frame header: the payload length and the tag.
pub const HEADER_LEN: usize = 5;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// hookd → worker: a JSON [`RenderRequest`].
    Request,
    /// worker → hookd: the rendered task as compact JSON.
    Rendered,
    /// worker → hookd: the template rendered to `null`; no payload.
    Declined,
    /// worker → hookd: a JSON [`RenderError`].
    Failed,
}

impl Tag {
    fn byte(self) -> u8 {
        match self {
            Self::Request => 0,
            Self::Rendered => 1,
            Self::Declined => 2,
            Self::Failed => 3,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        [Self::Request, Self::Rendered, Self::Declined, Self::Failed]
            .into_iter()
            .find(|tag| tag.byte() == byte)
    }
}

/// One render, as hookd asks for it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderRequest<'a> {
    /// The hook's JSON-e template.
    pub template: Cow<'a, Value>,
    /// The fire's context.
    pub context: Cow<'a, Value>,
    /// The task id, the default `taskGroupId`.
    pub task_id: Cow<'a, TaskId>,
    /// The fire's time, bound to `now`.
    pub now: DateTime<Utc>,
}

/// A frame ready to write: header and payload.
pub fn frame(tag: Tag, payload: &[u8]) -> Vec<u8> {
    // Payloads are bounded far below 4 GiB (request bodies and the task size limit), so the
    // length always fits; saturating keeps a bug from wrapping into a small, valid length.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.push(tag.byte());
    bytes.extend_from_slice(payload);
    bytes
}

/// A frame header that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// The tag byte names no [`Tag`].
    #[error("unknown frame tag {0}")]
    UnknownTag(u8),
    /// The payload would be longer than the reader accepts.
    #[error("a frame of {len} bytes is over the limit of {limit}")]
    TooLong {
        /// The announced length.
        len: usize,
        /// The reader's limit.
        limit: usize,
    },
}

/// The tag and payload length in `header`, refusing payloads over `limit` bytes, so a
/// confused peer cannot make the reader allocate gigabytes.
///
/// # Errors
/// [`HeaderError`] for an unknown tag or an over-long payload.
pub fn parse_header(header: [u8; HEADER_LEN], limit: usize) -> Result<(Tag, usize), HeaderError> {
    let [a, b, c, d, tag] = header;
    let len = usize::try_from(u32::from_be_bytes([a, b, c, d])).unwrap_or(usize::MAX);
    let tag = Tag::from_byte(tag).ok_or(HeaderError::UnknownTag(tag))?;
    if len > limit {
        return Err(HeaderError::TooLong { len, limit });
    }
    Ok((tag, len))
}

/// The reply frame for a render's outcome. A task over `max_task_bytes` becomes a
/// [`RenderError::TooLarge`] reply.
pub fn reply(outcome: Result<Option<Value>, RenderError>, max_task_bytes: usize) -> Vec<u8> {
    let failed = |error: &RenderError| {
        // A RenderError is plain data (strings and numbers); it always serializes.
        frame(Tag::Failed, &serde_json::to_vec(error).unwrap_or_default())
    };
    match outcome {
        Ok(None) => frame(Tag::Declined, &[]),
        Ok(Some(task)) => {
            let text = serde_json::to_vec(&task).unwrap_or_default();
            if text.len() > max_task_bytes {
                failed(&RenderError::TooLarge {
                    size: text.len(),
                    limit: max_task_bytes,
                })
            } else {
                frame(Tag::Rendered, &text)
            }
        }
        Err(error) => failed(&error),
    }
}

/// A reply payload that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// The payload is not the JSON its tag promises.
    #[error("a reply payload is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A request frame came back.
    #[error("the worker answered with a request frame")]
    UnexpectedRequest,
}

/// The render outcome in a reply frame.
///
/// # Errors
/// [`ReplyError`] when the frame is not a well-formed reply.
pub fn decode_reply(
    tag: Tag,
    payload: &[u8],
) -> Result<Result<Option<Value>, RenderError>, ReplyError> {
    Ok(match tag {
        Tag::Rendered => Ok(Some(serde_json::from_slice(payload)?)),
        Tag::Declined => Ok(None),
        Tag::Failed => Err(serde_json::from_slice(payload)?),
        Tag::Request => return Err(ReplyError::UnexpectedRequest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(frame: &[u8], limit: usize) -> Result<(Tag, &[u8]), HeaderError> {
        let header: [u8; HEADER_LEN] = frame[..HEADER_LEN].try_into().unwrap();
        let (tag, len) = parse_header(header, limit)?;
        Ok((tag, &frame[HEADER_LEN..HEADER_LEN + len]))
    }

    fn round_trip(
        outcome: Result<Option<Value>, RenderError>,
    ) -> Result<Option<Value>, RenderError> {
        let bytes = reply(outcome, 64);
        let (tag, payload) = split(&bytes, 1 << 20).unwrap();
        decode_reply(tag, payload).unwrap()
    }

    #[test]
    fn replies_carry_tasks_declines_and_errors() {
        assert_eq!(
            round_trip(Ok(Some(json!({"a": 1})))).unwrap(),
            Some(json!({"a": 1}))
        );
        assert_eq!(round_trip(Ok(None)).unwrap(), None);
        let err = round_trip(Err(RenderError::Template("boom".into()))).unwrap_err();
        assert!(matches!(err, RenderError::Template(m) if m == "boom"));
    }

    #[test]
    fn a_task_over_the_bound_becomes_a_too_large_error_with_its_exact_size() {
        let task = json!({"text": "x".repeat(100)});
        let size = serde_json::to_vec(&task).unwrap().len();
        let err = round_trip(Ok(Some(task))).unwrap_err();
        assert!(matches!(err, RenderError::TooLarge { size: s, limit: 64 } if s == size));
    }

    #[test]
    fn headers_over_the_limit_or_with_unknown_tags_are_refused() {
        let big = frame(Tag::Rendered, &[b'1'; 100]);
        assert!(matches!(
            split(&big, 10),
            Err(HeaderError::TooLong {
                len: 100,
                limit: 10
            })
        ));
        let mut odd = frame(Tag::Declined, &[]);
        odd[4] = 9;
        assert!(matches!(split(&odd, 10), Err(HeaderError::UnknownTag(9))));
    }

    #[test]
    fn requests_round_trip() {
        let id = TaskId::parse("fN1SbArXTPSVFNUvaOlinQ").unwrap();
        let request = RenderRequest {
            template: Cow::Owned(json!({"a": "${x}"})),
            context: Cow::Owned(json!({"x": 1})),
            task_id: Cow::Borrowed(&id),
            now: "2026-03-01T12:00:00Z".parse().unwrap(),
        };
        let text = serde_json::to_vec(&request).unwrap();
        let back: RenderRequest<'_> = serde_json::from_slice(&text).unwrap();
        assert_eq!(back.template["a"], "${x}");
        assert_eq!(*back.task_id, id);
        assert_eq!(back.now, request.now);
    }
}
