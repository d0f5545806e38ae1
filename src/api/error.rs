//! The one mapping from failures to HTTP: `{code, message, requestInfo}` bodies.
//!
//! Handlers return [`ApiError`]; each layer's error converts into it through an exhaustive
//! `match`, so a new variant anywhere forces a decision about its status code. The
//! `requestInfo` part needs the request, which `ResponseError` does not see, so the
//! [`super::request_info`] middleware fills it in.

use actix_web::http::header::RETRY_AFTER;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};

use super::auth::hawk::HawkError;
use super::schemas::{SchemaId, Violations};
use crate::apply::ApplyError;
use crate::chat::slash::SlashError;
use crate::chat::AliasError;
use crate::domain::DomainError;
use crate::fire::bulk_replay::BulkReplayError;
use crate::fire::replay::ReplayError;
use crate::fire::{FailureClass, FireError};
use crate::registry::RegistryError;
use crate::store::StoreError;

/// The error codes of the API, with Taskcluster's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A path or query parameter is malformed.
    InvalidRequestArguments,
    /// The body breaks its JSON Schema.
    InputValidationError,
    /// The body is well-formed but cannot be acted on.
    InputError,
    /// The body is not JSON, or not sent as JSON.
    MalformedPayload,
    /// The request is not valid HTTP (answered by the framework, see `framework_errors`).
    MalformedRequest,
    /// Credentials were presented and are wrong.
    AuthenticationFailed,
    /// The caller lacks scopes.
    InsufficientScopes,
    /// No such resource.
    ResourceNotFound,
    /// The request conflicts with what exists.
    RequestConflict,
    /// The body is larger than the limit.
    PayloadTooLarge,
    /// The body did not arrive in time.
    RequestTimeout,
    /// The request head is larger than the framework's buffer.
    HeadersTooLarge,
    /// The body is sent in an encoding hookd does not read (compressed).
    UnsupportedMediaType,
    /// Too many requests.
    TooManyRequests,
    /// A backend is out of reach; retry later.
    ServiceUnavailable,
    /// A bug or a broken backend.
    InternalServerError,
}

impl ErrorCode {
    /// The HTTP status of this code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequestArguments
            | Self::InputValidationError
            | Self::InputError
            | Self::MalformedPayload
            | Self::MalformedRequest => StatusCode::BAD_REQUEST,
            Self::AuthenticationFailed => StatusCode::UNAUTHORIZED,
            Self::InsufficientScopes => StatusCode::FORBIDDEN,
            Self::ResourceNotFound => StatusCode::NOT_FOUND,
            Self::RequestConflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code's name as it appears in bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequestArguments => "InvalidRequestArguments",
            Self::InputValidationError => "InputValidationError",
            Self::InputError => "InputError",
            Self::MalformedPayload => "MalformedPayload",
            Self::MalformedRequest => "MalformedRequest",
            Self::AuthenticationFailed => "AuthenticationFailed",
            Self::InsufficientScopes => "InsufficientScopes",
            Self::ResourceNotFound => "ResourceNotFound",
            Self::RequestConflict => "RequestConflict",
            Self::PayloadTooLarge => "PayloadTooLarge",
            Self::RequestTimeout => "RequestTimeout",
            Self::HeadersTooLarge => "HeadersTooLarge",
            Self::UnsupportedMediaType => "UnsupportedMediaType",
            Self::TooManyRequests => "TooManyRequests",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::InternalServerError => "InternalServerError",
        }
    }
}

/// An error answer: a code and a message for the caller.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// What kind of error.
    pub code: ErrorCode,
    /// What went wrong, for the caller.
    pub message: String,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// `InputValidationError` for a request body that breaks the schema `id`.
    pub fn invalid_body(id: SchemaId, violations: &Violations) -> Self {
        Self::new(
            ErrorCode::InputValidationError,
            format!(
                "the request body does not match {}: {violations}",
                id.file_name()
            ),
        )
    }

    /// The same error, telling the caller to retry after `seconds`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// A 5xx whose cause is logged in full while the caller gets a generic message.
    fn server(code: ErrorCode, cause: &(dyn std::error::Error + 'static)) -> Self {
        let chain = crate::telemetry::error_chain(cause);
        tracing::error!(error = %chain, code = code.as_str(), "request failed");
        let message = match code {
            ErrorCode::ServiceUnavailable => "A backend of hookd is unavailable; try again later.",
            _ => "hookd hit an internal error; the cause is in its log.",
        };
        Self::new(code, message)
    }

    /// The full body, given the request's description.
    pub fn body(&self, request_info: Value) -> Value {
        json!({
            "code": self.code.as_str(),
            "message": self.message,
            "requestInfo": request_info,
        })
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    /// A body without request details; the middleware replaces it with the complete one.
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(seconds) = self.retry_after {
            response.insert_header((RETRY_AFTER, seconds));
        }
        response.json(self.body(Value::Null))
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self::new(ErrorCode::InvalidRequestArguments, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::from_store(&e)
    }
}

impl ApiError {
    fn from_store(e: &StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::new(ErrorCode::ResourceNotFound, e.to_string()),
            StoreError::AlreadyExists | StoreError::VersionConflict => {
                Self::new(ErrorCode::RequestConflict, e.to_string())
            }
            StoreError::Unavailable(_) => Self::server(ErrorCode::ServiceUnavailable, e),
            StoreError::Backend(_) | StoreError::Corrupt(_) => {
                Self::server(ErrorCode::InternalServerError, e)
            }
        }
    }
}

impl From<AliasError> for ApiError {
    fn from(e: AliasError) -> Self {
        match e {
            AliasError::CreatedEnabled => Self::new(ErrorCode::InputError, e.to_string()),
            AliasError::NotFound(_) => Self::new(ErrorCode::ResourceNotFound, e.to_string()),
            AliasError::Conflict(_) | AliasError::OwnedBySet { .. } => {
                Self::new(ErrorCode::RequestConflict, e.to_string())
            }
            AliasError::Store(e) => e.into(),
        }
    }
}

impl From<SlashError> for ApiError {
    fn from(e: SlashError) -> Self {
        match e {
            SlashError::Unsigned
            | SlashError::Stale
            | SlashError::BadSignature
            | SlashError::Replayed => Self::new(ErrorCode::AuthenticationFailed, e.to_string()),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound(_) => Self::new(ErrorCode::ResourceNotFound, e.to_string()),
            RegistryError::Conflict(_) | RegistryError::OwnedBySet { .. } => {
                Self::new(ErrorCode::RequestConflict, e.to_string())
            }
            RegistryError::Store(e) => e.into(),
            RegistryError::Token(_) => Self::server(ErrorCode::InternalServerError, &e),
        }
    }
}

impl From<ApplyError> for ApiError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Empty(_) => Self::new(ErrorCode::InputError, e.to_string()),
            ApplyError::RevisionMoved { .. } | ApplyError::Refused { .. } | ApplyError::Lost(_) => {
                Self::new(ErrorCode::RequestConflict, e.to_string())
            }
            ApplyError::Store(e) => e.into(),
            ApplyError::Registry(e) => e.into(),
        }
    }
}

/// The status follows the fire path's own classification ([`FireError::disposition`]) rather
/// than a second match on the error's variants: what a caller is told then cannot disagree with
/// what was recorded or retried. The match stays exhaustive, over the classes: a new
/// `FireError` variant forces a decision in `disposition`, a new class forces one here.
impl From<FireError> for ApiError {
    fn from(e: FireError) -> Self {
        let code = match e.disposition().class {
            FailureClass::Malformed => ErrorCode::MalformedPayload,
            // Taskcluster answers `InputError` for a payload its hook's triggerSchema refuses;
            // `InputValidationError` is only for bodies failing the endpoint's own schema.
            FailureClass::BadInput => ErrorCode::InputError,
            FailureClass::MissingScopes => ErrorCode::InsufficientScopes,
            FailureClass::Conflict => ErrorCode::RequestConflict,
            FailureClass::Unavailable => return Self::server(ErrorCode::ServiceUnavailable, &e),
            FailureClass::Store(store) => return Self::from_store(store),
        };
        Self::new(code, e.to_string())
    }
}

/// A replay that cannot be made from what the fire's record kept conflicts with that record.
impl From<ReplayError> for ApiError {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::PayloadNotKept { .. } | ReplayError::TemplateNotKept { .. } => {
                Self::new(ErrorCode::RequestConflict, e.to_string())
            }
        }
    }
}

impl From<BulkReplayError> for ApiError {
    fn from(e: BulkReplayError) -> Self {
        match e {
            BulkReplayError::EmptyRange { .. } => Self::new(ErrorCode::InputError, e.to_string()),
            BulkReplayError::Store(e) => e.into(),
        }
    }
}

impl From<HawkError> for ApiError {
    fn from(e: HawkError) -> Self {
        match e {
            HawkError::Malformed
            | HawkError::BadExt
            | HawkError::UnknownClient
            | HawkError::BadMac
            | HawkError::Stale
            | HawkError::Replayed
            | HawkError::Certificate(_)
            | HawkError::ScopesNotAuthorized
            | HawkError::MalformedBewit
            | HawkError::BewitExpired
            | HawkError::BewitNotGet => Self::new(ErrorCode::AuthenticationFailed, e.to_string()),
            HawkError::Crypto => Self::server(ErrorCode::InternalServerError, &e),
        }
    }
}
