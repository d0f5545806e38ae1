//! Failpoints of an apply: where crash tests stop the process on purpose, inside windows a
//! random `kill -9` hits only by luck.
//!
//! Named in `HOOKD_FAILPOINT` like the scheduler's, read when the service starts; unset, as every deployment runs, nothing here does anything.

use crate::store::ApplyObserver;

/// The variable the scheduler's failpoints are named in too (one per process, one name).
const FAILPOINT_VAR: &str = "HOOKD_FAILPOINT";

/// A place where an apply may stop the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyFailpoint {
    /// `apply-after-commit`: the set's revision is committed, its hook writes not yet made (on
    /// SQLite, where they are one transaction, they are all made by then).
    AfterCommit,
    /// `apply-mid-writes`: half of the revision's hook writes are made.
    MidWrites,
}

impl ApplyFailpoint {
    /// The apply failpoint `HOOKD_FAILPOINT` names, if any; other names belong to other parts.
    pub fn from_env() -> Option<Self> {
        match std::env::var(FAILPOINT_VAR).ok()?.as_str() {
            "apply-after-commit" => Some(Self::AfterCommit),
            "apply-mid-writes" => Some(Self::MidWrites),
            _ => None,
        }
    }
}

/// Stops the process at once, as `kill -9` would, when `armed` is `at`.
pub(super) fn stop_if(armed: Option<ApplyFailpoint>, at: ApplyFailpoint) {
    if armed == Some(at) {
        tracing::error!(failpoint = ?at, "failpoint reached; aborting the process");
        std::process::abort();
    }
}

/// The observer of an apply's writes, which stops the process halfway when so armed.
pub(super) struct Halfway(pub(super) Option<ApplyFailpoint>);

impl ApplyObserver for Halfway {
    fn wrote(&self, index: usize, total: usize) {
        if index + 1 == total.div_ceil(2) {
            stop_if(self.0, ApplyFailpoint::MidWrites);
        }
    }
}
