//! An apply set's commit in one SQLite transaction: the set's revision compare-and-set, every
//! hook write of the revision, and the set's new record, as one write job (undone as a whole), so
//! a crash, a lost race or a refused write leaves none of it.

use rusqlite::{params, Connection, OptionalExtension};

use super::chat::{alias_row, delete_alias_row, AliasRow};
use super::error::{sql, to_i64};
use super::rows::{delete_row, encode, insert_row, key_params, query_doc, replace_row, HookRow};
use crate::domain::{
    apply_step, ApplySetRecord, ApplyStep, ApplyWrite, HookKey, HookRecord, OwnedRecord, Ownership,
    WriteTarget,
};
use crate::store::{ApplyObserver, Made, StoreError};

/// The `apply_sets` row of a record with no pending writes.
pub(super) struct SetRow {
    name: String,
    revision: i64,
    doc: String,
}

impl SetRow {
    pub(super) fn new(record: &ApplySetRecord) -> Result<Self, StoreError> {
        let mut stored = record.clone();
        stored.pending.clear();
        Ok(Self {
            name: record.name.to_string(),
            revision: to_i64(record.revision)?,
            doc: encode(&stored)?,
        })
    }

    /// Writes the row over whatever is stored for the set.
    fn upsert(&self, conn: &Connection) -> Result<(), StoreError> {
        conn.prepare_cached(
            "INSERT INTO apply_sets (name, revision, pending, doc) VALUES (?1, ?2, 0, ?3)
             ON CONFLICT (name) DO UPDATE SET revision = ?2, pending = 0, doc = ?3",
        )
        .and_then(|mut stmt| stmt.execute(params![self.name, self.revision, self.doc]))
        .map_err(sql)?;
        Ok(())
    }

    /// Replaces a pending row of the same revision; SQLite never stores one, but the trait's
    /// promise holds here too.
    pub(super) fn finish(&self, conn: &Connection) -> Result<(), StoreError> {
        conn.prepare_cached(
            "UPDATE apply_sets SET pending = 0, doc = ?3 WHERE name = ?1 AND revision = ?2",
        )
        .and_then(|mut stmt| stmt.execute(params![self.name, self.revision, self.doc]))
        .map_err(sql)?;
        Ok(())
    }
}

/// Everything one commit needs, encoded on the caller's task.
pub(super) struct Commit {
    row: SetRow,
    expected: i64,
    owner: Ownership,
    applied_at: chrono::DateTime<chrono::Utc>,
    writes: Vec<ApplyWrite>,
}

impl Commit {
    pub(super) fn new(record: &ApplySetRecord, expected_revision: u64) -> Result<Self, StoreError> {
        Ok(Self {
            row: SetRow::new(record)?,
            expected: to_i64(expected_revision)?,
            owner: record.owner(),
            applied_at: record.applied_at,
            writes: record.pending.clone(),
        })
    }

    /// Runs on the writer thread as one write job: any error undoes all of it.
    pub(super) fn run(
        &self,
        conn: &Connection,
        observer: &dyn ApplyObserver,
    ) -> Result<Vec<(HookKey, Made)>, StoreError> {
        let stored: Option<i64> = conn
            .prepare_cached("SELECT revision FROM apply_sets WHERE name = ?1")
            .and_then(|mut stmt| {
                stmt.query_row(params![self.row.name], |row| row.get(0))
                    .optional()
            })
            .map_err(sql)?;
        if stored.unwrap_or(0) != self.expected {
            return Err(StoreError::VersionConflict);
        }
        let total = self.writes.len();
        let mut made = Vec::new();
        for (index, write) in self.writes.iter().enumerate() {
            if let (Some(kind), WriteTarget::Hook(key, _)) =
                (self.make(conn, write)?, write.target())
            {
                made.push((key, kind));
            }
            observer.wrote(index, total);
        }
        self.row.upsert(conn)?;
        Ok(made)
    }

    /// Makes one write; a hook write's kind is returned for announcing.
    fn make(&self, conn: &Connection, write: &ApplyWrite) -> Result<Option<Made>, StoreError> {
        match write.target() {
            WriteTarget::Hook(key, fresh) => {
                let (group, id) = key_params(&key);
                let stored: Option<HookRecord> = query_doc(
                    conn,
                    "SELECT doc FROM hooks WHERE hook_group_id = ?1 AND hook_id = ?2",
                    params![group, id],
                )?;
                match self.step(fresh, stored.as_ref())? {
                    ApplyStep::Insert(record) => {
                        insert_row(conn, &HookRow::new(&record)?).map(|()| Some(Made::Inserted))
                    }
                    ApplyStep::Replace {
                        record,
                        expected_version,
                    } => replace_row(conn, &HookRow::new(&record)?, to_i64(expected_version)?)
                        .map(|()| Some(Made::Replaced)),
                    ApplyStep::Delete => delete_row(conn, &group, &id)
                        .map(|deleted| deleted.then_some(Made::Deleted)),
                    ApplyStep::Skip | ApplyStep::Conflict(_) => Ok(None),
                }
            }
            WriteTarget::ChatAlias(id, fresh) => {
                let stored = alias_row(conn, id.as_str())?;
                match self.step(fresh, stored.as_ref())? {
                    ApplyStep::Insert(record) => AliasRow::new(&record)?.insert(conn)?,
                    ApplyStep::Replace {
                        record,
                        expected_version,
                    } => AliasRow::new(&record)?.replace(conn, to_i64(expected_version)?)?,
                    ApplyStep::Delete => {
                        delete_alias_row(conn, id.as_str())?;
                    }
                    ApplyStep::Skip | ApplyStep::Conflict(_) => {}
                }
                Ok(None)
            }
        }
    }

    /// The step of a write of `fresh` (`None`: a delete) against `stored`.
    fn step<R: OwnedRecord>(
        &self,
        fresh: Option<&R>,
        stored: Option<&R>,
    ) -> Result<ApplyStep<R>, StoreError> {
        match apply_step(fresh, &self.owner, self.applied_at, stored) {
            // Another set took the record since the apply was planned: the caller plans again.
            ApplyStep::Conflict(_) => Err(StoreError::VersionConflict),
            step => Ok(step),
        }
    }
}
