//! Scope satisfaction and role expansion, with Taskcluster's rules: the one scope algebra of
//! hookd (callers, hooks' owner scopes, rendered tasks' scopes all go through it).
//!
//! A held scope ending in `*` satisfies every scope that starts with the part before the star.
//! `assume:<role>` grants the role's scopes, recursively, and every holder also holds
//! `assume:anonymous`, as every Taskcluster caller does. A role id may end in `*`: it then
//! applies to every assumed name with that prefix, and `<..>` in its scopes stands for the part
//! of the name the star matched (parameterized roles, [`Roles::expand`]).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// The role's name; a trailing `*` makes it apply to every name with that prefix.
    pub role_id: String,
    /// What the role grants; in a role whose id ends in `*`, the first `<..>` of a scope is
    /// replaced by the part of the assumed name that the star matched.
    pub scopes: Vec<String>,
}

/// The role every caller assumes, with credentials or without.
const ANONYMOUS_ROLE: &str = "anonymous";

/// Where a role's parameter goes in its scopes.
const PARAMETER: &str = "<..>";

/// All configured roles.
#[derive(Debug, Clone, Default)]
pub struct Roles(Vec<Role>);

/// Expansion stops once a set holds this many scopes. Without parameters every expansion is
/// finite (it only ever adds role scopes, each once), but a parameterized role that assumes a
/// longer name under its own prefix (`a*` granting `assume:ab<..>`) grows without end;
/// Taskcluster refuses such cycles when a role is written, hookd's roles come from
/// configuration, so it stops here instead of hanging. Real sets are far smaller.
const MAX_EXPANDED_SCOPES: usize = 10_000;

impl Roles {
    /// Wraps the configured roles.
    pub fn new(roles: Vec<Role>) -> Self {
        Self(roles)
    }

    /// The configured role ids, in configuration order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|role| role.role_id.as_str())
    }

    /// What a holder of `scopes` holds: those scopes, `assume:anonymous`, and everything the
    /// roles they can assume grant, recursively, until nothing new is added.
    ///
    /// A held `assume:` scope reaches a role when it satisfies `assume:<roleId>`, or when the
    /// role id ends in `*` and the held scope assumes a name with the role's prefix; every
    /// matching role applies, not only the most specific one.
    pub fn expand(&self, scopes: &[String]) -> ScopeSet {
        let mut held: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let anonymous = format!("assume:{ANONYMOUS_ROLE}");
        // Breadth first, so that when a runaway expansion is cut off, every role reachable in
        // few steps has been applied.
        let mut pending: VecDeque<String> = scopes.iter().cloned().chain([anonymous]).collect();
        while let Some(scope) = pending.pop_front() {
            if held.len() >= MAX_EXPANDED_SCOPES {
                break;
            }
            if !seen.insert(scope.clone()) {
                continue;
            }
            for role in &self.0 {
                if let Some(parameter) = role_parameter(&scope, &role.role_id) {
                    pending.extend(
                        role.scopes
                            .iter()
                            .map(|s| substitute(s, parameter.as_deref())),
                    );
                }
            }
            held.push(scope);
        }
        ScopeSet(held.into())
    }
}

/// Whether the held scope `held` reaches role `role_id`: `None` when it does not,
/// `Some(None)` for a role without a parameter, and `Some(Some(p))` for a role ending in `*`,
/// with `p` the part of the assumed name its star matched.
///
/// A held scope ending in `*` assumes a whole family of names; its parameter keeps the star
/// (`assume:project:ops*` gives `ops*` to `project:*`), and when the family is wider than the
/// role's prefix (`assume:proj*`) the star matched everything: the parameter is `*`.
fn role_parameter(held: &str, role_id: &str) -> Option<Option<String>> {
    let Some(role_prefix) = role_id.strip_suffix('*') else {
        return satisfies(held, &format!("assume:{role_id}")).then_some(None);
    };
    let pattern = format!("assume:{role_prefix}");
    let parameter = match held.strip_suffix('*') {
        Some(family) => match family.strip_prefix(pattern.as_str()) {
            Some(rest) => format!("{rest}*"),
            None if pattern.starts_with(family) => "*".to_owned(),
            None => return None,
        },
        None => held.strip_prefix(pattern.as_str())?.to_owned(),
    };
    Some(Some(parameter))
}

/// `scope` with its first `<..>` replaced by `parameter`. A parameter ending in `*` already
/// covers whatever followed `<..>`, so that rest is dropped (`a:<..>/b` with `x*` is `a:x*`,
/// which is what `assume` of every name in the family would have granted together).
fn substitute(scope: &str, parameter: Option<&str>) -> String {
    let (Some(parameter), Some(at)) = (parameter, scope.find(PARAMETER)) else {
        return scope.to_owned();
    };
    let rest = if parameter.ends_with('*') {
        ""
    } else {
        &scope[at + PARAMETER.len()..]
    };
    format!("{}{parameter}{rest}", &scope[..at])
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

    #[test]
    fn every_holder_assumes_the_anonymous_role() {
        let roles = Roles::new(vec![role("anonymous", &["hooks:list-hooks:"])]);
        assert!(roles.expand(&[]).satisfies("hooks:list-hooks:"));
        assert!(roles
            .expand(&strings(&["hooks:get:*"]))
            .satisfies("hooks:list-hooks:"));
    }

    #[test]
    fn a_parameterized_role_puts_the_matched_suffix_in_its_scopes() {
        let roles = Roles::new(vec![role(
            "project:*",
            &["hooks:get:<..>:*", "secrets:<..>/x", "plain"],
        )]);
        let set = roles.expand(&strings(&["assume:project:foo"]));
        assert!(set.satisfies("hooks:get:foo:nightly"));
        assert!(set.satisfies("secrets:foo/x") && set.satisfies("plain"));
        assert!(!set.satisfies("hooks:get:bar:nightly"));
        assert!(!set.satisfies("secrets:foo/y"));
    }

    #[test]
    fn a_star_in_the_parameter_swallows_the_rest_of_the_scope() {
        let roles = Roles::new(vec![role("project:*", &["secrets:<..>/x"])]);
        let family = roles.expand(&strings(&["assume:project:ops*"]));
        assert!(family.satisfies("secrets:ops-dns/y"));
        assert!(!family.satisfies("secrets:web/x"));
        // A family wider than the role's prefix matched everything.
        let wider = roles.expand(&strings(&["assume:proj*"]));
        assert!(wider.satisfies("secrets:anything"));
    }

    #[test]
    fn every_matching_role_applies_and_parameters_recurse() {
        let roles = [
            role("project:*", &["assume:team:<..>/dev"]),
            role("project:foo", &["exact"]),
            role("team:*", &["queue:route:<..>.*"]),
        ];
        let set = Roles::new(roles.to_vec()).expand(&strings(&["assume:project:foo"]));
        for (scope, granted) in [
            ("exact", true),
            ("queue:route:foo/dev.anything", true),
            ("queue:route:bar/dev.x", false),
        ] {
            assert_eq!(set.satisfies(scope), granted, "{scope}");
        }
    }

    #[test]
    fn parameterized_growth_stops() {
        let roles = Roles::new(vec![role("a*", &["assume:ab<..>", "assume:ac<..>"])]);
        let set = roles.expand(&strings(&["assume:ax"]));
        assert!(set.as_slice().len() <= MAX_EXPANDED_SCOPES);
        assert!(set.satisfies("assume:abx"));
    }
}
