//! Small in-memory caches with a time to live, for lookups every request repeats (an API key's
//! environment, a provider's active integration). A bounded lifetime is what keeps several Herald
//! processes on one database consistent: a change made through another process is seen here
//! within the TTL at the latest; changes made through this process clear the cache at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Past this many entries a cache is emptied, so a flood of distinct keys cannot grow memory.
const MAX_ENTRIES: usize = 10_000;

/// Values remembered for `ttl` after they were inserted. A zero TTL caches nothing.
pub struct TtlCache<K, V> {
    ttl: Duration,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    entries: HashMap<K, (V, Instant)>,
    /// Bumped by every [`TtlCache::clear`], so that a value loaded before a clear is not cached
    /// after it.
    generation: u64,
}

/// When a value was loaded, relative to [`TtlCache::clear`] calls; see [`TtlCache::lookup`].
#[derive(Clone, Copy, Debug)]
pub struct Generation(u64);

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                generation: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value cached for `key` unless it has expired, else the generation to pass to
    /// [`TtlCache::insert`] with the value loaded from the store.
    pub fn lookup(&self, key: &K) -> Result<V, Generation> {
        let inner = self.lock();
        match inner.entries.get(key) {
            Some((value, at)) if at.elapsed() < self.ttl => Ok(value.clone()),
            _ => Err(Generation(inner.generation)),
        }
    }

    /// Caches `value`, loaded at `generation`, unless the cache was cleared since: whatever
    /// cleared it may have changed what the store answers.
    pub fn insert(&self, key: K, value: V, loaded: Generation) {
        if self.ttl.is_zero() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != loaded.0 {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(key, (value, Instant::now()));
    }

    /// Forgets everything, including values being loaded right now.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load<K: Eq + Hash + Clone, V: Clone>(cache: &TtlCache<K, V>, key: K, value: V) {
        let generation = cache.lookup(&key).err().expect("not cached yet");
        cache.insert(key, value, generation);
    }

    #[test]
    fn values_live_until_cleared_and_a_zero_ttl_caches_nothing() {
        let cache = TtlCache::new(Duration::from_secs(60));
        load(&cache, "a", 1);
        assert_eq!(cache.lookup(&"a").ok(), Some(1));
        assert!(cache.lookup(&"b").is_err());
        cache.clear();
        assert!(cache.lookup(&"a").is_err());

        let off = TtlCache::new(Duration::ZERO);
        load(&off, "a", 1);
        assert!(off.lookup(&"a").is_err());
    }

    #[test]
    fn a_value_loaded_before_a_clear_is_not_cached() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let loading = cache.lookup(&"a").unwrap_err();
        cache.clear();
        cache.insert("a", 1, loading);
        assert!(cache.lookup(&"a").is_err());
    }

    #[test]
    fn a_full_cache_starts_over_instead_of_growing() {
        let cache = TtlCache::new(Duration::from_secs(60));
        for i in 0..=MAX_ENTRIES {
            load(&cache, i, i);
        }
        assert!(cache.lookup(&0).is_err());
        assert_eq!(cache.lookup(&MAX_ENTRIES).ok(), Some(MAX_ENTRIES));
    }
}
