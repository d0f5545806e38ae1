//! Commands waiting for a confirmation: by their user repeating a short code (`self`), or by
//! a second permitted user approving it (`other`), within the alias's timeout.
//!
//! Pending commands live in memory: a restart forgets them, and the user asks again. Expiry is
//! read from the injectable clock.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::run::Command;
use crate::domain::chat_alias::ConfirmationMode;

/// Letters of a confirmation code; no look-alikes (0/O, 1/l/I).
const CODE_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// Characters in a code.
const CODE_LEN: usize = 6;

/// A command that waits for its confirmation.
pub struct Pending {
    /// What runs once confirmed.
    pub command: Command,
    /// Who confirms.
    pub mode: ConfirmationMode,
    /// When the confirmation stops counting.
    pub expires: DateTime<Utc>,
}

/// Why a confirmation did not release a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    /// No pending command has this code in this room (or it expired).
    #[error("no command waits for confirmation code {0} here")]
    Unknown(String),
    /// `confirm` of an `other` command, or `approve` of a `self` one.
    #[error("this command needs {0}")]
    WrongWay(&'static str),
    /// The asking user approved their own `other` command, or another user confirmed a `self`
    /// one.
    #[error("{0}")]
    WrongUser(&'static str),
}

/// The pending commands of one engine.
#[derive(Default)]
pub struct Confirmations {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Confirmations {
    /// Parks `pending` and returns its code.
    pub fn park(&self, pending: Pending, now: DateTime<Utc>) -> String {
        let mut map = self.lock();
        map.retain(|_, p| p.expires > now);
        let code = loop {
            let bytes: [u8; CODE_LEN] = crate::crypto::random_bytes();
            let code: String = bytes
                .iter()
                .map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()]))
                .collect();
            if !map.contains_key(&code) {
                break code;
            }
        };
        map.insert(code.clone(), pending);
        code
    }

    /// Releases the command under `code` when `principal` may confirm it the way `mode` asks
    /// (`confirm` is [`ConfirmationMode::OwnCode`], `approve` is [`ConfirmationMode::Other`])
    /// in `room` before it expires, and `permitted` says they may (an approver must be allowed
    /// to run the alias themselves).
    ///
    /// # Errors
    /// [`ConfirmError`] saying why not; the command stays pending unless it is unknown.
    pub fn release(
        &self,
        code: &str,
        mode: ConfirmationMode,
        principal: &str,
        room: &str,
        now: DateTime<Utc>,
        permitted: impl FnOnce(&Pending) -> bool,
    ) -> Result<Pending, ConfirmError> {
        let mut map = self.lock();
        map.retain(|_, p| p.expires > now);
        let pending = map
            .get(code)
            .filter(|p| p.command.room == room)
            .ok_or_else(|| ConfirmError::Unknown(code.to_owned()))?;
        let own = pending.command.principal == principal;
        match (pending.mode, mode) {
            (ConfirmationMode::OwnCode, ConfirmationMode::OwnCode) if !own => {
                return Err(ConfirmError::WrongUser(
                    "only the user who asked may confirm this command",
                ))
            }
            (ConfirmationMode::Other, ConfirmationMode::Other) if own => {
                return Err(ConfirmError::WrongUser(
                    "another user must approve this command",
                ))
            }
            (ConfirmationMode::OwnCode, ConfirmationMode::OwnCode)
            | (ConfirmationMode::Other, ConfirmationMode::Other) => {
                if !permitted(pending) {
                    return Err(ConfirmError::WrongUser(
                        "only a user who may run this alias may approve it",
                    ));
                }
            }
            (ConfirmationMode::Other, _) => {
                return Err(ConfirmError::WrongWay("`approve <code>` by another user"))
            }
            (_, _) => {
                return Err(ConfirmError::WrongWay(
                    "`confirm <code>` by the user who asked",
                ))
            }
        }
        map.remove(code)
            .ok_or_else(|| ConfirmError::Unknown(code.to_owned()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
