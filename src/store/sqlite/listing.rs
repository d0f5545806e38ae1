//! The queries behind listings for people (the web UI): hooks counted per group under a key
//! filter and a search, and the newest failed fires across hooks.
//!
//! A [`KeyFilter`] becomes an `OR` of conditions on the indexed key columns, with the filter's
//! strings bound as parameters; ids are ASCII, so `substr` compares prefixes bytewise. Counting
//! reads the primary key only, and the name (from `doc`) only when there is a search. Failed
//! fires are read through the partial index `fires_failed_newest_first` (migration 6), whose
//! condition the query repeats word for word so SQLite picks it.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::error::sql;
use super::rows::decode;
use crate::domain::{FireRecord, HookGroupId, KeyFilter, KeyPattern};
use crate::store::{GroupCount, StoreError};

/// `keys` as SQL over the columns `hook_group_id` and `hook_id`, appending its parameters.
fn key_condition(keys: &KeyFilter, params: &mut Vec<Value>) -> String {
    if keys.is_all() {
        return "1".into();
    }
    if keys.is_empty() {
        return "0".into();
    }
    let mut terms = Vec::new();
    let bind = |params: &mut Vec<Value>, value: &str| {
        params.push(Value::Text(value.to_owned()));
        params.len()
    };
    for pattern in keys.patterns() {
        terms.push(match pattern {
            KeyPattern::GroupPrefix(prefix) => {
                let p = bind(params, prefix);
                format!("substr(hook_group_id, 1, length(?{p})) = ?{p}")
            }
            KeyPattern::IdPrefix { group, id_prefix } => {
                let (g, p) = (bind(params, group), bind(params, id_prefix));
                format!("(hook_group_id = ?{g} AND substr(hook_id, 1, length(?{p})) = ?{p})")
            }
            KeyPattern::Key { group, id } => {
                let (g, i) = (bind(params, group), bind(params, id));
                format!("(hook_group_id = ?{g} AND hook_id = ?{i})")
            }
        });
    }
    format!("({})", terms.join(" OR "))
}

/// Hooks per group admitted by `keys`, whose group, id or name holds `search`.
pub(super) fn count_hooks(
    conn: &Connection,
    keys: &KeyFilter,
    search: &str,
) -> Result<Vec<GroupCount>, StoreError> {
    let mut params = Vec::new();
    let mut query = format!(
        "SELECT hook_group_id, count(*) FROM hooks WHERE {}",
        key_condition(keys, &mut params)
    );
    if !search.is_empty() {
        // lower() folds ASCII only, as the trait promises; the needle is folded the same way.
        params.push(Value::Text(search.to_ascii_lowercase()));
        let q = params.len();
        query.push_str(&format!(
            " AND (instr(lower(hook_group_id), ?{q}) OR instr(lower(hook_id), ?{q})
                   OR instr(lower(json_extract(doc, '$.hook.metadata.name')), ?{q}))"
        ));
    }
    query.push_str(" GROUP BY hook_group_id ORDER BY hook_group_id");
    let mut stmt = conn.prepare(&query).map_err(sql)?;
    let rows = stmt
        .query_map(params_from_iter(params), |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .map_err(sql)?;
    rows.map(|row| {
        let (group, hooks) = row.map_err(sql)?;
        Ok(GroupCount {
            group: HookGroupId::parse(group).map_err(|e| StoreError::Corrupt(Box::new(e)))?,
            hooks: u64::try_from(hooks).unwrap_or_default(),
        })
    })
    .collect()
}

/// The newest `limit` failed fires of hooks admitted by `keys`.
pub(super) fn error_fires(
    conn: &Connection,
    keys: &KeyFilter,
    limit: usize,
) -> Result<Vec<FireRecord>, StoreError> {
    let mut params = Vec::new();
    let query = format!(
        "SELECT doc FROM fires INDEXED BY fires_failed_newest_first
         WHERE json_type(doc, '$.failure') = 'object' AND {}
         ORDER BY time_ms DESC, fire_id DESC LIMIT {}",
        key_condition(keys, &mut params),
        i64::try_from(limit).unwrap_or(i64::MAX),
    );
    let mut stmt = conn.prepare(&query).map_err(sql)?;
    let rows = stmt
        .query_map(params_from_iter(params), |row| row.get::<_, String>(0))
        .map_err(sql)?;
    rows.map(|doc| decode(&doc.map_err(sql)?)).collect()
}
