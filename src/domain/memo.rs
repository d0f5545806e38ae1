//! A process-wide, bounded memo of parse results, keyed by the text that was parsed.
//!
//! Hooks enter the domain from the store on every read (a fire, getHookDefinition, listHooks,
//! the scheduler's scans), and a hook's schedule and trigger schema are parsed as they enter.
//! Parsing is a pure function of the text, so its result can be shared: a read of text parsed
//! before costs a hash lookup and a reference count, not a parse, and the many hooks with the
//! same schedule or schema hold one parsed value between them. Before, re-parsing cron entries
//! was a third of the store-read threads' CPU under getHookDefinition (BENCHMARKS.md, issue 15).
//!
//! A failed parse is not remembered: bad text is rare and is refused where it enters.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

/// Parsed values by the text they were parsed from; past `limit` entries it starts over (a
/// value handed out stays valid, and text read again afterwards is parsed once more).
pub(super) struct Memo<K, V> {
    parsed: LazyLock<RwLock<HashMap<K, Arc<V>>>>,
    limit: usize,
}

impl<K: Hash + Eq, V> Memo<K, V> {
    /// An empty memo of at most `limit` entries, for a `static`.
    pub(super) const fn new(limit: usize) -> Self {
        Self {
            parsed: LazyLock::new(RwLock::default),
            limit,
        }
    }

    /// The value parsed from `text`: remembered, or made by `parse` now and remembered
    /// (`owned` makes the key).
    ///
    /// # Errors
    /// What `parse` returns; nothing is remembered then.
    pub(super) fn get_or_parse<Q, E>(
        &self,
        text: &Q,
        owned: impl FnOnce() -> K,
        parse: impl FnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let known = self.parsed.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = known.get(text) {
            return Ok(Arc::clone(value));
        }
        // Parsed outside the lock: a slow parse must not hold up every other read.
        drop(known);
        let value = Arc::new(parse()?);
        let mut known = self.parsed.write().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= self.limit {
            known.clear();
        }
        known.insert(owned(), Arc::clone(&value));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_parsed_once_and_failures_are_not_remembered() {
        static MEMO: Memo<String, usize> = Memo::new(2);
        let parses = std::cell::Cell::new(0);
        let parse = |text: &str| {
            MEMO.get_or_parse(
                text,
                || text.to_owned(),
                || {
                    parses.set(parses.get() + 1);
                    text.parse::<usize>()
                },
            )
        };

        let first = parse("1").unwrap();
        let again = parse("1").unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert!(parse("x").is_err());
        assert!(parse("x").is_err());
        assert_eq!(parses.get(), 3, "1 once, the failing x twice");
    }

    #[test]
    fn past_its_limit_it_starts_over_and_handed_out_values_stay() {
        static MEMO: Memo<String, usize> = Memo::new(2);
        let parse = |text: &str| {
            MEMO.get_or_parse(text, || text.to_owned(), || text.parse::<usize>())
                .unwrap()
        };

        let one = parse("1");
        parse("2");
        parse("3");
        assert_eq!(*one, 1);
        assert!(!Arc::ptr_eq(&one, &parse("1")), "1 was parsed anew");
    }
}
