//! API clients: who may call, with which secret, holding which scopes.
//!
//! Access tokens are stored only as SHA-256 hashes. Tokens are long random strings, not
//! passwords, so a fast hash is enough: there is no dictionary to attack.

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
}

/// The configured clients, with their scopes already expanded through roles.
pub struct ClientRegistry {
    clients: HashMap<String, Client>,
    anonymous: ScopeSet,
}

impl ClientRegistry {
    /// Builds the registry. Requests without credentials get the scopes of role `anonymous`.
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
            };
            if clients.insert(config.client_id.clone(), client).is_some() {
                return Err(ClientError::Duplicate(config.client_id.clone()));
            }
        }
        let anonymous = roles.expand(&["assume:anonymous".to_owned()]);
        Ok(Self { clients, anonymous })
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
    fn anonymous_requests_get_the_anonymous_role() {
        let roles = Roles::new(vec![Role {
            role_id: "anonymous".into(),
            scopes: vec!["hooks:list-hooks:".into()],
        }]);
        let registry = ClientRegistry::new(&[], &roles).unwrap();
        assert!(registry.anonymous().satisfies("hooks:list-hooks:"));
    }
}
