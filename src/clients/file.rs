//! The clients that `hookd client create|list|delete|reset` manage, kept in the data dir.
//!
//! Each record holds the client's scopes, the SHA-256 hash of its access token and the salt the
//! token was derived with (see [`crate::clients::tokens`]), never the token itself. Roles stay
//! in the config file. A running server reads the file at start, so changes apply on restart.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clients::root::ROOT_CLIENT_ID;
use crate::clients::tokens::TokenDeriver;
use crate::clients::{hash_token, ClientConfig};
use crate::data_dir::{write_private, DataDir};

/// The clients file in the data dir.
const CLIENTS_FILE: &str = "clients.toml";

/// Why the clients file could not be used or changed.
#[derive(Debug, thiserror::Error)]
pub enum ClientFileError {
    /// The file could not be read or written.
    #[error("cannot use {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not what this module writes.
    #[error("{0} is damaged")]
    Damaged(PathBuf),
    /// The write failed in the data dir layer.
    #[error(transparent)]
    Write(#[from] crate::data_dir::DataDirError),
    /// `create` for an id that exists.
    #[error("client {0:?} already exists")]
    Exists(String),
    /// `delete` or `reset` for an id that does not exist.
    #[error("client {0:?} does not exist")]
    Missing(String),
    /// The id is reserved or has characters Taskcluster does not allow.
    #[error("client id {0:?} is invalid: use 1-256 of A-Z a-z 0-9 !@/:.+|_- and not \"root\"")]
    BadId(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Records {
    #[serde(default)]
    clients: Vec<ClientConfig>,
}

/// The clients file of one data dir.
pub struct ClientFile {
    path: PathBuf,
    records: Records,
}

impl ClientFile {
    /// Reads the clients file of `data_dir`; a missing file means no clients.
    ///
    /// # Errors
    /// [`ClientFileError`] when the file cannot be read or parsed.
    pub fn open_in(data_dir: &DataDir) -> Result<Self, ClientFileError> {
        Self::open(&data_dir.file(CLIENTS_FILE))
    }

    /// Reads `path`; a missing file means no clients.
    ///
    /// # Errors
    /// [`ClientFileError`] when the file cannot be read or parsed.
    pub fn open(path: &Path) -> Result<Self, ClientFileError> {
        let records = match fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).map_err(|_| ClientFileError::Damaged(path.to_owned()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Records::default(),
            Err(source) => {
                return Err(ClientFileError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Ok(Self {
            path: path.to_owned(),
            records,
        })
    }

    /// The clients, in creation order.
    pub fn clients(&self) -> &[ClientConfig] {
        &self.records.clients
    }

    /// Adds `client_id` with `scopes`, saves, and returns its new access token.
    ///
    /// # Errors
    /// [`ClientFileError::Exists`], [`ClientFileError::BadId`], or a write failure.
    pub fn create(
        &mut self,
        client_id: &str,
        scopes: Vec<String>,
        deriver: &TokenDeriver,
    ) -> Result<String, ClientFileError> {
        if !valid_id(client_id) {
            return Err(ClientFileError::BadId(client_id.to_owned()));
        }
        if self.position(client_id).is_some() {
            return Err(ClientFileError::Exists(client_id.to_owned()));
        }
        let (token, salt) = new_token(client_id, deriver);
        self.records.clients.push(ClientConfig {
            client_id: client_id.to_owned(),
            access_token_hash: hash_token(&token),
            scopes,
            token_salt: Some(salt),
        });
        self.save()?;
        Ok(token)
    }

    /// Removes `client_id` and saves.
    ///
    /// # Errors
    /// [`ClientFileError::Missing`] or a write failure.
    pub fn delete(&mut self, client_id: &str) -> Result<(), ClientFileError> {
        let i = self
            .position(client_id)
            .ok_or_else(|| ClientFileError::Missing(client_id.to_owned()))?;
        self.records.clients.remove(i);
        self.save()
    }

    /// Gives `client_id` a new access token (the old one stops working), saves, and returns it.
    ///
    /// # Errors
    /// [`ClientFileError::Missing`] or a write failure.
    pub fn reset(
        &mut self,
        client_id: &str,
        deriver: &TokenDeriver,
    ) -> Result<String, ClientFileError> {
        let i = self
            .position(client_id)
            .ok_or_else(|| ClientFileError::Missing(client_id.to_owned()))?;
        let (token, salt) = new_token(client_id, deriver);
        let client = &mut self.records.clients[i];
        client.access_token_hash = hash_token(&token);
        client.token_salt = Some(salt);
        self.save()?;
        Ok(token)
    }

    fn position(&self, client_id: &str) -> Option<usize> {
        self.records
            .clients
            .iter()
            .position(|c| c.client_id == client_id)
    }

    fn save(&self) -> Result<(), ClientFileError> {
        let text = toml::to_string(&self.records)
            .map_err(|_| ClientFileError::Damaged(self.path.clone()))?;
        Ok(write_private(&self.path, &text)?)
    }
}

fn new_token(client_id: &str, deriver: &TokenDeriver) -> (String, String) {
    let salt = TokenDeriver::generate_salt();
    (deriver.token(client_id, &salt), salt)
}

/// Taskcluster's client id alphabet; `root` belongs to the data dir's root client.
fn valid_id(id: &str) -> bool {
    (1..=256).contains(&id.len())
        && id != ROOT_CLIENT_ID
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!@/:.+|_-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KEY_LEN;

    #[test]
    fn clients_are_created_reset_and_deleted_with_only_hashes_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clients.toml");
        let deriver = TokenDeriver::new([3; KEY_LEN]);
        let mut file = ClientFile::open(&path).unwrap();

        let token = file.create("ci", vec!["hooks:*".into()], &deriver).unwrap();
        let reopened = ClientFile::open(&path).unwrap();
        let stored = &reopened.clients()[0];
        assert_eq!(stored.access_token_hash, hash_token(&token));
        assert_eq!(
            deriver.token("ci", stored.token_salt.as_deref().unwrap()),
            token
        );
        assert!(!fs::read_to_string(&path).unwrap().contains(&token));

        let new = file.reset("ci", &deriver).unwrap();
        assert_ne!(new, token);
        assert_eq!(
            ClientFile::open(&path).unwrap().clients()[0].access_token_hash,
            hash_token(&new)
        );
        file.delete("ci").unwrap();
        assert!(ClientFile::open(&path).unwrap().clients().is_empty());
    }

    #[test]
    fn duplicates_unknown_ids_and_bad_ids_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let deriver = TokenDeriver::new([3; KEY_LEN]);
        let mut file = ClientFile::open(&dir.path().join("clients.toml")).unwrap();
        file.create("ci", vec![], &deriver).unwrap();
        assert!(matches!(
            file.create("ci", vec![], &deriver),
            Err(ClientFileError::Exists(_))
        ));
        for bad in ["root", "", "a b", "ü"] {
            assert!(
                matches!(
                    file.create(bad, vec![], &deriver),
                    Err(ClientFileError::BadId(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            file.delete("nobody"),
            Err(ClientFileError::Missing(_))
        ));
        assert!(matches!(
            file.reset("nobody", &deriver),
            Err(ClientFileError::Missing(_))
        ));
    }
}
