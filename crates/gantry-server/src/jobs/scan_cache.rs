//! Parsed advisory records shared by the batches of one import's rescans. An import of the
//! whole database queues hundreds of batches that ask for the same names again and again
//! (every version of a name is a package); reading and parsing each name's records once per
//! import leaves the batches only the matching.
//!
//! The index is keyed by the import's epoch (its start time, zero-padded, and a fresh id, in
//! each batch's payload): a batch of a newer import replaces it, and a batch of an older
//! import (retried) neither reads nor fills it, so a batch never sees another import's
//! records. It lives in the process (each server or worker keeps its own), is bounded in
//! records, and is dropped when the next import's first batch runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gantry_vuln::{Advisory, Matcher};

/// Parsed records kept at most in each index (a whole OSV import of every ecosystem is well
/// below).
const MAX_RECORDS: usize = 400_000;

struct Index<T> {
    epoch: String,
    records: usize,
    entries: HashMap<(String, String), Arc<T>>,
}

/// One import's values by lookup key: (ecosystem key, normalised name), or ("", id) for a
/// record read by its id.
pub(crate) struct Cache<T> {
    index: Mutex<Option<Index<T>>>,
    /// How many parsed records a value holds (a value without any costs one too).
    records: fn(&T) -> usize,
}

/// The prepared advisories of each package name.
pub(crate) static MATCHERS: Cache<Matcher> = Cache::new(|m| m.advisories().len());
/// Records read by id (the aliases that lend findings a rating).
pub(crate) static BY_ID: Cache<Vec<Advisory>> = Cache::new(Vec::len);

impl<T> Cache<T> {
    const fn new(records: fn(&T) -> usize) -> Self {
        Self {
            index: Mutex::new(None),
            records,
        }
    }

    /// The values of `names` under `scope` that the index of `epoch` holds, and the names it
    /// does not. Without an epoch (a batch queued by an older server) nothing is cached.
    pub(crate) fn lookup(
        &self,
        epoch: Option<&str>,
        scope: &str,
        names: &[String],
    ) -> (HashMap<String, Arc<T>>, Vec<String>) {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        let guard = self
            .index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = guard
            .as_ref()
            .filter(|i| epoch.is_some_and(|e| e == i.epoch));
        for name in names {
            match index.and_then(|i| i.entries.get(&(scope.to_owned(), name.clone()))) {
                Some(value) => {
                    found.insert(name.clone(), Arc::clone(value));
                }
                None => missing.push(name.clone()),
            }
        }
        (found, missing)
    }

    /// Keeps freshly made values of `epoch`; a newer epoch than the index's starts a new
    /// index, an older one is not kept.
    pub(crate) fn store(&self, epoch: Option<&str>, scope: &str, made: &HashMap<String, Arc<T>>) {
        let Some(epoch) = epoch else {
            return;
        };
        let mut guard = self
            .index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.as_ref().is_some_and(|i| i.epoch.as_str() > epoch) {
            return;
        }
        if guard.as_ref().is_none_or(|i| i.epoch != epoch) {
            *guard = Some(Index {
                epoch: epoch.to_owned(),
                records: 0,
                entries: HashMap::new(),
            });
        }
        let Some(index) = guard.as_mut() else {
            return;
        };
        for (name, value) in made {
            let cost = (self.records)(value).max(1);
            if index.records + cost > MAX_RECORDS {
                break;
            }
            index.records += cost;
            index
                .entries
                .insert((scope.to_owned(), name.clone()), Arc::clone(value));
        }
    }
}
