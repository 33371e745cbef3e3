//! The prompt cache of an SDK client: a hot path that calls `get_prompt` per request makes no
//! request per call.
//!
//! - A version got by commit never changes: it is kept for good.
//! - The latest version is fresh for `prompt_cache_ttl` (the Python SDK's
//!   `OPIK_PROMPT_CACHE_TTL_SECONDS`, 5 minutes by default). After that it is **stale while
//!   revalidating**: a get answers it at once and fetches it again in the background, one
//!   fetch at a time; a fetch that fails (Opik down) keeps the stale version, served until a
//!   later fetch succeeds, and the next try waits [`RETRY_STALE`], so a down server costs a
//!   request every few seconds, not one per get.
//! - A prompt not cached yet is fetched once however many gets ask for it at the same time.
//! - At most [`MAX_ENTRIES`] prompts are kept (the Python SDK's bound); the least recently
//!   used goes first.
//!
//! Python refreshes stale entries from a thread of its own every TTL; here a get that finds
//! its entry stale starts the refresh on the caller's runtime, so that nothing runs while no
//! one asks.

use super::error::PromptError;
use super::version::PromptVersion;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The most prompts kept.
pub(super) const MAX_ENTRIES: usize = 128;

/// How long after a failed refresh a stale entry is fetched again (at most the TTL).
pub(super) const RETRY_STALE: Duration = Duration::from_secs(5);

/// Which version of which prompt.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub(super) name: String,
    /// `None`: the latest version.
    pub(super) commit: Option<String>,
    pub(super) project: String,
}

struct Entry {
    version: PromptVersion,
    fetched: Instant,
    /// A refresh is under way.
    refreshing: bool,
    /// Not refreshed again before this (after a failed refresh).
    not_before: Option<Instant>,
    /// When it was last used, for eviction.
    used: u64,
}

/// The cache of one SDK client.
pub(crate) struct PromptCache {
    ttl: Duration,
    entries: Mutex<HashMap<Key, Entry>>,
    /// One lock per prompt being fetched for the first time, so that concurrent first gets
    /// make one request.
    loading: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    uses: AtomicU64,
}

impl PromptCache {
    pub(crate) fn new(ttl: Duration) -> PromptCache {
        PromptCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
            uses: AtomicU64::new(0),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached version of `key` and whether it must be refreshed now (it is stale, no
    /// refresh runs, and the last failure was long enough ago).
    fn lookup(&self, key: &Key) -> Option<(PromptVersion, bool)> {
        let now = Instant::now();
        let used = self.uses.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.entries();
        let entry = entries.get_mut(key)?;
        entry.used = used;
        let stale = key.commit.is_none() && now.duration_since(entry.fetched) >= self.ttl;
        let refresh = stale && !entry.refreshing && entry.not_before.is_none_or(|t| now >= t);
        if refresh {
            entry.refreshing = true;
        }
        Some((entry.version.clone(), refresh))
    }

    /// Keeps `version` as the fresh answer for `key`.
    pub(super) fn put(&self, key: Key, version: PromptVersion) {
        let used = self.uses.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.entries();
        entries.insert(
            key,
            Entry {
                version,
                fetched: Instant::now(),
                refreshing: false,
                not_before: None,
                used,
            },
        );
        while entries.len() > MAX_ENTRIES {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => entries.remove(&k),
                None => break,
            };
        }
    }

    /// A refresh that did not bring a version: the stale one stays, tried again later.
    fn refresh_failed(&self, key: &Key) {
        if let Some(entry) = self.entries().get_mut(key) {
            entry.refreshing = false;
            entry.not_before = Some(Instant::now() + RETRY_STALE.min(self.ttl));
        }
    }

    /// The version of `key`: from the cache, else from `fetch` (once for concurrent
    /// callers). `None` (not found) is not cached.
    pub(super) async fn get<F, Fut>(
        self: &Arc<Self>,
        key: Key,
        fetch: F,
    ) -> Result<Option<PromptVersion>, PromptError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<PromptVersion>, PromptError>> + Send + 'static,
    {
        if let Some((version, refresh)) = self.lookup(&key) {
            if refresh {
                self.refresh(key, fetch).await;
            }
            return Ok(Some(version));
        }
        let lock = {
            let mut loading = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(loading.entry(key.clone()).or_default())
        };
        let _loading = lock.lock().await;
        // Another caller may have fetched it while this one waited.
        if let Some((version, _)) = self.lookup(&key) {
            return Ok(Some(version));
        }
        let fetched = fetch().await;
        if let Ok(Some(version)) = &fetched {
            self.put(key.clone(), version.clone());
        }
        self.loading
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        fetched
    }

    /// Fetches `key` again in the background (on the caller's tokio runtime), keeping the
    /// stale version if that fails; without a runtime to run it on, inline.
    async fn refresh<F, Fut>(self: &Arc<Self>, key: Key, fetch: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<PromptVersion>, PromptError>> + Send + 'static,
    {
        let cache = Arc::clone(self);
        let work = async move {
            match fetch().await {
                Ok(Some(version)) => cache.put(key, version),
                Ok(None) => cache.refresh_failed(&key),
                Err(e) => {
                    tracing::debug!(target: "opik", "opik: refreshing prompt {:?} failed ({e}); the cached version is still used", key.name);
                    cache.refresh_failed(&key);
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(work)),
            Err(_) => work.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::Prompt;
    use std::sync::atomic::AtomicUsize;

    fn version(template: &str) -> PromptVersion {
        Prompt::new("p", template).version().clone()
    }

    fn key(commit: Option<&str>) -> Key {
        Key {
            name: "p".into(),
            commit: commit.map(str::to_owned),
            project: "P".into(),
        }
    }

    #[test]
    fn concurrent_first_gets_fetch_once_and_stale_entries_survive_failures() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let cache = Arc::new(PromptCache::new(Duration::from_millis(50)));
            let calls = Arc::new(AtomicUsize::new(0));
            let counting = |answer: Result<&'static str, ()>| {
                let calls = Arc::clone(&calls);
                move || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        match answer {
                            Ok(t) => Ok(Some(version(t))),
                            Err(()) => Err(PromptError::NoServer { operation: "test" }),
                        }
                    }
                }
            };
            let gets: Vec<_> = (0..20)
                .map(|_| {
                    let cache = Arc::clone(&cache);
                    let fetch = counting(Ok("v1"));
                    tokio::spawn(async move { cache.get(key(None), fetch).await })
                })
                .collect();
            for g in gets {
                assert_eq!(g.await.unwrap().unwrap().unwrap().template(), "v1");
            }
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            tokio::time::sleep(Duration::from_millis(60)).await;
            // Stale, and the server is down: the stale version, and one refresh attempt.
            for _ in 0..10 {
                let got = cache
                    .get(key(None), counting(Err(())))
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(got.template(), "v1");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(calls.load(Ordering::SeqCst), 2);
            // The server is back: after the retry wait the refresh brings v2.
            tokio::time::sleep(RETRY_STALE.min(Duration::from_millis(50))).await;
            let _ = cache.get(key(None), counting(Ok("v2"))).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            let got = cache
                .get(key(None), counting(Ok("v3")))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got.template(), "v2");
        });
    }

    #[test]
    fn commits_never_go_stale_and_the_least_used_prompt_goes_first() {
        let cache = PromptCache::new(Duration::from_nanos(1));
        cache.put(key(Some("abcd1234")), version("pinned"));
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(
            cache.lookup(&key(Some("abcd1234"))).map(|(_, r)| r),
            Some(false)
        );
        for i in 0..MAX_ENTRIES {
            let k = Key {
                name: format!("p{i}"),
                ..key(None)
            };
            cache.put(k, version("x"));
        }
        assert_eq!(cache.entries().len(), MAX_ENTRIES);
        assert!(
            cache.lookup(&key(Some("abcd1234"))).is_none(),
            "evicted first"
        );
    }
}
