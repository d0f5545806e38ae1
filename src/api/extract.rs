//! Request extractors: hook paths, JSON bodies and query parameters, each failing with the
//! API's own error codes instead of actix's defaults.
//!
//! A JSON body is bounded in size ([`BodyLimit`]) and in time ([`BodyTimeout`]): a client that
//! stops sending mid-body is answered 408 instead of holding its connection (actix bounds the
//! request head itself). Compressed bodies are refused rather than decoded. A body refused
//! before its end closes the connection after the answer (see [`super::unread_body`]).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;

use super::error::{ApiError, ErrorCode};
use super::json_depth;
use super::request_info::RawBody;
use crate::domain::{HookGroupId, HookId, HookKey};

/// The largest body a request may carry, in bytes; registered as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The longest a request body may take to arrive, counted from when its extractor starts
/// reading it (right after the head); registered as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// Path parameters naming a hook.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookParams {
    hook_group_id: String,
    hook_id: String,
}

/// The hook named by `{hookGroupId}/{hookId}` in the path, percent-decoded and validated.
pub struct HookPath(pub HookKey);

impl FromRequest for HookPath {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(hook_path(req))
    }
}

fn hook_path(req: &HttpRequest) -> Result<HookPath, ApiError> {
    // `load` percent-decodes each segment, so `a%2Fb` arrives as the hook id `a/b`.
    let params: HookParams = req
        .match_info()
        .load()
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequestArguments, format!("bad path: {e}")))?;
    let group = HookGroupId::parse(params.hook_group_id)?;
    let id = HookId::parse(params.hook_id)?;
    Ok(HookPath(HookKey::new(group, id)))
}

/// Reads one path parameter, percent-decoded.
///
/// # Errors
/// `InvalidRequestArguments` when the parameter is missing or not decodable.
pub fn path_param(req: &HttpRequest, name: &str) -> Result<String, ApiError> {
    let raw = req.match_info().get(name).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidRequestArguments,
            format!("missing {name}"),
        )
    })?;
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidRequestArguments,
                format!("{name} is not UTF-8"),
            )
        })
}

/// A JSON request body, read up to the configured [`BodyLimit`].
///
/// An empty body counts as `{}`, so `curl -X POST` without data works on trigger endpoints. A
/// body sent with a content type other than JSON is refused rather than guessed at.
pub struct JsonBody(pub Value);

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let bytes = read_bounded(&req, &mut payload).await?;
            req.extensions_mut().insert(RawBody(bytes.clone()));
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(JsonBody(Value::Object(Default::default())));
            }
            check_content_type(&req)?;
            if json_depth::exceeds(&bytes, json_depth::MAX_DEPTH) {
                return Err(ApiError::new(
                    ErrorCode::MalformedPayload,
                    format!(
                        "the request body nests arrays and objects deeper than {} levels",
                        json_depth::MAX_DEPTH
                    ),
                ));
            }
            serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
                ApiError::new(
                    ErrorCode::MalformedPayload,
                    format!("the request body is not valid JSON: {e}"),
                )
            })
        })
    }
}

/// A raw request body of any content type (a slash command's form), read like every body (see
/// [`read_bounded`]). Unlike [`JsonBody`] it is not kept for error bodies: a form may carry a
/// token.
pub struct RawForm(pub Bytes);

impl FromRequest for RawForm {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move { read_bounded(&req, &mut payload).await.map(RawForm) })
    }
}

/// Reads a request body within the configured [`BodyLimit`] and [`BodyTimeout`], refusing a
/// compressed one: how every body hookd reads arrives, JSON or the UI's forms.
///
/// # Errors
/// `PayloadTooLarge`, `RequestTimeout`, `UnsupportedMediaType` or `MalformedPayload`.
pub(crate) async fn read_bounded(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Result<Bytes, ApiError> {
    let limit = req
        .app_data::<BodyLimit>()
        .copied()
        .unwrap_or(BodyLimit(1024 * 1024))
        .0;
    read_within_limits(req, payload, limit).await
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

/// Reads the body, refusing it when it is compressed, too large or too slow.
async fn read_within_limits(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    check_content_encoding(req)?;
    match req.app_data::<BodyTimeout>() {
        Some(BodyTimeout(timeout)) => {
            tokio::time::timeout(*timeout, read_body(req, payload, limit))
                .await
                .map_err(|_| too_slow(*timeout))?
        }
        None => read_body(req, payload, limit).await,
    }
}

fn too_slow(timeout: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::RequestTimeout,
        format!(
            "the request body did not arrive within {} ms",
            timeout.as_millis()
        ),
    )
}

/// Refuses a compressed body: parsing it as JSON would be wrong, and decoding it would need
/// the size limit applied after decompression; no client of this API compresses requests.
fn check_content_encoding(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(CONTENT_ENCODING) else {
        return Ok(());
    };
    let encoding = String::from_utf8_lossy(value.as_bytes())
        .trim()
        .to_ascii_lowercase();
    if encoding == "identity" {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("request bodies must not be compressed; got Content-Encoding {encoding:?}"),
        ))
    }
}

async fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                ErrorCode::MalformedPayload,
                format!("the request body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "application/json" || mime.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::MalformedPayload,
            format!("the request body must be sent as application/json, not {mime:?}"),
        ))
    }
}
