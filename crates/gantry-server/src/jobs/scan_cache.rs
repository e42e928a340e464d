//! Parsed advisory records shared by the batches of one import's rescans. An import of the
//! whole database queues hundreds of batches that ask for the same names again and again
//! (every version of a name is a package); reading and parsing each name's records once per
//! import leaves the batches only the matching.
//!
//! The index is keyed by the import's epoch (its start time, zero-padded, and a fresh id, in
//! each batch's payload): a batch of a newer import replaces it, and a batch of an older
//! import (retried) neither reads nor fills it, so records never outlive their import. It lives in the
//! process (each server or worker keeps its own) and is bounded in records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gantry_vuln::Advisory;

/// Parsed records kept at most (a whole OSV import of every ecosystem is well below).
const MAX_RECORDS: usize = 400_000;

/// Records of one lookup key: (ecosystem key, normalised name), or ("", id) for a record
/// read by its id.
pub(crate) type Records = Arc<Vec<Advisory>>;

struct Index {
    epoch: String,
    records: usize,
    entries: HashMap<(String, String), Records>,
}

static INDEX: Mutex<Option<Index>> = Mutex::new(None);

/// The records of `names` under `scope` that the index of `epoch` holds, and the names it
/// does not. Without an epoch (a batch queued by an older server) nothing is cached.
pub(crate) fn lookup(
    epoch: Option<&str>,
    scope: &str,
    names: &[String],
) -> (HashMap<String, Records>, Vec<String>) {
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    let guard = INDEX
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let index = guard
        .as_ref()
        .filter(|i| epoch.is_some_and(|e| e == i.epoch));
    for name in names {
        match index.and_then(|i| i.entries.get(&(scope.to_owned(), name.clone()))) {
            Some(records) => {
                found.insert(name.clone(), Arc::clone(records));
            }
            None => missing.push(name.clone()),
        }
    }
    (found, missing)
}

/// Keeps freshly parsed records of `epoch`; a newer epoch than the index's starts a new
/// index, an older one is not kept.
pub(crate) fn store(epoch: Option<&str>, scope: &str, parsed: &HashMap<String, Records>) {
    let Some(epoch) = epoch else {
        return;
    };
    let mut guard = INDEX
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
    for (name, records) in parsed {
        // A name without records costs an entry too.
        let cost = records.len().max(1);
        if index.records + cost > MAX_RECORDS {
            break;
        }
        index.records += cost;
        index
            .entries
            .insert((scope.to_owned(), name.clone()), Arc::clone(records));
    }
}
