//! [`ByteCharge`]: the bytes a queued record holds, counted against its pipe's byte budget for
//! as long as the record lives (in the queue, in the exporter's lists, in a batch in flight),
//! and given back when it is dropped, wherever that happens.
//!
//! Only records with large payloads carry one (the pipe decides, see `pipe::Client::enqueue`):
//! the record count bounds the small ones, and the charge costs two atomic additions, which
//! are nothing next to capturing a large payload but would be much on a nested call of 100 ns.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes held against a pool; given back on drop.
pub struct ByteCharge {
    pool: Arc<AtomicU64>,
    bytes: u64,
}

impl ByteCharge {
    /// Charges `bytes` to `pool` if that keeps it at or below `max`; `None` (nothing charged)
    /// otherwise.
    pub(crate) fn try_new(pool: &Arc<AtomicU64>, bytes: u64, max: u64) -> Option<ByteCharge> {
        let held = pool.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if held > max {
            pool.fetch_sub(bytes, Ordering::Relaxed);
            return None;
        }
        Some(ByteCharge {
            pool: Arc::clone(pool),
            bytes,
        })
    }
}

impl Drop for ByteCharge {
    fn drop(&mut self) {
        self.pool.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// A copy of a record holds its bytes again, so it is charged again.
impl Clone for ByteCharge {
    fn clone(&self) -> Self {
        self.pool.fetch_add(self.bytes, Ordering::Relaxed);
        ByteCharge {
            pool: Arc::clone(&self.pool),
            bytes: self.bytes,
        }
    }
}

/// Two records are the same whatever they are charged.
impl PartialEq for ByteCharge {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for ByteCharge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ByteCharge({} B)", self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_given_back_and_the_budget_holds() {
        let pool = Arc::new(AtomicU64::new(0));
        let a = ByteCharge::try_new(&pool, 60, 100).expect("fits");
        assert!(
            ByteCharge::try_new(&pool, 50, 100).is_none(),
            "would pass 100"
        );
        assert_eq!(pool.load(Ordering::Relaxed), 60);
        let b = a.clone();
        assert_eq!(pool.load(Ordering::Relaxed), 120);
        drop((a, b));
        assert_eq!(pool.load(Ordering::Relaxed), 0);
    }
}
