//! The root client: the built-in administrator with scope `*`, kept in the data dir.
//!
//! A first start creates it, so a fresh install needs no configuration: its token is derived
//! from the client key with a new salt (see [`crate::clients::tokens`]) and shown once; only the
//! token's hash and salt are stored. A token given explicitly replaces the stored one.

use serde::{Deserialize, Serialize};

use crate::clients::tokens::TokenDeriver;
use crate::clients::{hash_token, ClientConfig};
use crate::data_dir::{write_private, DataDir, DataDirError};

/// The client id of the built-in administrator.
pub const ROOT_CLIENT_ID: &str = "root";

/// The root client's file in the data dir.
const ROOT_FILE: &str = "root-client.toml";

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

impl RootClient {
    /// The root client of `data_dir`. An explicit token replaces the stored one; without one,
    /// the stored hash is used, and on first start a token is derived from `deriver` with a new
    /// salt.
    ///
    /// # Errors
    /// [`DataDirError`] when the root file cannot be read, written or parsed.
    pub fn load(
        data_dir: &DataDir,
        explicit_token: Option<&str>,
        deriver: &TokenDeriver,
    ) -> Result<Self, DataDirError> {
        let path = data_dir.file(ROOT_FILE);
        let (file, new_token) = match (explicit_token, data_dir.read(&path)?) {
            (Some(token), _) => (
                RootFile {
                    access_token_hash: hash_token(token),
                    token_salt: None,
                },
                None,
            ),
            (None, Some(text)) => (
                toml::from_str(&text).map_err(|_| DataDirError::Damaged(path.clone()))?,
                None,
            ),
            (None, None) => {
                let salt = TokenDeriver::generate_salt();
                let token = deriver.token(ROOT_CLIENT_ID, &salt);
                let file = RootFile {
                    access_token_hash: hash_token(&token),
                    token_salt: Some(salt),
                };
                (file, Some(token))
            }
        };
        let text = toml::to_string(&file).map_err(|_| DataDirError::Damaged(path.clone()))?;
        write_private(&path, &text)?;
        Ok(Self {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KEY_LEN;

    #[test]
    fn a_root_token_is_generated_once_and_an_explicit_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let deriver = TokenDeriver::new([7; KEY_LEN]);
        let first = RootClient::load(&data, None, &deriver).unwrap();
        let token = first.new_token.expect("first start generates a token");
        assert_eq!(first.config.access_token_hash, hash_token(&token));
        let salt = first
            .config
            .token_salt
            .expect("a generated token is derived");
        assert_eq!(deriver.token(ROOT_CLIENT_ID, &salt), token);
        let again = RootClient::load(&data, None, &deriver).unwrap();
        assert!(again.new_token.is_none());
        assert_eq!(again.config.access_token_hash, hash_token(&token));
        let set = RootClient::load(&data, Some("chosen"), &deriver).unwrap();
        assert_eq!(set.config.access_token_hash, hash_token("chosen"));
        assert_eq!(set.explicit_token.as_deref(), Some("chosen"));
        assert_eq!(
            RootClient::load(&data, None, &deriver)
                .unwrap()
                .config
                .access_token_hash,
            hash_token("chosen")
        );
    }
}
