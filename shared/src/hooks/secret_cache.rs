//! The push hook's memory of hook secrets: each known connection's secret (or that it has none) for a short
//! while, so that a connection's deliveries cost one Secrets Manager read a minute per warm instance.
//!
//! Only connections the state table knows get an entry (the service checks before it reads the vault), so
//! deliveries for made-up connection ids never fill it. Bounded, and full it gives up its least recently used entry,
//! one at a time (the `lru` crate): a burst of new connections costs the coldest ones a re-read, never every
//! tenant at once.

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::kernel::ids::ConnectionId;
use crate::secret::SecretString;

/// A connection's hook secret as last read, or its absence.
#[derive(Debug)]
struct Entry {
    read_at: Instant,
    secret: Option<SecretString>,
}

/// Hook secrets of known connections, each for `ttl`, at most `capacity` of them.
#[derive(Debug)]
pub struct SecretCache {
    ttl: Duration,
    entries: Mutex<LruCache<ConnectionId, Entry>>,
}

impl SecretCache {
    pub fn new(capacity: NonZeroUsize, ttl: Duration) -> Self {
        SecretCache {
            ttl,
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The connection's secret (`Some(None)`: it has none) if read less than `ttl` ago; marks it recently used.
    pub fn fresh(&self, connection: &ConnectionId) -> Option<Option<SecretString>> {
        let mut entries = self.entries();
        let entry = entries.get(connection)?;
        if entry.read_at.elapsed() < self.ttl {
            return Some(entry.secret.clone());
        }
        entries.pop(connection);
        None
    }

    /// Remembers what was just read; when full, the least recently used entry makes room, and only it.
    pub fn remember(&self, connection: ConnectionId, secret: Option<SecretString>) {
        let entry = Entry {
            read_at: Instant::now(),
            secret,
        };
        self.entries().put(connection, entry);
    }

    /// Whether the connection has an entry, fresh or not (without marking it used).
    #[cfg(test)]
    pub fn holds(&self, connection: &ConnectionId) -> bool {
        self.entries().contains(connection)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entries(&self) -> MutexGuard<'_, LruCache<ConnectionId, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> ConnectionId {
        ConnectionId::parse(name).unwrap()
    }

    fn cache(capacity: usize) -> SecretCache {
        SecretCache::new(
            NonZeroUsize::new(capacity).unwrap(),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn a_full_cache_evicts_its_least_recently_used_entry_and_only_it() {
        // given a full cache of three, whose oldest entry (a) was used again since
        let cache = cache(3);
        for name in ["a", "b", "c"] {
            cache.remember(id(name), Some(SecretString::new(name)));
        }
        assert!(cache.fresh(&id("a")).is_some());
        // when a fourth connection is remembered, then only b, the least recently used, is gone
        cache.remember(id("d"), None);
        assert_eq!(cache.len(), 3);
        assert!(!cache.holds(&id("b")));
        for name in ["a", "c", "d"] {
            assert!(cache.holds(&id(name)), "{name}");
        }
        // and each further connection takes one entry's place, never more
        for (n, name) in ["e", "f", "g", "h"].into_iter().enumerate() {
            cache.remember(id(name), None);
            assert_eq!(cache.len(), 3, "after {}", n + 1);
        }
        assert_eq!(
            cache.fresh(&id("h")).map(|s| s.is_none()),
            Some(true),
            "an absence is remembered as such"
        );
    }

    #[test]
    fn an_entry_older_than_its_ttl_is_read_again() {
        let cache = SecretCache::new(NonZeroUsize::new(2).unwrap(), Duration::ZERO);
        cache.remember(id("a"), Some(SecretString::new("s")));
        assert!(cache.fresh(&id("a")).is_none());
        assert!(cache.is_empty());
    }
}
