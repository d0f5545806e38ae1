//! Which hooks a set of scopes reaches, as a filter a store can run in its own query language.
//!
//! A per-hook scope such as `hooks:get:<group>:<id>` is checked one hook at a time everywhere
//! else; a listing over 100,000 hooks instead asks the store for the hooks a client may read, so
//! the check has to become a filter on the key. Group ids hold neither `:` nor `/` (the
//! separators Taskcluster's hook scopes use), so every held scope that grants some
//! `<action><group><separator><id>` is one of three shapes, and their union is exact: a prefix
//! of the group (`hooks:get:a*`, or `hooks:get:*` for all), a group and a prefix of the id
//! (`hooks:get:a:nightly/*`), or one key.
//!
//! Owns: [`KeyFilter`] and how it is derived from a [`ScopeSet`]. Leaves to others: which
//! action a listing needs (`api`), and running the filter (each store backend).

use super::{HookKey, ScopeSet};

/// One shape of held scope, as a condition on a hook's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPattern {
    /// Every hook whose group starts with this (every hook when empty).
    GroupPrefix(String),
    /// Every hook of `group` whose id starts with `id_prefix`.
    IdPrefix {
        /// The group, exactly.
        group: String,
        /// The start of the hook id.
        id_prefix: String,
    },
    /// One hook.
    Key {
        /// The group.
        group: String,
        /// The hook id.
        id: String,
    },
}

impl KeyPattern {
    /// Whether the hook `key` matches.
    pub fn admits(&self, key: &HookKey) -> bool {
        let (g, i) = (key.group.as_str(), key.id.as_str());
        match self {
            Self::GroupPrefix(prefix) => g.starts_with(prefix.as_str()),
            Self::IdPrefix { group, id_prefix } => g == group && i.starts_with(id_prefix.as_str()),
            Self::Key { group, id } => g == group && i == id,
        }
    }
}

/// The hooks a filter admits: those matching any of its patterns (none when it has none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    patterns: Vec<KeyPattern>,
}

impl KeyFilter {
    /// Every hook.
    pub fn all() -> Self {
        Self {
            patterns: vec![KeyPattern::GroupPrefix(String::new())],
        }
    }

    /// The hooks for which `scopes` grant `<action><group><separator><id>` (e.g. `hooks:get:`
    /// and `:`): exactly those, no more and no fewer. `separator` is a character no group id
    /// holds.
    pub fn granted(scopes: &ScopeSet, action: &str, separator: char) -> Self {
        let mut patterns = Vec::new();
        for held in scopes.as_slice() {
            let pattern = match held.strip_suffix('*') {
                // `*`, `hooks:*`, `hooks:get:*`: everything.
                Some(prefix) if action.starts_with(prefix) => {
                    KeyPattern::GroupPrefix(String::new())
                }
                Some(prefix) => match prefix.strip_prefix(action) {
                    None => continue,
                    Some(rest) => match rest.split_once(separator) {
                        None => KeyPattern::GroupPrefix(rest.to_owned()),
                        Some((group, id_prefix)) => KeyPattern::IdPrefix {
                            group: group.to_owned(),
                            id_prefix: id_prefix.to_owned(),
                        },
                    },
                },
                None => match held
                    .strip_prefix(action)
                    .and_then(|r| r.split_once(separator))
                {
                    None => continue,
                    Some((group, id)) => KeyPattern::Key {
                        group: group.to_owned(),
                        id: id.to_owned(),
                    },
                },
            };
            if pattern == KeyPattern::GroupPrefix(String::new()) {
                return Self::all();
            }
            patterns.push(pattern);
        }
        Self { patterns }
    }

    /// Its patterns; a store ORs them.
    pub fn patterns(&self) -> &[KeyPattern] {
        &self.patterns
    }

    /// Whether it admits no hook at all, so a store need not be asked.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether it admits every hook, so a store need not filter.
    pub fn is_all(&self) -> bool {
        self.patterns == [KeyPattern::GroupPrefix(String::new())]
    }

    /// Whether it admits the hook `key`.
    pub fn admits(&self, key: &HookKey) -> bool {
        self.patterns.iter().any(|p| p.admits(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{scopes::satisfies, HookGroupId, HookId};

    fn key(group: &str, id: &str) -> HookKey {
        HookKey {
            group: HookGroupId::parse(group).unwrap(),
            id: HookId::parse(id).unwrap(),
        }
    }

    #[test]
    fn the_filter_admits_exactly_the_hooks_the_scopes_grant() {
        let keys = [
            key("a", "h"),
            key("a", "nightly/x"),
            key("ab", "h"),
            key("b", "h"),
            key("b", "h2"),
            key("c", "x"),
        ];
        let cases: &[&[&str]] = &[
            &[],
            &["*"],
            &["hooks:*"],
            &["hooks:get:*"],
            &["hooks:get:a*"],
            &["hooks:get:a:*"],
            &["hooks:get:a:nightly/*"],
            &["hooks:get:b:h"],
            &["hooks:get:b:h*", "hooks:get:c:x"],
            &["hooks:get:b"],
            &["hooks:get:", "hooks:gets:*", "hooks:status:*", "assume:x"],
            &["hooks:get:a:h:*", "hooks:get:*:h"],
            &["hooks:get:a/nightly/*", "hooks:get:b/h", "hooks:get:a/*"],
        ];
        for held in cases {
            let scopes = ScopeSet::new(held.iter().map(|s| (*s).to_owned()).collect());
            for separator in [':', '/'] {
                let filter = KeyFilter::granted(&scopes, "hooks:get:", separator);
                for k in &keys {
                    let required = format!("hooks:get:{}{separator}{}", k.group, k.id);
                    let granted = held.iter().any(|h| satisfies(h, &required));
                    assert_eq!(
                        filter.admits(k),
                        granted,
                        "{held:?} on {k} with {separator}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_star_over_the_action_is_all_and_no_scope_is_empty() {
        let all = ScopeSet::new(vec!["hooks:get:a:h".into(), "hooks:g*".into()]);
        assert!(KeyFilter::granted(&all, "hooks:get:", ':').is_all());
        assert!(KeyFilter::granted(&ScopeSet::default(), "hooks:get:", ':').is_empty());
    }
}
