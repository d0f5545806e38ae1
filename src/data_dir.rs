//! The data directory's small files: the trigger-token key and the root client.
//!
//! A first start creates both, so a fresh install needs no configuration: the key is random,
//! and the root client's token is random and shown once. Only the token's hash is kept.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clients::tokens::TokenDeriver;
use crate::clients::{hash_token, ClientConfig};
use crate::crypto::{parse_key, TokenCipher, KEY_LEN};

const KEY_FILE: &str = "trigger-token.key";
const CLIENT_KEY_FILE: &str = "client-token.key";
const ROOT_FILE: &str = "root-client.toml";
const STORE_FILE: &str = "hookd.sqlite3";
const CLIENTS_FILE: &str = "clients.toml";
/// The client id of the built-in administrator.
pub const ROOT_CLIENT_ID: &str = "root";

/// Why the data directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// A file could not be read or written.
    #[error("cannot use {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file has unexpected contents.
    #[error("{0} is damaged; remove it to have it recreated")]
    Damaged(PathBuf),
}

/// The root client file: the hash of its token and, for a generated token, its salt.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RootFile {
    access_token_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_salt: Option<String>,
}

/// The root client, and its token when this start created it (to be shown once).
pub struct RootClient {
    /// The client as the registry should know it.
    pub config: ClientConfig,
    /// The generated token, present only when it was created just now.
    pub new_token: Option<String>,
    /// The token given explicitly, which makes root able to sign with Hawk.
    pub explicit_token: Option<String>,
}

/// An opened data directory.
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// Opens `path`, creating it if needed.
    ///
    /// # Errors
    /// [`DataDirError::Io`] when it cannot be created.
    pub fn open(path: &Path) -> Result<Self, DataDirError> {
        fs::create_dir_all(path).map_err(io_error(path))?;
        Ok(Self {
            path: path.to_owned(),
        })
    }

    /// Where the embedded store lives.
    pub fn store_path(&self) -> PathBuf {
        self.path.join(STORE_FILE)
    }

    /// Where `hookd client` keeps its clients (see [`crate::clients::file`]).
    pub fn clients_path(&self) -> PathBuf {
        self.path.join(CLIENTS_FILE)
    }

    /// The trigger-token key, created on first use.
    ///
    /// # Errors
    /// [`DataDirError`] when the key file cannot be read, written or parsed.
    pub fn token_key(&self) -> Result<[u8; KEY_LEN], DataDirError> {
        self.key_file(KEY_FILE)
    }

    /// The key that derives client access tokens (see [`crate::clients::tokens`]), created on
    /// first use.
    ///
    /// # Errors
    /// [`DataDirError`] when the key file cannot be read, written or parsed.
    pub fn client_key(&self) -> Result<[u8; KEY_LEN], DataDirError> {
        self.key_file(CLIENT_KEY_FILE)
    }

    fn key_file(&self, name: &str) -> Result<[u8; KEY_LEN], DataDirError> {
        let path = self.path.join(name);
        match fs::read_to_string(&path) {
            Ok(text) => parse_key(&text).map_err(|_| DataDirError::Damaged(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = TokenCipher::generate_key();
                write_private(&path, &hex::encode(key))?;
                Ok(key)
            }
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// The root client. An explicit token replaces the stored one; without one, the stored
    /// hash is used, and on first start a token is derived from `deriver` with a new salt.
    ///
    /// # Errors
    /// [`DataDirError`] when the root file cannot be read, written or parsed.
    pub fn root_client(
        &self,
        explicit_token: Option<&str>,
        deriver: &TokenDeriver,
    ) -> Result<RootClient, DataDirError> {
        let path = self.path.join(ROOT_FILE);
        let (file, new_token) = match (explicit_token, fs::read_to_string(&path)) {
            (Some(token), _) => (
                RootFile {
                    access_token_hash: hash_token(token),
                    token_salt: None,
                },
                None,
            ),
            (None, Ok(text)) => (
                toml::from_str(&text).map_err(|_| DataDirError::Damaged(path.clone()))?,
                None,
            ),
            (None, Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                let salt = TokenDeriver::generate_salt();
                let token = deriver.token(ROOT_CLIENT_ID, &salt);
                let file = RootFile {
                    access_token_hash: hash_token(&token),
                    token_salt: Some(salt),
                };
                (file, Some(token))
            }
            (None, Err(e)) => return Err(io_error(&path)(e)),
        };
        let text = toml::to_string(&file).map_err(|_| DataDirError::Damaged(path.clone()))?;
        write_private(&path, &text)?;
        Ok(RootClient {
            config: ClientConfig {
                client_id: ROOT_CLIENT_ID.to_owned(),
                access_token_hash: file.access_token_hash,
                scopes: vec!["*".to_owned()],
                token_salt: file.token_salt,
            },
            new_token,
            explicit_token: explicit_token.map(str::to_owned),
        })
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes a secret-bearing file readable by its owner only, replacing it atomically.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), DataDirError> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io_error(&tmp))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(&tmp))?;
    fs::rename(&tmp, path).map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let first = data.token_key().unwrap();
        assert_eq!(data.token_key().unwrap(), first);
    }

    #[test]
    fn a_root_token_is_generated_once_and_an_explicit_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let deriver = TokenDeriver::new([7; KEY_LEN]);
        let first = data.root_client(None, &deriver).unwrap();
        let token = first.new_token.expect("first start generates a token");
        assert_eq!(first.config.access_token_hash, hash_token(&token));
        let salt = first
            .config
            .token_salt
            .expect("a generated token is derived");
        assert_eq!(deriver.token(ROOT_CLIENT_ID, &salt), token);
        let again = data.root_client(None, &deriver).unwrap();
        assert!(again.new_token.is_none());
        assert_eq!(again.config.access_token_hash, hash_token(&token));
        let set = data.root_client(Some("chosen"), &deriver).unwrap();
        assert_eq!(set.config.access_token_hash, hash_token("chosen"));
        assert_eq!(set.explicit_token.as_deref(), Some("chosen"));
        assert_eq!(
            data.root_client(None, &deriver)
                .unwrap()
                .config
                .access_token_hash,
            hash_token("chosen")
        );
    }
}
