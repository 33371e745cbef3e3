//! [`LocalTransport`]: the request bodies appended to a JSON lines file, and the finished
//! traces printed as trees.

use super::view::TraceView;
use crate::export::transport::{EncodedBatch, SendFuture, SendOutcome, Transport, UploadFuture};
use crate::model::{AttachmentData, AttachmentRecord};
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The JSON lines file the local view writes when the configuration names none
/// (`ConfigBuilder::local_file` / `OPIK_LOCAL_FILE`): `opik-local-<unix seconds>-<pid>.jsonl` in
/// the system temp directory, a new file per run, so runs never mix.
pub fn default_path() -> PathBuf {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    std::env::temp_dir().join(format!("opik-local-{secs}-{}.jsonl", std::process::id()))
}

/// A [`Transport`] that writes request bodies to a JSON lines file and prints trace trees.
pub struct LocalTransport {
    file: Option<(PathBuf, BufWriter<File>)>,
    file_failed: bool,
    out: Box<dyn Write + Send>,
    view: TraceView,
}

impl std::fmt::Debug for LocalTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTransport")
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}

impl LocalTransport {
    /// Appends requests to `path` (created, with its parent directories, if missing) and prints
    /// trees to stderr. The error names the path.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| named(&path, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| named(&path, e))?;
        let mut transport = Self::print_only();
        transport.file = Some((path, BufWriter::new(file)));
        Ok(transport)
    }

    /// Prints trees to stderr and writes no file.
    pub fn print_only() -> Self {
        LocalTransport {
            file: None,
            file_failed: false,
            out: Box::new(io::stderr()),
            view: TraceView::default(),
        }
    }

    /// Prints the trees to `out` instead of stderr.
    #[must_use]
    pub fn with_output(mut self, out: impl Write + Send + 'static) -> Self {
        self.out = Box::new(out);
        self
    }

    /// The JSON lines file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(p, _)| p.as_path())
    }

    /// One request: `{"method":..,"path":..,"body":..}`.
    fn write_request(&mut self, batch: &EncodedBatch) {
        let (method, path) = (batch.kind.method(), batch.kind.path());
        let head = format!("{{\"method\":\"{method}\",\"path\":\"{path}\",\"body\":");
        // The body is compact JSON without newlines (serde_json escapes them in strings), so it
        // can sit in the line unchanged: the bytes the HTTP exporter would send.
        self.write_line(&[head.as_bytes(), &batch.json, b"}\n"]);
    }

    /// Appends the pieces of one line.
    fn write_line(&mut self, pieces: &[&[u8]]) {
        let Some((file_path, file)) = self.file.as_mut() else {
            return;
        };
        let result = (|| {
            for piece in pieces {
                file.write_all(piece)?;
            }
            // Flushed per request so that the file is complete whenever the program stops.
            file.flush()
        })();
        if let Err(e) = result {
            if !self.file_failed {
                self.file_failed = true;
                tracing::warn!(target: "opik", "opik local view: cannot write {}: {e}; trees are still printed", file_path.display());
            }
        }
    }

    fn print(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        // A closed stderr must not take the app down: printing is best effort.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }
}

fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("opik local view: cannot open {}: {e}", path.display()),
    )
}

impl Transport for LocalTransport {
    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> SendFuture<'a> {
        self.write_request(batch);
        let text = match serde_json::from_slice::<Value>(&batch.json) {
            Ok(body) => self.view.receive(batch.kind, body),
            Err(e) => format!("opik local view: a {} body is not JSON: {e}\n", batch.kind),
        };
        self.print(&text);
        Box::pin(std::future::ready(SendOutcome::Delivered))
    }

    /// Notes the attachment (its name, type and size; the bytes stay where they are): one
    /// `{"attachment": {..}}` line in the file (not a request: replaying the file skips it),
    /// and a line under its span or trace in the printed tree.
    fn upload(&mut self, attachment: AttachmentRecord) -> UploadFuture {
        let a = &attachment.attachment;
        let mut about = serde_json::json!({
            "project_name": &*attachment.project_name,
            "entity_type": attachment.entity.type_name(),
            "entity_id": attachment.entity.id().to_string(),
            "file_name": a.file_name(),
            "mime_type": a.mime_type(),
            "size": a.size(),
        });
        if let AttachmentData::File { path, .. } = a.data() {
            about["file"] = Value::String(path.display().to_string());
        }
        let line = format!("{{\"attachment\":{about}}}\n");
        self.write_line(&[line.as_bytes()]);
        let text = self.view.attach(attachment.entity.id().to_string(), about);
        self.print(&text);
        Box::pin(std::future::ready(SendOutcome::Delivered))
    }

    fn local_file(&self) -> Option<&Path> {
        self.path()
    }
}

impl Drop for LocalTransport {
    fn drop(&mut self) {
        let text = self.view.drain();
        self.print(&text);
        if let Some((_, file)) = self.file.as_mut() {
            let _ = file.flush();
        }
    }
}
