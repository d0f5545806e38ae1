//! The authenticated (or anonymous) caller of a request and its scope check; how a caller is
//! established is the authenticator's business (`super`).

use crate::api::error::{ApiError, ErrorCode};
use crate::domain::ScopeSet;

/// The client id given to requests without credentials.
pub const ANONYMOUS: &str = "anonymous";

/// An authenticated (or anonymous) caller and the scopes it holds.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client id, or [`ANONYMOUS`].
    pub client_id: String,
    /// Scopes, expanded through roles.
    pub scopes: ScopeSet,
}

impl Caller {
    /// Requires every scope in `required`.
    ///
    /// # Errors
    /// `InsufficientScopes` naming each missing scope.
    pub fn require<S: AsRef<str>>(&self, required: &[S]) -> Result<(), ApiError> {
        let missing = self.scopes.missing(required.iter().map(AsRef::as_ref));
        if missing.is_empty() {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::InsufficientScopes,
            format!(
                "client {:?} lacks the scopes this request needs: {}",
                self.client_id,
                missing.join(", ")
            ),
        ))
    }
}
