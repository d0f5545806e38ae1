//! Declarative apply: a named set of hooks made equal to files kept in git, all at once.
//!
//! An apply is planned ([`ApplyService::plan`]: what it creates, updates, adopts and deletes,
//! refused as a whole when any hook cannot be applied as asked) and then committed
//! ([`ApplyService::commit`]): one new revision of the set, compare-and-set on the one before,
//! stored by the backend atomically (one SQLite transaction; in MongoDB the set's document is
//! the commit point and `store::roll_forward` makes the hook writes, again after a crash).
//! [`ApplyService::status`] compares the set's last apply with what is stored (drift).
//!
//! Owns: the service, the plan (`plan`), drift, the apply failpoints (`failpoint`) and the
//! check that every task template compiles (`templates`).
//! Leaves to others: request parsing and scopes (`api::apply`), hook writes outside a set and
//! the change announcements (`registry`), storage (`store`).

mod failpoint;
pub mod plan;
mod templates;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::clock::Clock;
use crate::domain::{
    ApplySetName, ApplySetRecord, ApplyWrite, ChatAlias, ChatAliasId, ChatAliasRecord, Hook,
    HookGroupId, HookKey, HookRecord, OwnedRecord,
};
use crate::registry::{ChangeKind, HookRegistry, RegistryError};
use crate::store::{self, ApplyObserver, HookStore, Made, StoreError, Unobserved};
pub use failpoint::ApplyFailpoint;
use failpoint::{stop_if, Halfway};
pub use plan::{changed_fields, Action, Change, Member, Options, Plan, Refusal};
pub use templates::{check_alias_templates, check_templates, TemplateRefused};

/// Why an apply was not made.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The files hold no hooks and the caller did not say that is meant.
    #[error("apply set {0} would be empty; an empty set (deleting all it owns, with prune) needs allowEmpty")]
    Empty(ApplySetName),
    /// The caller planned against another revision of the set.
    #[error("apply set {set} is at revision {current}, not {expected}; plan again")]
    RevisionMoved {
        /// The set.
        set: ApplySetName,
        /// The revision the caller expected.
        expected: u64,
        /// The stored revision.
        current: u64,
    },
    /// Some hooks or chat aliases cannot be applied as asked; nothing was.
    #[error("nothing was applied: {}", refusals(.hooks, .chat_aliases))]
    Refused {
        /// Why hooks were refused.
        hooks: Vec<Refusal<HookKey>>,
        /// Why chat aliases were refused.
        chat_aliases: Vec<Refusal<ChatAliasId>>,
    },
    /// Another apply of the set committed between this one's plan and its commit.
    #[error("another apply of set {0} committed first; nothing was applied, plan again")]
    Lost(ApplySetName),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A trigger token could not be sealed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The refusals of an apply as one readable list.
fn refusals(hooks: &[Refusal<HookKey>], chat_aliases: &[Refusal<ChatAliasId>]) -> String {
    let hooks = hooks.iter().map(ToString::to_string);
    let chat_aliases = chat_aliases.iter().map(|r| format!("chat alias {r}"));
    hooks.chain(chat_aliases).collect::<Vec<_>>().join("; ")
}

/// One apply, as asked.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The set.
    pub set: ApplySetName,
    /// Every hook the files define.
    pub hooks: Vec<Hook>,
    /// Every chat alias the files define.
    pub chat_aliases: Vec<ChatAlias>,
    /// Prune and force.
    pub options: Options,
    /// Whether an empty set (no hooks, no chat aliases) is meant.
    pub allow_empty: bool,
    /// Where the files came from (a git commit), recorded with the revision.
    pub source: Option<String>,
    /// The revision the caller planned against, if it did.
    pub expected_revision: Option<u64>,
    /// The client applying.
    pub applied_by: String,
}

/// A plan, with the revision it was made against.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The set's revision the plan starts from (0: the set is new).
    pub revision: u64,
    /// What the apply does to hooks.
    pub plan: Plan<Hook>,
    /// What the apply does to chat aliases.
    pub chat_aliases: Plan<ChatAlias>,
}

impl Planned {
    /// Whether the apply changes nothing.
    pub fn is_empty(&self) -> bool {
        self.plan.changes.is_empty() && self.chat_aliases.changes.is_empty()
    }
}

/// How a member differs from what its set last applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DriftState {
    /// Its definition was changed elsewhere (a forced API or UI write).
    Modified,
    /// It was removed elsewhere.
    Missing,
    /// Another set owns it now, or none does.
    Released,
}

/// One member of a set (a hook or a chat alias) that differs from the set's last apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drifted<M: Member> {
    /// The member's name fields.
    #[serde(flatten)]
    pub name: M::Name,
    /// How it differs.
    pub state: DriftState,
    /// The top-level fields that differ.
    pub fields: Vec<String>,
    /// What the set applied.
    pub applied: M,
    /// What is stored, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<M>,
}

/// The members of `applied` that differ from their `stored` records, for set `set`.
fn drift_of<M: Member>(
    set: &ApplySetName,
    applied: &[M],
    stored: &HashMap<M::Key, M::Record>,
) -> Vec<Drifted<M>> {
    applied
        .iter()
        .filter_map(|applied| {
            let key = applied.key();
            let found = stored.get(&key);
            let state = match found {
                None => DriftState::Missing,
                Some(r) if r.ownership().is_none_or(|o| &o.set != set) => DriftState::Released,
                Some(r) if M::stored(r) != applied => DriftState::Modified,
                Some(_) => return None,
            };
            let stored = found.map(M::stored);
            Some(Drifted {
                name: M::name(&key),
                state,
                fields: changed_fields(Some(applied), stored),
                applied: applied.clone(),
                stored: stored.cloned(),
            })
        })
        .collect()
}

/// A set's last apply and how the stored hooks differ from it.
#[derive(Debug, Clone)]
pub struct SetStatus {
    /// The set's record.
    pub record: ApplySetRecord,
    /// Its hooks that differ, sorted.
    pub drift: Vec<Drifted<Hook>>,
    /// Its chat aliases that differ, sorted.
    pub chat_alias_drift: Vec<Drifted<ChatAlias>>,
}

/// Plans, commits and inspects applies.
#[derive(Clone)]
pub struct ApplyService {
    store: Arc<dyn HookStore>,
    registry: HookRegistry,
    clock: Arc<dyn Clock>,
    failpoint: Option<ApplyFailpoint>,
}

impl ApplyService {
    /// A service over `store`; new hooks get their tokens and announcements from `registry`,
    /// revisions their time from `clock`. `failpoint` is for crash tests only.
    pub fn new(
        store: Arc<dyn HookStore>,
        registry: HookRegistry,
        clock: Arc<dyn Clock>,
        failpoint: Option<ApplyFailpoint>,
    ) -> Self {
        Self {
            store,
            registry,
            clock,
            failpoint,
        }
    }

    /// Plans `request` against the set's current revision (rolling a pending one forward
    /// first), without writing.
    ///
    /// # Errors
    /// [`ApplyError::Empty`], [`ApplyError::RevisionMoved`], [`ApplyError::Refused`], store
    /// failures.
    pub async fn plan(&self, request: &ApplyRequest) -> Result<Planned, ApplyError> {
        if request.hooks.is_empty() && request.chat_aliases.is_empty() && !request.allow_empty {
            return Err(ApplyError::Empty(request.set.clone()));
        }
        let previous = self.roll_forward(&request.set, &Unobserved).await?;
        let revision = previous.as_ref().map_or(0, |p| p.revision);
        if let Some(expected) = request.expected_revision.filter(|e| *e != revision) {
            return Err(ApplyError::RevisionMoved {
                set: request.set.clone(),
                expected,
                current: revision,
            });
        }
        let named = request
            .hooks
            .iter()
            .chain(previous.iter().flat_map(|p| &p.hooks))
            .map(Hook::key);
        let stored = self.stored(named).await?;
        let last_hooks = previous.as_ref().map_or(&[][..], |p| &p.hooks);
        let last_aliases = previous.as_ref().map_or(&[][..], |p| &p.chat_aliases);
        let hooks = plan::plan(
            &request.set,
            &request.hooks,
            last_hooks,
            &stored,
            request.options,
        );
        let aliases = plan::plan(
            &request.set,
            &request.chat_aliases,
            last_aliases,
            &self.stored_aliases().await?,
            request.options,
        );
        match (hooks, aliases) {
            (Ok(plan), Ok(chat_aliases)) => Ok(Planned {
                revision,
                plan,
                chat_aliases,
            }),
            (hooks, aliases) => Err(ApplyError::Refused {
                hooks: hooks.err().unwrap_or_default(),
                chat_aliases: aliases.err().unwrap_or_default(),
            }),
        }
    }

    /// The stored chat aliases: few, so all of them.
    async fn stored_aliases(&self) -> Result<HashMap<ChatAliasId, ChatAliasRecord>, StoreError> {
        let aliases = self.store.list_chat_aliases().await?;
        Ok(aliases
            .into_iter()
            .map(|record| (record.alias.alias_id.clone(), record))
            .collect())
    }

    /// Rolls set `name`'s pending writes forward (see [`store::roll_forward`]) and announces
    /// each write it made, whichever process committed them: the scheduler, the hook cache and
    /// the change events of this process learn of them at once, also when a reader here
    /// finishes an apply another process crashed in.
    async fn roll_forward(
        &self,
        name: &ApplySetName,
        observer: &dyn ApplyObserver,
    ) -> Result<Option<ApplySetRecord>, StoreError> {
        let rolled = store::roll_forward(&*self.store, name, observer).await?;
        self.announce(&rolled.made);
        Ok(rolled.set)
    }

    /// Announces hook writes an apply made (see `registry`).
    fn announce(&self, made: &[(HookKey, Made)]) {
        for (key, made) in made {
            let kind = match made {
                Made::Inserted => ChangeKind::Created,
                Made::Replaced => ChangeKind::Updated,
                Made::Deleted => ChangeKind::Removed,
            };
            self.registry.announce(key, kind);
        }
    }

    /// The stored records of the hooks `keys` name, read group by group.
    async fn stored(
        &self,
        keys: impl Iterator<Item = HookKey>,
    ) -> Result<HashMap<HookKey, HookRecord>, StoreError> {
        let keys: BTreeSet<HookKey> = keys.collect();
        let groups: BTreeSet<&HookGroupId> = keys.iter().map(|k| &k.group).collect();
        let mut stored = HashMap::new();
        for group in groups {
            for record in self.store.list_hooks(group).await? {
                let key = record.hook.key();
                if keys.contains(&key) {
                    stored.insert(key, record);
                }
            }
        }
        Ok(stored)
    }

    /// Commits `planned` as the set's next revision and makes its writes. A plan without
    /// changes writes nothing and returns the revision it was made against.
    ///
    /// # Errors
    /// [`ApplyError::Lost`] when another apply of the set committed since the plan; store
    /// failures (after the commit point the writes are finished by the next reader).
    pub async fn commit(
        &self,
        request: &ApplyRequest,
        planned: &Planned,
    ) -> Result<u64, ApplyError> {
        if planned.is_empty() {
            return Ok(planned.revision);
        }
        let now = self.clock.now();
        let mut pending = planned
            .plan
            .changes
            .iter()
            .map(|change| match &change.after {
                Some(hook) => Ok(ApplyWrite::Put {
                    record: Box::new(self.registry.new_record(hook.clone(), now)?),
                }),
                None => Ok(ApplyWrite::delete(change.key.clone())),
            })
            .collect::<Result<Vec<_>, RegistryError>>()?;
        pending.extend(
            planned
                .chat_aliases
                .changes
                .iter()
                .map(|change| match &change.after {
                    Some(alias) => ApplyWrite::PutChatAlias {
                        record: Box::new(ChatAliasRecord {
                            alias: alias.clone(),
                            version: 1,
                            applied: None,
                        }),
                    },
                    None => ApplyWrite::DeleteChatAlias {
                        alias_id: change.key.clone(),
                    },
                }),
        );
        let record = ApplySetRecord {
            name: request.set.clone(),
            revision: planned.revision + 1,
            source: request.source.clone(),
            applied_at: now,
            applied_by: request.applied_by.clone(),
            hooks: planned.plan.members.clone(),
            chat_aliases: planned.chat_aliases.members.clone(),
            pending,
        };
        let observer = Arc::new(Halfway(self.failpoint));
        let made = match self
            .store
            .commit_apply_set(&record, planned.revision, observer.clone())
            .await
        {
            Err(StoreError::VersionConflict) => return Err(ApplyError::Lost(request.set.clone())),
            other => other?,
        };
        self.announce(&made);
        stop_if(self.failpoint, ApplyFailpoint::AfterCommit);
        self.roll_forward(&request.set, &*observer).await?;
        tracing::info!(set = %record.name, revision = record.revision,
            changes = planned.plan.changes.len(),
            chat_alias_changes = planned.chat_aliases.changes.len(), "applied a hook set");
        Ok(record.revision)
    }

    /// The set's last apply and its drift; `None` for a set never applied.
    ///
    /// # Errors
    /// Store failures.
    pub async fn status(&self, set: &ApplySetName) -> Result<Option<SetStatus>, ApplyError> {
        let Some(record) = self.roll_forward(set, &Unobserved).await? else {
            return Ok(None);
        };
        let stored = self.stored(record.hooks.iter().map(Hook::key)).await?;
        let drift = drift_of(set, &record.hooks, &stored);
        let chat_alias_drift = drift_of(set, &record.chat_aliases, &self.stored_aliases().await?);
        Ok(Some(SetStatus {
            record,
            drift,
            chat_alias_drift,
        }))
    }
}
