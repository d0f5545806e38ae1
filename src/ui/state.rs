//! The UI's settings, and what its pages show about the process besides the API's state.

use std::time::Duration;

/// The UI's settings.
#[derive(Debug, Clone)]
pub struct UiSettings {
    /// How long a sign-in lasts.
    pub session_lifetime: Duration,
}

/// What the UI's pages show about the serving process.
pub struct UiState {
    /// The roles this process runs, as the service page shows them.
    pub roles: String,
}
