//! [`Attachment`]: a file that goes with a span or trace (an audio clip, a screenshot, a PDF),
//! uploaded apart from the record, as Opik stores and plays them.
//!
//! An attachment is data, not a task: adding one to a span makes a record of its own
//! ([`AttachmentRecord`]) that is queued after the span's, and the exporter uploads it. Bytes
//! are shared ([`bytes::Bytes`]: a `Vec<u8>` is taken without a copy); a file is only looked at
//! here (its size) and read by the exporter as it uploads, a piece at a time.

use super::{ByteCharge, ProjectName};
use bytes::Bytes;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use uuid::Uuid;

/// The MIME type of data whose type nobody gave.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// A file to upload with a span or trace, added with
/// [`SpanUpdate::attachment`](crate::SpanUpdate::attachment) (and the same setter on traces,
/// the explicit handles and hand-opened spans).
///
/// ```no_run
/// use opik::Attachment;
///
/// # fn wav() -> Vec<u8> { vec![0; 44] }
/// // Bytes made in memory, with a name and a type:
/// let audio = Attachment::from_bytes(wav(), "answer.wav", "audio/wav");
/// // A file, streamed from disk when it is uploaded (its type from the extension):
/// let report = Attachment::from_path("report.pdf")?;
/// opik::update_current_span(|s| {
///     s.attachment(audio).attachment(report);
/// });
/// # Ok::<(), opik::AttachmentError>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct Attachment {
    pub(crate) file_name: Arc<str>,
    pub(crate) mime_type: Arc<str>,
    pub(crate) data: AttachmentData,
}

/// Where an attachment's bytes are.
#[derive(Clone, Debug, PartialEq)]
pub enum AttachmentData {
    /// In memory.
    Bytes(Bytes),
    /// In a file, read when it is uploaded; `size` is what it had when it was attached.
    File {
        /// The file.
        path: PathBuf,
        /// Its size in bytes when it was attached.
        size: u64,
    },
}

/// Why [`Attachment::from_path`] could not take a file.
#[derive(Debug)]
pub struct AttachmentError {
    path: PathBuf,
    problem: String,
    source: Option<std::io::Error>,
}

impl fmt::Display for AttachmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "opik: cannot attach {}: {}",
            self.path.display(),
            self.problem
        )
    }
}

impl std::error::Error for AttachmentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl Attachment {
    /// Bytes held in memory, with the file name Opik shows (and stores it under: a second
    /// attachment of the same name on the same span replaces the first) and its MIME type
    /// (`audio/wav`, `image/png`...; an empty one becomes `application/octet-stream`).
    ///
    /// The bytes count against the SDK's memory budget (`max_buffered_bytes`) until they are
    /// uploaded.
    pub fn from_bytes(
        bytes: impl Into<Bytes>,
        file_name: impl Into<String>,
        mime_type: impl Into<String>,
    ) -> Attachment {
        let mime_type = mime_type.into();
        Attachment {
            file_name: file_name.into().into(),
            mime_type: if mime_type.trim().is_empty() {
                OCTET_STREAM.into()
            } else {
                mime_type.into()
            },
            data: AttachmentData::Bytes(bytes.into()),
        }
    }

    /// A file on disk, named by its last path component, its MIME type guessed from its
    /// extension (`application/octet-stream` when unknown). Only its size is read now: the
    /// exporter streams it when it uploads, so a large file never sits in memory whole; it
    /// must still be there, and readable, then.
    ///
    /// Fails, naming the path, when it is not a readable regular file, or is empty (Opik
    /// refuses empty files).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Attachment, AttachmentError> {
        let path = path.as_ref();
        let fail = |problem: String, source| AttachmentError {
            path: path.to_owned(),
            problem,
            source,
        };
        let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string(), Some(e)))?;
        if !meta.is_file() {
            return Err(fail("it is not a regular file".into(), None));
        }
        if meta.len() == 0 {
            return Err(fail(
                "it is empty, and Opik does not store empty files".into(),
                None,
            ));
        }
        // Opening it now finds a file that exists but cannot be read, while the caller can
        // still do something about it.
        std::fs::File::open(path).map_err(|e| fail(e.to_string(), Some(e)))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| fail("it has no file name".into(), None))?;
        let mime_type = mime_guess::from_path(path).first_or_octet_stream();
        Ok(Attachment {
            file_name: file_name.into(),
            mime_type: mime_type.essence_str().into(),
            data: AttachmentData::File {
                path: path.to_owned(),
                size: meta.len(),
            },
        })
    }

    /// The same attachment under another file name.
    pub fn with_file_name(mut self, file_name: impl Into<String>) -> Attachment {
        self.file_name = file_name.into().into();
        self
    }

    /// The same attachment with another MIME type.
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Attachment {
        self.mime_type = mime_type.into().into();
        self
    }

    /// The file name it is uploaded under.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Its MIME type.
    pub fn mime_type(&self) -> &str {
        &self.mime_type
    }

    /// Its size in bytes (a file's when it was attached).
    pub fn size(&self) -> u64 {
        match &self.data {
            AttachmentData::Bytes(b) => b.len() as u64,
            AttachmentData::File { size, .. } => *size,
        }
    }

    /// Where its bytes are.
    pub fn data(&self) -> &AttachmentData {
        &self.data
    }

    /// The bytes it holds in memory (none for a file).
    pub(crate) fn held_bytes(&self) -> usize {
        match &self.data {
            AttachmentData::Bytes(b) => b.len(),
            AttachmentData::File { .. } => 0,
        }
    }

    /// Why Opik would not take it, if it would not: checked where it is added, so the warning
    /// points at the call.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        if self.file_name.trim().is_empty() {
            Some("has an empty file name")
        } else if self.file_name.len() > MAX_FILE_NAME_BYTES {
            Some("has a file name over 255 bytes")
        } else if self.size() == 0 {
            Some("is empty, and Opik does not store empty files")
        } else {
            None
        }
    }
}

/// The longest file name the SDK sends (S3 keys allow 1024 bytes, but most file systems a user
/// downloads to stop at 255).
const MAX_FILE_NAME_BYTES: usize = 255;

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Attachment");
        d.field("file_name", &self.file_name)
            .field("mime_type", &self.mime_type)
            .field("size", &self.size());
        if let AttachmentData::File { path, .. } = &self.data {
            d.field("path", path);
        }
        d.finish()
    }
}

/// What an attachment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    /// A trace, by id.
    Trace(Uuid),
    /// A span, by id.
    Span(Uuid),
}

impl Entity {
    /// The `entity_type` Opik's attachment endpoints take.
    pub const fn type_name(self) -> &'static str {
        match self {
            Entity::Trace(_) => "trace",
            Entity::Span(_) => "span",
        }
    }

    /// The trace's or span's id.
    pub const fn id(self) -> Uuid {
        match self {
            Entity::Trace(id) | Entity::Span(id) => id,
        }
    }
}

/// An attachment to upload, queued like any record.
#[derive(Clone, Debug, PartialEq)]
pub struct AttachmentRecord {
    /// The trace or span it goes with.
    pub entity: Entity,
    /// The entity's project.
    pub project_name: ProjectName,
    /// The file.
    pub attachment: Attachment,
    /// Its bytes held against the pipe's byte budget, if it holds any.
    pub(crate) charge: Option<ByteCharge>,
    /// Counts it as dropped when it is dropped before it was uploaded.
    pub(crate) tally: Option<Tally>,
}

/// Counts an attachment that is dropped without having been uploaded, wherever that happens
/// (a full queue, the byte budget, a failed upload, the shutdown deadline): so the count of
/// attachments not uploaded needs no line at each of those places, and cannot miss one.
#[derive(Debug)]
pub(crate) struct Tally {
    dropped: Arc<AtomicU64>,
    armed: bool,
}

impl Tally {
    pub(crate) fn new(dropped: &Arc<AtomicU64>) -> Tally {
        Tally {
            dropped: Arc::clone(dropped),
            armed: true,
        }
    }

    /// The attachment was uploaded: its drop counts nothing.
    pub(crate) fn uploaded(mut self) {
        self.armed = false;
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        if self.armed {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A copy is not the attachment the app gave (records are copied for views, never for
/// delivery): it counts nothing.
impl Clone for Tally {
    fn clone(&self) -> Self {
        Tally {
            dropped: Arc::clone(&self.dropped),
            armed: false,
        }
    }
}

impl PartialEq for Tally {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_sized_and_typed_by_its_extension() {
        let dir = std::env::temp_dir().join(format!("opik-att-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("clip.wav");
        std::fs::write(&path, [1u8; 10]).unwrap();
        let a = Attachment::from_path(&path).unwrap();
        assert_eq!(
            (a.file_name(), a.mime_type(), a.size()),
            ("clip.wav", "audio/wav", 10)
        );
        assert_eq!(a.held_bytes(), 0, "a file is not read into memory");
        std::fs::write(&path, []).unwrap();
        let e = Attachment::from_path(&path).unwrap_err().to_string();
        assert!(e.contains("clip.wav") && e.contains("empty"), "{e}");
        let e = Attachment::from_path(dir.join("missing.png"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.png"), "{e}");
        let e = Attachment::from_path(&dir).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bytes_are_shared_and_checked_where_added() {
        let a = Attachment::from_bytes(vec![7u8; 3], "a.bin", "");
        assert_eq!(a.mime_type(), OCTET_STREAM);
        assert_eq!((a.size(), a.held_bytes()), (3, 3));
        assert_eq!(a.problem(), None);
        assert!(Attachment::from_bytes(Vec::new(), "e.bin", "x/y")
            .problem()
            .is_some());
        assert!(Attachment::from_bytes(vec![1], " ", "x/y")
            .problem()
            .is_some());
        assert!(Attachment::from_bytes(vec![1], "n".repeat(256), "x/y")
            .problem()
            .is_some());
    }
}
