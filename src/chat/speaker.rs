//! Who is speaking: a chat user as a principal, and the scopes the configured roles give them.
//!
//! A chat user has no credentials of their own; the platform vouches for them (a Matrix
//! homeserver, a signed slash command). Their scopes are what the role
//! `chat-user:<platform>:<user id>` grants, plus the anonymous role, so an unmapped user holds
//! only what everyone holds. Star roles work as everywhere (`chat-user:slack:T01*`), and since
//! Matrix ids end with their server, a chat-user role may also hold its one star before a
//! fixed end: `chat-user:matrix:*:example.org` is every user of that homeserver.

use crate::domain::{Roles, ScopeSet};

/// The prefix of every chat user's role.
const ROLE_PREFIX: &str = "chat-user:";

/// A chat user on one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speaker {
    /// `matrix`, `slack` or `mattermost`.
    pub platform: &'static str,
    /// The platform's id of the user (`@alice:example.org`, `U024BE7LH`).
    pub user_id: String,
}

impl Speaker {
    /// The principal the user acts as: `chat:<platform>:<user id>`, a fire's caller.
    pub fn principal(&self) -> String {
        format!("chat:{}:{}", self.platform, self.user_id)
    }

    /// What the user may do: the role `chat-user:<platform>:<user id>` and every chat-user role
    /// whose inner star matches it, expanded.
    pub fn scopes(&self, roles: &Roles) -> ScopeSet {
        let own = format!("{ROLE_PREFIX}{}:{}", self.platform, self.user_id);
        let mut assumed = vec![format!("assume:{own}")];
        assumed.extend(
            roles
                .ids()
                .filter(|id| id.starts_with(ROLE_PREFIX) && inner_star_matches(id, &own))
                .map(|id| format!("assume:{id}")),
        );
        roles.expand(&assumed)
    }
}

/// Whether `pattern`, holding one star that is not its last character, matches `name`.
fn inner_star_matches(pattern: &str, name: &str) -> bool {
    let Some((head, tail)) = pattern.split_once('*') else {
        return false;
    };
    !tail.is_empty()
        && !tail.contains('*')
        && name.len() >= head.len() + tail.len()
        && name.starts_with(head)
        && name.ends_with(tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn matrix(user: &str) -> Speaker {
        Speaker {
            platform: "matrix",
            user_id: user.into(),
        }
    }

    #[test]
    fn own_star_and_anonymous_roles_give_a_chat_user_scopes() {
        let roles = Roles::new(vec![
            Role {
                role_id: "chat-user:matrix:*:example.org".into(),
                scopes: vec!["hooks:trigger-hook:ci/*".into()],
            },
            Role {
                role_id: "chat-user:matrix:@bob:*".into(),
                scopes: vec!["bob".into()],
            },
            Role {
                role_id: "anonymous".into(),
                scopes: vec!["hooks:status:ci/*".into()],
            },
        ]);
        let alice = matrix("@alice:example.org");
        assert_eq!(alice.principal(), "chat:matrix:@alice:example.org");
        assert!(alice
            .scopes(&roles)
            .satisfies("hooks:trigger-hook:ci/deploy"));
        assert!(!alice.scopes(&roles).satisfies("bob"));
        assert!(matrix("@bob:elsewhere.org").scopes(&roles).satisfies("bob"));
        let mallory = matrix("@mallory:evil.example.org");
        assert!(!mallory
            .scopes(&roles)
            .satisfies("hooks:trigger-hook:ci/deploy"));
        assert!(mallory.scopes(&roles).satisfies("hooks:status:ci/deploy"));
    }
}
