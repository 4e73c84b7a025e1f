//! Tables of objects: insertion-ordered, looked up by id in O(1), with secondary
//! indexes for the lists that filter, cursor walks for pagination, and the
//! eviction that keeps the simulator's memory bounded.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use crate::error::ApiError;

/// An object kept in a [`Table`].
pub trait Record {
    fn id(&self) -> &str;

    /// Unix time of creation, for age-based eviction.
    fn created(&self) -> i64;

    /// Secondary index entries as (index name, key). A key, once set, never
    /// changes (e.g. a session's customer goes from none to some), so indexing
    /// only adds: [`Table::reindex`] after setting one.
    fn index_keys(&self) -> Vec<(&'static str, &str)> {
        Vec::new()
    }
}

/// Where a list page starts: `starting_after`, `ending_before` or the newest end.
#[derive(Debug, Clone, Copy)]
pub enum Cursor<'p> {
    Start,
    After(&'p str),
    Before(&'p str),
}

impl Cursor<'_> {
    /// Stripe's answer to a cursor naming no object of the list.
    pub fn missing(&self, object: &str) -> ApiError {
        match self {
            Cursor::After(id) => ApiError::no_such(object, id, "starting_after", false),
            Cursor::Before(id) => ApiError::no_such(object, id, "ending_before", false),
            Cursor::Start => ApiError::internal(),
        }
    }
}

/// Items from a cursor on: newest first, or oldest first for `ending_before`.
pub type Walk<'t, T> = Box<dyn Iterator<Item = &'t T> + 't>;

#[derive(Debug)]
pub struct Table<T> {
    /// Rows by insertion sequence: iteration order is creation order.
    rows: BTreeMap<u64, T>,
    by_id: HashMap<String, u64>,
    index: HashMap<(&'static str, String), BTreeSet<u64>>,
    next: u64,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            rows: BTreeMap::new(),
            by_id: HashMap::new(),
            index: HashMap::new(),
            next: 0,
        }
    }
}

impl<T: Record> Table<T> {
    /// Adds a row as the newest, replacing any row with its id.
    pub fn insert(&mut self, row: T) {
        self.remove(row.id());
        let seq = self.next;
        self.next += 1;
        self.by_id.insert(row.id().to_owned(), seq);
        for (name, key) in row.index_keys() {
            self.index
                .entry((name, key.to_owned()))
                .or_default()
                .insert(seq);
        }
        self.rows.insert(seq, row);
    }

    pub fn get(&self, id: &str) -> Option<&T> {
        self.by_id.get(id).and_then(|seq| self.rows.get(seq))
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.by_id.get(id).and_then(|seq| self.rows.get_mut(seq))
    }

    /// Indexes the keys a row gained since it was inserted.
    pub fn reindex(&mut self, id: &str) {
        let Some(&seq) = self.by_id.get(id) else {
            return;
        };
        for (name, key) in self.rows[&seq].index_keys() {
            self.index
                .entry((name, key.to_owned()))
                .or_default()
                .insert(seq);
        }
    }

    pub fn remove(&mut self, id: &str) -> Option<T> {
        let seq = self.by_id.remove(id)?;
        let row = self.rows.remove(&seq)?;
        for (name, key) in row.index_keys() {
            let entry = (name, key.to_owned());
            if let Some(set) = self.index.get_mut(&entry) {
                set.remove(&seq);
                if set.is_empty() {
                    self.index.remove(&entry);
                }
            }
        }
        Some(row)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.rows.values()
    }

    /// The rows whose index `name` holds `key`, oldest first.
    pub fn lookup<'t>(&'t self, name: &'static str, key: &str) -> impl Iterator<Item = &'t T> {
        self.index
            .get(&(name, key.to_owned()))
            .into_iter()
            .flatten()
            .filter_map(|seq| self.rows.get(seq))
    }

    /// The rows a list page reads from `cursor` on (see [`Walk`]), restricted
    /// to the index entry `by` if given, and to those `keep` accepts. A cursor
    /// must name a row of the table.
    pub fn walk<'t>(
        &'t self,
        cursor: Cursor<'_>,
        object: &str,
        by: Option<(&'static str, &str)>,
        keep: impl Fn(&T) -> bool + 't,
    ) -> Result<Walk<'t, T>, ApiError> {
        let seq_of = |id: &str| {
            self.by_id
                .get(id)
                .copied()
                .ok_or_else(|| cursor.missing(object))
        };
        let (range, newest_first) = match cursor {
            Cursor::Start => ((Bound::Unbounded, Bound::Unbounded), true),
            Cursor::After(id) => ((Bound::Unbounded, Bound::Excluded(seq_of(id)?)), true),
            Cursor::Before(id) => ((Bound::Excluded(seq_of(id)?), Bound::Unbounded), false),
        };
        let seqs: Box<dyn DoubleEndedIterator<Item = u64> + 't> = match by {
            None => Box::new(self.rows.range(range).map(|(seq, _)| *seq)),
            Some((name, key)) => match self.index.get(&(name, key.to_owned())) {
                Some(set) => Box::new(set.range(range).copied()),
                None => Box::new(std::iter::empty()),
            },
        };
        let seqs: Box<dyn Iterator<Item = u64> + 't> = if newest_first {
            Box::new(seqs.rev())
        } else {
            seqs
        };
        Ok(Box::new(
            seqs.filter_map(|seq| self.rows.get(&seq))
                .filter(move |row| keep(row)),
        ))
    }

    /// Removes, oldest first, the rows `evictable` allows while the table holds
    /// more than `cap`, and any evictable row created before `cutoff`. Stops at
    /// the first row that is neither over the cap nor too old, so a sweep costs
    /// what it removes plus the live rows it steps over. Returns what it removed.
    pub fn evict(&mut self, cap: usize, cutoff: i64, evictable: impl Fn(&T) -> bool) -> Vec<T> {
        let mut over = self.len().saturating_sub(cap);
        let mut doomed = Vec::new();
        for row in self.rows.values() {
            if over == 0 && row.created() >= cutoff {
                break;
            }
            if evictable(row) {
                doomed.push(row.id().to_owned());
                over = over.saturating_sub(1);
            }
        }
        doomed.iter().filter_map(|id| self.remove(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Row {
        id: String,
        created: i64,
        owner: Option<String>,
        done: bool,
    }

    impl Record for Row {
        fn id(&self) -> &str {
            &self.id
        }
        fn created(&self) -> i64 {
            self.created
        }
        fn index_keys(&self) -> Vec<(&'static str, &str)> {
            self.owner.iter().map(|o| ("owner", o.as_str())).collect()
        }
    }

    fn table(n: i64) -> Table<Row> {
        let mut table = Table::default();
        for i in 0..n {
            table.insert(Row {
                id: format!("r{i}"),
                created: i,
                owner: (i % 2 == 0).then(|| "even".to_owned()),
                done: i != 1,
            });
        }
        table
    }

    fn ids<'t>(walk: Walk<'t, Row>) -> Vec<&'t str> {
        walk.map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn walks_newest_first_from_a_cursor_or_back_from_one() {
        let t = table(5);
        let all = t.walk(Cursor::Start, "row", None, |_| true).unwrap();
        assert_eq!(ids(all), ["r4", "r3", "r2", "r1", "r0"]);
        let after = t.walk(Cursor::After("r3"), "row", None, |_| true).unwrap();
        assert_eq!(ids(after), ["r2", "r1", "r0"]);
        let before = t.walk(Cursor::Before("r1"), "row", None, |_| true).unwrap();
        assert_eq!(ids(before), ["r2", "r3", "r4"]);
        let even = t.walk(Cursor::After("r3"), "row", Some(("owner", "even")), |_| {
            true
        });
        assert_eq!(ids(even.unwrap()), ["r2", "r0"]);
        let err = t
            .walk(Cursor::After("nope"), "row", None, |_| true)
            .err()
            .unwrap();
        assert_eq!(err.param.as_deref(), Some("starting_after"));
    }

    #[test]
    fn indexes_keys_set_after_insertion_and_forgets_removed_rows() {
        let mut t = table(3);
        t.get_mut("r1").unwrap().owner = Some("odd".to_owned());
        assert_eq!(t.lookup("owner", "odd").count(), 0);
        t.reindex("r1");
        assert_eq!(t.lookup("owner", "odd").count(), 1);
        t.remove("r1");
        assert_eq!(t.lookup("owner", "odd").count(), 0);
        assert!(t.get("r1").is_none());
        assert!(t.index.keys().all(|(_, key)| key != "odd"));
    }

    #[test]
    fn evicts_the_oldest_evictable_rows_beyond_the_cap_and_the_too_old() {
        let mut t = table(6);
        // Over the cap of 3 by 3: r1 is live, so r0, r2 and r3 go.
        let gone = t.evict(3, 0, |r| r.done);
        assert_eq!(
            gone.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["r0", "r2", "r3"]
        );
        assert_eq!(
            ids(t.walk(Cursor::Start, "row", None, |_| true).unwrap()),
            ["r5", "r4", "r1"]
        );
        // Under the cap, only what is older than the cutoff.
        let gone = t.evict(10, 5, |r| r.done);
        assert_eq!(
            gone.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["r4"]
        );
        assert_eq!(t.len(), 2);
    }
}
