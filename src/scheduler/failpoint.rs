//! Failpoints: places where the scheduler stops its process on purpose, so a crash test can
//! kill it exactly inside a window that a random `kill -9` hits only once in many tries.
//!
//! The failpoint is named in `HOOKD_FAILPOINT`, read once when the service starts (see
//! `docs/scheduler.md`). Unset, which is how every deployment runs, nothing here has any
//! effect: the check is one comparison against `None`.

/// The environment variable that names the failpoint to arm.
pub const FAILPOINT_VAR: &str = "HOOKD_FAILPOINT";

/// A place where the process may be stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// `scheduler-after-record`: a slot's fire is recorded, its claim not yet released.
    AfterRecord,
    /// `scheduler-after-claim-ahead`: a page of a burst's slots is claimed ahead in one write,
    /// none of them fired yet.
    AfterClaimAhead,
}

impl Failpoint {
    /// The failpoint `HOOKD_FAILPOINT` names, if any. An unknown name is logged and ignored,
    /// so a typo cannot stop a service.
    pub fn from_env() -> Option<Self> {
        let name = std::env::var(FAILPOINT_VAR).ok()?;
        match name.as_str() {
            "scheduler-after-record" => Some(Self::AfterRecord),
            "scheduler-after-claim-ahead" => Some(Self::AfterClaimAhead),
            // The apply's own failpoints (`apply::ApplyFailpoint`) share the variable.
            other if other.starts_with("apply-") => None,
            _ => {
                tracing::warn!(failpoint = %name, "unknown failpoint ignored");
                None
            }
        }
    }
}

/// Stops the process at once, as `kill -9` would (no destructors, no graceful stop), when
/// `armed` is `at`.
pub(super) fn stop_if(armed: Option<Failpoint>, at: Failpoint) {
    if armed == Some(at) {
        tracing::error!(failpoint = ?at, "failpoint reached; aborting the process");
        std::process::abort();
    }
}
