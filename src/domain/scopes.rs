//! Scope satisfaction and role expansion, with Taskcluster's rules.
//!
//! A held scope ending in `*` satisfies every scope that starts with the part before the star.
//! `assume:<role>` grants the role's scopes, recursively. A role id may itself end in `*`, in
//! which case it applies to every role name with that prefix (`hook-id:nightly/*`).

use std::sync::Arc;

use serde::Deserialize;

/// True when `held` grants `required`.
pub fn satisfies(held: &str, required: &str) -> bool {
    match held.strip_suffix('*') {
        Some(prefix) => required.starts_with(prefix),
        None => held == required,
    }
}

/// A set of scopes a client (or hook) holds, already expanded through roles. Shared, not
/// copied: every authenticated request takes its client's set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Arc<[String]>);

impl ScopeSet {
    /// Wraps scopes without expanding them; use [`Roles::expand`] for client scopes.
    pub fn new(scopes: Vec<String>) -> Self {
        Self(scopes.into())
    }

    /// True when some held scope grants `required`.
    pub fn satisfies(&self, required: &str) -> bool {
        self.0.iter().any(|held| satisfies(held, required))
    }

    /// The scopes from `required` that this set does not grant, in their original order.
    pub fn missing<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        required
            .into_iter()
            .filter(|scope| !self.satisfies(scope))
            .map(str::to_owned)
            .collect()
    }

    /// The held scopes.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// A named bundle of scopes, granted to whoever holds `assume:<roleId>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// The role's name; a trailing `*` makes it apply to every name with that prefix.
    pub role_id: String,
    /// What the role grants.
    pub scopes: Vec<String>,
}

/// All configured roles.
#[derive(Debug, Clone, Default)]
pub struct Roles(Vec<Role>);

/// Expansion stops after this many rounds; a configuration with deeper chains than this is
/// almost certainly a cycle, and every round only ever adds scopes, so stopping is safe.
const MAX_EXPANSION_ROUNDS: usize = 32;

impl Roles {
    /// Wraps the configured roles.
    pub fn new(roles: Vec<Role>) -> Self {
        Self(roles)
    }

    /// Expands `scopes` through every role they can assume, until nothing new is added.
    pub fn expand(&self, scopes: &[String]) -> ScopeSet {
        let mut held: Vec<String> = scopes.to_vec();
        for _ in 0..MAX_EXPANSION_ROUNDS {
            let granted = self.granted_by(&held);
            let before = held.len();
            for scope in granted {
                if !held.contains(&scope) {
                    held.push(scope);
                }
            }
            if held.len() == before {
                break;
            }
        }
        ScopeSet(held.into())
    }

    /// Scopes of every role that `held` can assume in one step.
    fn granted_by(&self, held: &[String]) -> Vec<String> {
        self.0
            .iter()
            .filter(|role| held.iter().any(|h| can_assume(h, &role.role_id)))
            .flat_map(|role| role.scopes.iter().cloned())
            .collect()
    }
}

/// True when the held scope `held` grants role `role_id`.
///
/// Either the held scope covers `assume:<role_id>` directly, or the role id ends in `*` and the
/// held scope assumes a name inside the role's prefix.
fn can_assume(held: &str, role_id: &str) -> bool {
    let assume = format!("assume:{role_id}");
    if satisfies(held, &assume) {
        return true;
    }
    match (role_id.strip_suffix('*'), held.strip_prefix("assume:")) {
        (Some(role_prefix), Some(assumed)) => assumed.starts_with(role_prefix),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(id: &str, scopes: &[&str]) -> Role {
        Role {
            role_id: id.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_scopes_satisfy_only_themselves() {
        assert!(satisfies("hooks:get:a:b", "hooks:get:a:b"));
        assert!(!satisfies("hooks:get:a:b", "hooks:get:a:bc"));
        assert!(!satisfies("hooks:get:a:bc", "hooks:get:a:b"));
    }

    #[test]
    fn a_trailing_star_satisfies_its_prefix() {
        assert!(satisfies("*", "anything"));
        assert!(satisfies("hooks:*", "hooks:get:a:b"));
        assert!(satisfies("hooks:get:a:*", "hooks:get:a:"));
        assert!(!satisfies("hooks:get:a:*", "hooks:get:b:x"));
        // A star in the middle is literal.
        assert!(!satisfies("hooks:*:a", "hooks:get:a"));
    }

    #[test]
    fn missing_lists_every_unsatisfied_scope_in_order() {
        let set = ScopeSet::new(strings(&["a:*", "b"]));
        assert_eq!(set.missing(["a:1", "c", "b", "d"]), strings(&["c", "d"]));
    }

    #[test]
    fn assume_expands_recursively() {
        let roles = Roles::new(vec![
            role("team", &["assume:base", "hooks:get:*"]),
            role("base", &["queue:create-task:*"]),
        ]);
        let set = roles.expand(&strings(&["assume:team"]));
        assert!(set.satisfies("hooks:get:x:y"));
        assert!(set.satisfies("queue:create-task:low"));
        assert!(!set.satisfies("hooks:modify-hook:x/y"));
    }

    #[test]
    fn star_role_ids_apply_to_every_name_with_their_prefix() {
        let roles = Roles::new(vec![role("hook-id:nightly/*", &["queue:route:nightly.*"])]);
        let set = roles.expand(&strings(&["assume:hook-id:nightly/linux"]));
        assert!(set.satisfies("queue:route:nightly.linux"));
        let other = roles.expand(&strings(&["assume:hook-id:release/linux"]));
        assert!(!other.satisfies("queue:route:nightly.linux"));
    }

    #[test]
    fn a_star_scope_assumes_every_matching_role() {
        let roles = Roles::new(vec![role("hook-id:a/b", &["secret:x"])]);
        assert!(roles
            .expand(&strings(&["assume:hook-id:*"]))
            .satisfies("secret:x"));
        assert!(roles.expand(&strings(&["*"])).satisfies("secret:x"));
    }

    #[test]
    fn cyclic_roles_terminate() {
        let roles = Roles::new(vec![
            role("a", &["assume:b", "x"]),
            role("b", &["assume:a", "y"]),
        ]);
        let set = roles.expand(&strings(&["assume:a"]));
        assert!(set.satisfies("x") && set.satisfies("y"));
    }
}
