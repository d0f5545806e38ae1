//! API clients: who may call, with which secret, holding which scopes.
//!
//! Access tokens are stored only as SHA-256 hashes. Tokens are long random strings, not
//! passwords, so a fast hash is enough: there is no dictionary to attack.
//!
//! Owns: the [`ClientRegistry`] (bearer and Hawk credentials, scopes expanded through roles),
//! the `hookd client` file ([`file`]), derived access tokens ([`tokens`]) and the built-in root
//! client ([`root`]). Leaves to others: the scope algebra and roles (`domain::scopes`), checking a
//! request's credentials (`api::auth`), key files on disk (`data_dir`).

pub mod file;
pub mod root;
pub mod tokens;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::{Roles, ScopeSet};

const HASH_PREFIX: &str = "sha256:";

/// One client as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientConfig {
    /// The client's name.
    pub client_id: String,
    /// `sha256:<hex>` of the access token; see [`hash_token`].
    pub access_token_hash: String,
    /// Scopes the client holds, before role expansion.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Salt of a derived token (see `crate::clients::tokens`); such clients may sign with Hawk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_salt: Option<String>,
}

/// Why a client configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The hash is not `sha256:` and 64 hex digits.
    #[error("client {0:?}: accessTokenHash must be \"sha256:\" followed by 64 hex digits")]
    BadHash(String),
    /// Two clients share a name.
    #[error("client {0:?} is configured twice")]
    Duplicate(String),
    /// A Hawk signing key was offered for a client that does not exist or whose stored hash
    /// it does not match.
    #[error("client {0:?}: the signing key does not match the stored access token hash")]
    SigningKeyMismatch(String),
}

/// `sha256:<hex>` of `token`, the form `accessTokenHash` takes.
pub fn hash_token(token: &str) -> String {
    format!(
        "{HASH_PREFIX}{}",
        hex::encode(Sha256::digest(token.as_bytes()))
    )
}

struct Client {
    token_hash: [u8; 32],
    scopes: ScopeSet,
    /// The access token itself, for clients that may sign with Hawk; see [`ClientRegistry::allow_hawk`].
    signing_key: Option<String>,
}

/// A client that may sign requests with Hawk: its access token is the MAC key.
#[derive(Clone, Copy)]
pub struct SigningClient<'a> {
    /// The access token, used as the HMAC key.
    pub access_token: &'a str,
    /// The client's scopes, expanded through roles.
    pub scopes: &'a ScopeSet,
}

/// The configured clients, with their scopes already expanded through roles.
pub struct ClientRegistry {
    clients: HashMap<String, Client>,
    anonymous: ScopeSet,
    roles: Roles,
}

impl ClientRegistry {
    /// Builds the registry. Requests without credentials get the scopes of role `anonymous`,
    /// which every other caller holds too.
    ///
    /// # Errors
    /// [`ClientError`] for a malformed hash or a duplicate client id.
    pub fn new(configs: &[ClientConfig], roles: &Roles) -> Result<Self, ClientError> {
        let mut clients = HashMap::new();
        for config in configs {
            let token_hash = parse_hash(&config.access_token_hash)
                .ok_or_else(|| ClientError::BadHash(config.client_id.clone()))?;
            let client = Client {
                token_hash,
                scopes: roles.expand(&config.scopes),
                signing_key: None,
            };
            if clients.insert(config.client_id.clone(), client).is_some() {
                return Err(ClientError::Duplicate(config.client_id.clone()));
            }
        }
        // Every scope set from `Roles::expand` includes the anonymous role's scopes.
        let anonymous = roles.expand(&[]);
        Ok(Self {
            clients,
            anonymous,
            roles: roles.clone(),
        })
    }

    /// Lets `client_id` sign with Hawk, keeping `access_token` in memory as its MAC key.
    ///
    /// Hawk needs the token itself, which the stored hash cannot give back; the caller knows it
    /// only for clients whose token it can reproduce (see `crate::clients::tokens`).
    ///
    /// # Errors
    /// [`ClientError::SigningKeyMismatch`] when the client is unknown or the token does not
    /// match its hash.
    pub fn allow_hawk(&mut self, client_id: &str, access_token: String) -> Result<(), ClientError> {
        let mismatch = || ClientError::SigningKeyMismatch(client_id.to_owned());
        let client = self.clients.get_mut(client_id).ok_or_else(mismatch)?;
        let presented: [u8; 32] = Sha256::digest(access_token.as_bytes()).into();
        if !bool::from(presented.ct_eq(&client.token_hash)) {
            return Err(mismatch());
        }
        client.signing_key = Some(access_token);
        Ok(())
    }

    /// `client_id`'s MAC key and scopes, when it may sign with Hawk.
    pub fn signing_client(&self, client_id: &str) -> Option<SigningClient<'_>> {
        let client = self.clients.get(client_id)?;
        Some(SigningClient {
            access_token: client.signing_key.as_deref()?,
            scopes: &client.scopes,
        })
    }

    /// Expands `scopes` through the configured roles.
    pub fn expand(&self, scopes: &[String]) -> ScopeSet {
        self.roles.expand(scopes)
    }

    /// The scopes of `client_id` when `token` is its access token.
    pub fn verify(&self, client_id: &str, token: &str) -> Option<&ScopeSet> {
        let client = self.clients.get(client_id)?;
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        bool::from(presented.ct_eq(&client.token_hash)).then_some(&client.scopes)
    }

    /// The scopes of a request without credentials.
    pub fn anonymous(&self) -> &ScopeSet {
        &self.anonymous
    }
}

fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(s.strip_prefix(HASH_PREFIX)?).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn config(id: &str, token: &str, scopes: &[&str]) -> ClientConfig {
        ClientConfig {
            client_id: id.into(),
            access_token_hash: hash_token(token),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            token_salt: None,
        }
    }

    #[test]
    fn the_right_token_yields_expanded_scopes() {
        let roles = Roles::new(vec![Role {
            role_id: "dev".into(),
            scopes: vec!["hooks:get:*".into()],
        }]);
        let registry =
            ClientRegistry::new(&[config("ci", "s3cret", &["assume:dev"])], &roles).unwrap();
        let scopes = registry.verify("ci", "s3cret").unwrap();
        assert!(scopes.satisfies("hooks:get:g:h"));
        assert!(registry.verify("ci", "wrong").is_none());
        assert!(registry.verify("nobody", "s3cret").is_none());
    }

    #[test]
    fn malformed_hashes_and_duplicates_are_refused() {
        let mut bad = config("a", "t", &[]);
        bad.access_token_hash = "plain".into();
        assert!(matches!(
            ClientRegistry::new(&[bad], &Roles::default()),
            Err(ClientError::BadHash(_))
        ));
        let twice = [config("a", "t", &[]), config("a", "u", &[])];
        assert!(matches!(
            ClientRegistry::new(&twice, &Roles::default()),
            Err(ClientError::Duplicate(_))
        ));
    }

    #[test]
    fn only_a_token_matching_the_hash_becomes_a_signing_key() {
        let mut registry =
            ClientRegistry::new(&[config("ci", "s3cret", &["a"])], &Roles::default()).unwrap();
        assert!(registry.signing_client("ci").is_none());
        assert!(matches!(
            registry.allow_hawk("ci", "wrong".into()),
            Err(ClientError::SigningKeyMismatch(_))
        ));
        assert!(registry.allow_hawk("nobody", "s3cret".into()).is_err());
        registry.allow_hawk("ci", "s3cret".into()).unwrap();
        let signing = registry.signing_client("ci").unwrap();
        assert_eq!(signing.access_token, "s3cret");
        assert!(signing.scopes.satisfies("a"));
    }

    #[test]
    fn anonymous_requests_get_the_anonymous_role() {
        let roles = Roles::new(vec![Role {
            role_id: "anonymous".into(),
            scopes: vec!["hooks:list-hooks:".into()],
        }]);
        let registry = ClientRegistry::new(&[], &roles).unwrap();
        assert!(registry.anonymous().satisfies("hooks:list-hooks:"));
    }
}
