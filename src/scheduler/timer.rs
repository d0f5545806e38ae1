//! The in-memory timer: items ordered by the instant they come due, each held at most once.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use chrono::{DateTime, Duration, Utc};

/// A due-time queue in which setting an item again moves it rather than adding a second entry.
#[derive(Debug)]
pub(super) struct Timer<T> {
    queue: BTreeSet<(DateTime<Utc>, T)>,
    due: HashMap<T, DateTime<Utc>>,
}

impl<T: Ord + Hash + Clone> Timer<T> {
    pub(super) fn new() -> Self {
        Self {
            queue: BTreeSet::new(),
            due: HashMap::new(),
        }
    }

    /// Makes `item` come due at `at`, replacing any earlier setting.
    pub(super) fn set(&mut self, item: T, at: DateTime<Utc>) {
        if let Some(old) = self.due.insert(item.clone(), at) {
            self.queue.remove(&(old, item.clone()));
        }
        self.queue.insert((at, item));
    }

    /// Forgets `item`.
    pub(super) fn remove(&mut self, item: &T) {
        if let Some(old) = self.due.remove(item) {
            self.queue.remove(&(old, item.clone()));
        }
    }

    /// When `item` comes due, if it is waiting.
    pub(super) fn due(&self, item: &T) -> Option<DateTime<Utc>> {
        self.due.get(item).copied()
    }

    /// Forgets every item for which `keep` says no.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.queue.retain(|(_, item)| keep(item));
        self.due.retain(|item, _| keep(item));
    }

    /// Forgets every item.
    pub(super) fn clear(&mut self) {
        self.queue.clear();
        self.due.clear();
    }

    /// The earliest due instant, if anything is waiting.
    pub(super) fn next_due(&self) -> Option<DateTime<Utc>> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Removes and returns every item due at or before `now`, earliest first.
    pub(super) fn pop_due(&mut self, now: DateTime<Utc>) -> Vec<T> {
        let mut items = Vec::new();
        while let Some((at, _)) = self.queue.first() {
            if *at > now {
                break;
            }
            if let Some((_, item)) = self.queue.pop_first() {
                self.due.remove(&item);
                items.push(item);
            }
        }
        items
    }

    /// Removes and returns at most `limit` items due at or before `until`, earliest first,
    /// each with its due instant.
    pub(super) fn pop_until(
        &mut self,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<(DateTime<Utc>, T)> {
        let mut items = Vec::new();
        while items.len() < limit && self.queue.first().is_some_and(|(at, _)| *at <= until) {
            if let Some((at, item)) = self.queue.pop_first() {
                self.due.remove(&item);
                items.push((at, item));
            }
        }
        items
    }

    /// How many items come due within `window` of the earliest one, counted up to `enough`
    /// (so a crowd of 100,000 costs no more to tell than one of `enough`).
    pub(super) fn crowd(&self, window: Duration, enough: usize) -> usize {
        let Some(first) = self.next_due() else {
            return 0;
        };
        let end = first + window;
        self.queue
            .iter()
            .take_while(|(at, _)| *at <= end)
            .take(enough)
            .count()
    }

    /// How many items are waiting.
    pub(super) fn len(&self) -> usize {
        self.due.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(seconds)
    }

    #[test]
    fn items_come_due_in_order_and_once() {
        let mut timer = Timer::new();
        timer.set("b", t(20));
        timer.set("a", t(10));
        timer.set("c", t(30));
        assert_eq!(timer.next_due(), Some(t(10)));
        assert_eq!(timer.pop_due(t(20)), ["a", "b"]);
        assert_eq!(timer.pop_due(t(20)), Vec::<&str>::new());
        assert_eq!(timer.len(), 1);
    }

    #[test]
    fn a_crowd_is_counted_from_the_earliest_item_and_popped_in_chunks() {
        let mut timer = Timer::new();
        for (item, at) in [("a", 10), ("b", 10), ("c", 12), ("d", 30)] {
            timer.set(item, t(at));
        }
        assert_eq!(timer.crowd(Duration::seconds(5), 10), 3);
        assert_eq!(timer.crowd(Duration::seconds(5), 2), 2);
        assert_eq!(timer.pop_until(t(20), 2), [(t(10), "a"), (t(10), "b")]);
        assert_eq!(timer.pop_until(t(20), 2), [(t(12), "c")]);
        assert_eq!(timer.crowd(Duration::seconds(5), 10), 1);
        assert_eq!(timer.len(), 1);
    }

    #[test]
    fn setting_again_moves_the_item_and_remove_forgets_it() {
        let mut timer = Timer::new();
        timer.set("a", t(10));
        timer.set("a", t(50));
        timer.set("b", t(20));
        assert_eq!(timer.len(), 2);
        assert_eq!(timer.pop_due(t(30)), ["b"]);
        timer.remove(&"a");
        assert_eq!(timer.next_due(), None);
        timer.set("c", t(1));
        timer.set("d", t(2));
        assert_eq!(timer.due(&"d"), Some(t(2)));
        timer.retain(|item| *item != "d");
        assert_eq!(timer.due(&"d"), None);
        assert_eq!(timer.pop_due(t(5)), ["c"]);
        timer.set("e", t(1));
        timer.clear();
        assert_eq!(timer.len(), 0);
    }
}
