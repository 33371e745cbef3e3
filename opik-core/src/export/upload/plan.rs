//! How a file is cut into parts for Opik's multi-part upload, as the Python SDK cuts it
//! (`file_upload/s3_multipart_upload/file_parts_strategy.py`): 5 MiB parts, the last shorter,
//! at most 10 000 parts (S3's limits), parts made larger when a file needs more.

/// S3's smallest part (but the last).
pub(crate) const MIN_PART_SIZE: u64 = 5 << 20;
/// S3's largest part.
const MAX_PART_SIZE: u64 = 5 << 30;
/// S3's most parts per upload.
const MAX_PARTS: u64 = 10_000;

/// The parts of one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Parts {
    /// The file's size.
    pub(crate) size: u64,
    /// Every part's size but the last's.
    pub(crate) part_size: u64,
    /// How many parts.
    pub(crate) count: u64,
}

impl Parts {
    /// The parts of a file of `size` bytes, or why it cannot be uploaded.
    pub(crate) fn of(size: u64) -> Result<Parts, String> {
        if size == 0 {
            return Err("it is empty, and Opik does not store empty files".into());
        }
        let count = size.div_ceil(MIN_PART_SIZE).min(MAX_PARTS);
        let part_size = size.div_ceil(count).max(MIN_PART_SIZE);
        if part_size > MAX_PART_SIZE {
            return Err(format!(
                "it is {size} bytes, more than the {} bytes an upload can take",
                MAX_PART_SIZE * MAX_PARTS
            ));
        }
        Ok(Parts {
            size,
            part_size,
            count: size.div_ceil(part_size),
        })
    }

    /// The byte range of part `index` (0-based): its offset and length.
    pub(crate) fn range(&self, index: u64) -> (u64, u64) {
        let offset = index * self.part_size;
        (offset, self.part_size.min(self.size - offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_cut_as_the_python_sdk_cuts_them() {
        let one = Parts::of(10).unwrap();
        assert_eq!((one.count, one.range(0)), (1, (0, 10)));
        let mib = 1 << 20;
        let p = Parts::of(11 * mib).unwrap();
        assert_eq!(p.count, 3);
        assert_eq!(p.range(0), (0, 5 * mib));
        assert_eq!(p.range(2), (10 * mib, mib));
        let exact = Parts::of(10 * mib).unwrap();
        assert_eq!((exact.count, exact.range(1)), (2, (5 * mib, 5 * mib)));
        // Past 10 000 parts of 5 MiB, parts grow instead.
        let huge = Parts::of(MIN_PART_SIZE * MAX_PARTS * 3).unwrap();
        assert_eq!(huge.count, MAX_PARTS);
        assert_eq!(huge.part_size, MIN_PART_SIZE * 3);
        assert!(Parts::of(0).is_err());
        assert!(Parts::of(MAX_PART_SIZE * MAX_PARTS + 1).is_err());
        // Every byte is in exactly one part.
        for size in [1, mib, 5 * mib - 1, 5 * mib + 1, 123_456_789] {
            let p = Parts::of(size).unwrap();
            let total: u64 = (0..p.count).map(|i| p.range(i).1).sum();
            assert_eq!(total, size);
        }
    }
}
