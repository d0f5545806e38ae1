//! The database's schema (collections, validators, indexes) and its migrations.
//!
//! Each migration is one JSON file in `migrations/`, compiled into the binary: a description
//! and a list of database commands run in order. Every command is idempotent (creating what
//! exists is tolerated, index and validator definitions converge), so a migration interrupted
//! halfway is simply run again. Applied migrations are recorded in the `migrations`
//! collection. A lock document in `migrationLock` makes concurrent migrators take turns, and
//! each reads what is applied only after taking the lock, so no step runs twice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::codec::date;
use super::error::{backend, code, driver, is_duplicate_key, MongoError};
use crate::store::StoreError;

/// One migration file.
struct Migration {
    name: &'static str,
    source: &'static str,
}

/// Every migration, in order. Never edit one that has shipped; add a new file.
const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_collections_and_indexes",
        source: include_str!("../../../migrations/0001_collections_and_indexes.json"),
    },
    Migration {
        name: "0002_refusals",
        source: include_str!("../../../migrations/0002_refusals.json"),
    },
    Migration {
        name: "0003_error_fires",
        source: include_str!("../../../migrations/0003_error_fires.json"),
    },
];

/// The error code of creating a collection that exists; its `collMod` follows anyway.
const NAMESPACE_EXISTS: i32 = 48;

/// A lock older than this is taken over: its holder is presumed dead. Renewed between steps.
const LOCK_LEASE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// How long a migrator waits for another one to finish before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(120);

/// How often a waiting migrator checks the lock again.
const LOCK_POLL: Duration = Duration::from_millis(200);

/// The `_id` of the one lock document.
const LOCK_ID: &str = "migrate";

/// Whether one migration has been applied to the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// The migration's file name without `.json`.
    pub name: &'static str,
    /// When it was applied; `None` while pending.
    pub applied_at: Option<DateTime<Utc>>,
}

/// A migration file's content.
#[derive(Deserialize)]
struct Steps {
    description: String,
    commands: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// A document of the `migrations` collection.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppliedDoc {
    #[serde(rename = "_id")]
    name: String,
    description: String,
    applied_at: mongodb::bson::DateTime,
    hookd_version: String,
}

fn applied(db: &Database) -> Collection<AppliedDoc> {
    db.collection("migrations")
}

/// Every known migration and whether it is applied.
pub(super) async fn status(db: &Database) -> Result<Vec<MigrationState>, StoreError> {
    let done: Vec<AppliedDoc> = applied(db)
        .find(doc! {})
        .await
        .map_err(driver)?
        .try_collect()
        .await
        .map_err(driver)?;
    Ok(MIGRATIONS
        .iter()
        .map(|m| MigrationState {
            name: m.name,
            applied_at: done
                .iter()
                .find(|d| d.name == m.name)
                .and_then(|d| DateTime::from_timestamp_millis(d.applied_at.timestamp_millis())),
        })
        .collect())
}

/// Applies the pending migrations under the lock; returns the ones this call applied.
pub(super) async fn run(db: &Database) -> Result<Vec<&'static str>, StoreError> {
    let lock = Lock::acquire(db).await?;
    let result = apply_pending(db, &lock).await;
    if let Err(e) = lock.release().await {
        // The lease runs out by itself; the next migrator takes it over then.
        tracing::warn!(error = %e, "could not release the migration lock");
    }
    result
}

async fn apply_pending(db: &Database, lock: &Lock) -> Result<Vec<&'static str>, StoreError> {
    let states = status(db).await?;
    let mut ran = Vec::new();
    for (migration, state) in MIGRATIONS.iter().zip(states) {
        if state.applied_at.is_some() {
            continue;
        }
        lock.renew().await?;
        let steps: Steps =
            serde_json::from_str(migration.source).map_err(|e| migration.malformed(e))?;
        for command in steps.commands {
            // Relaxed extended JSON: plain numbers, `{"$date": ..}` where a date is meant.
            let command = Document::try_from(command).map_err(|e| migration.malformed(e))?;
            run_command(db, command).await?;
        }
        applied(db)
            .insert_one(AppliedDoc {
                name: migration.name.into(),
                description: steps.description,
                applied_at: date(Utc::now()),
                hookd_version: env!("CARGO_PKG_VERSION").into(),
            })
            .await
            .map_err(driver)?;
        tracing::info!(migration = migration.name, "applied a MongoDB migration");
        ran.push(migration.name);
    }
    Ok(ran)
}

impl Migration {
    /// The error for a migration file that does not parse (a build defect).
    fn malformed(&self, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        backend(MongoError::BadMigration {
            name: self.name,
            source: Box::new(e),
        })
    }
}

/// Runs one command, tolerating "collection exists" so that re-runs converge.
async fn run_command(db: &Database, command: Document) -> Result<(), StoreError> {
    match db.run_command(command).await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some(NAMESPACE_EXISTS) => Ok(()),
        Err(e) => Err(driver(e)),
    }
}

/// The migration lock, held by this process until released or its lease runs out.
struct Lock {
    locks: Collection<Document>,
    owner: String,
}

impl Lock {
    /// Takes the lock, waiting (bounded) while another migrator holds it.
    async fn acquire(db: &Database) -> Result<Self, StoreError> {
        let lock = Self {
            locks: db.collection("migrationLock"),
            owner: Uuid::new_v4().to_string(),
        };
        let started = tokio::time::Instant::now();
        loop {
            let now = Utc::now();
            let held = doc! {
                "_id": LOCK_ID, "owner": &lock.owner, "since": date(now),
                "expiresAt": date(now + LOCK_LEASE),
            };
            match lock.locks.insert_one(held.clone()).await {
                Ok(_) => return Ok(lock),
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(driver(e)),
            }
            // Taken: take it over only if its holder's lease has run out.
            let stale = doc! { "_id": LOCK_ID, "expiresAt": { "$lt": date(now) } };
            let taken_over = lock
                .locks
                .find_one_and_replace(stale, held)
                .await
                .map_err(driver)?;
            if taken_over.is_some() {
                tracing::warn!("took over a stale MongoDB migration lock");
                return Ok(lock);
            }
            if started.elapsed() > LOCK_WAIT {
                return Err(lock.busy().await);
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    /// The error for a lock held too long, naming since when.
    async fn busy(&self) -> StoreError {
        let since = match self.locks.find_one(doc! { "_id": LOCK_ID }).await {
            Ok(Some(held)) => held
                .get_datetime("since")
                .ok()
                .and_then(|d| DateTime::from_timestamp_millis(d.timestamp_millis())),
            Ok(None) => None,
            Err(e) => return driver(e),
        };
        backend(MongoError::LockBusy {
            since: since.unwrap_or_else(Utc::now),
        })
    }

    /// Extends the lease before a step, so a long migration keeps its lock.
    async fn renew(&self) -> Result<(), StoreError> {
        let renewed = self
            .locks
            .update_one(
                doc! { "_id": LOCK_ID, "owner": &self.owner },
                doc! { "$set": { "expiresAt": date(Utc::now() + LOCK_LEASE) } },
            )
            .await
            .map_err(driver)?;
        if renewed.matched_count == 0 {
            // Someone took the lock over: stop rather than race them.
            return Err(self.busy().await);
        }
        Ok(())
    }

    async fn release(self) -> Result<(), StoreError> {
        self.locks
            .delete_one(doc! { "_id": LOCK_ID, "owner": &self.owner })
            .await
            .map_err(driver)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_registered_in_order_and_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
            .collect();
        files.sort();
        let registered: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, registered);
        for migration in MIGRATIONS {
            let steps: Steps = serde_json::from_str(migration.source).unwrap();
            assert!(
                !steps.commands.is_empty(),
                "{} has no commands",
                migration.name
            );
            for command in steps.commands {
                Document::try_from(command).unwrap();
            }
        }
    }
}
