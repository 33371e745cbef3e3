//! Record ids: UUID version 7, made when a span starts.
//!
//! Opik's backend rejects ids of other versions, and orders by the v7 time prefix. The random
//! part comes from a thread-local fast RNG: ids only need to be unique, not unpredictable, and a
//! syscall or lock per span would cost more than the rest of the hot path.

use super::Timestamp;
use uuid::Uuid;

/// A UUID v7 whose time part is `at`.
#[inline]
pub fn new_id(at: Timestamp) -> Uuid {
    let random = fastrand::u128(..).to_le_bytes();
    let mut bytes = [0u8; 10];
    bytes.copy_from_slice(&random[..10]);
    uuid::Builder::from_unix_timestamp_millis(at.unix_millis(), &bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_and_carry_the_time() {
        let at = Timestamp::now();
        let id = new_id(at);
        assert_eq!(id.get_version_num(), 7);
        let (secs, _) = id.get_timestamp().unwrap().to_unix();
        assert_eq!(secs, at.unix_millis() / 1000);
        assert_ne!(new_id(at), new_id(at));
    }
}
