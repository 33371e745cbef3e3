//! [`Dataset`]: the items an evaluation runs over, kept by Opik (got from an [`Opik`] client)
//! or local (read from a JSON lines file, for running without a server).
//!
//! Inserts are de-duplicated by content on the client, as the Python SDK does: the dataset
//! object keeps the content hash of every item it inserted or read (a dataset that already
//! existed on the server is read once, page by page, before its first insert), and skips an
//! item whose hash it has. The server itself upserts by item id only.

use super::error::EvaluationError;
use super::item::DatasetItem;
use crate::api::Opik;
use crate::model::{new_id, Timestamp};
use crate::rest::{ItemStreamRequest, RestClient, MAX_ITEMS_PER_BATCH, MAX_STREAM_PAGE};
use futures_util::{Stream, StreamExt, TryStreamExt};
use serde::Serialize;
use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use uuid::Uuid;

/// JSON bytes per `PUT /datasets/items` body at most (the Python SDK's 5 MB, less a margin).
const MAX_BATCH_BYTES: usize = 4 << 20;

/// A dataset: its name and where its items are. Cheap to clone (clones share the items'
/// hashes, so de-duplication holds across them).
///
/// ```no_run
/// # async fn run() -> Result<(), opik::evaluation::EvaluationError> {
/// use futures_util::TryStreamExt;
/// let opik = opik::Opik::global();
/// let dataset = opik.dataset("practice-situations").await?; // get or create
/// let report = dataset
///     .insert([serde_json::json!({"input": {"tempo_bpm": 92}, "expected": "steady"})])
///     .await?;
/// println!("{} inserted, {} already there", report.inserted, report.skipped);
/// let items: Vec<_> = dataset.items().try_collect().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Dataset {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    place: Place,
    /// Hashes of the items known to be in the dataset, and whether that is all of them.
    hashes: tokio::sync::Mutex<Hashes>,
}

#[derive(Default)]
struct Hashes {
    set: HashSet<[u8; 32]>,
    synced: bool,
}

pub(crate) enum Place {
    Server(Server),
    Local(Mutex<Vec<DatasetItem>>),
}

/// A dataset kept by Opik.
#[derive(Clone)]
pub(crate) struct Server {
    pub(crate) rest: RestClient,
    pub(crate) opik: Opik,
    pub(crate) project: Option<String>,
    pub(crate) id: Uuid,
}

/// What an insert did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsertReport {
    /// Items sent (or, for a local dataset, added).
    pub inserted: usize,
    /// Items left out because an item with the same content is already in the dataset (or
    /// earlier in the same insert).
    pub skipped: usize,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Dataset");
        d.field("name", &self.inner.name);
        match &self.inner.place {
            Place::Server(s) => d.field("id", &s.id),
            Place::Local(_) => d.field("local", &true),
        };
        d.finish()
    }
}

impl Dataset {
    /// A dataset kept by Opik; `synced` when its hashes are complete already (a new dataset).
    pub(crate) fn on_server(name: String, server: Server, synced: bool) -> Dataset {
        Dataset {
            inner: Arc::new(Inner {
                name,
                place: Place::Server(server),
                hashes: tokio::sync::Mutex::new(Hashes {
                    set: HashSet::new(),
                    synced,
                }),
            }),
        }
    }

    /// A dataset held in memory only: for evaluating without an Opik server. Its items can
    /// be inserted, updated and deleted like a server dataset's (de-duplicated likewise);
    /// nothing is sent anywhere.
    pub fn local(name: impl Into<String>) -> Dataset {
        Dataset {
            inner: Arc::new(Inner {
                name: name.into(),
                place: Place::Local(Mutex::new(Vec::new())),
                hashes: tokio::sync::Mutex::new(Hashes {
                    set: HashSet::new(),
                    synced: true,
                }),
            }),
        }
    }

    /// A local dataset ([`Dataset::local`]) of the JSON lines file at `path`: one JSON object a
    /// line (blank lines skipped), each an item as [`DatasetItem::new`] reads it. Duplicates
    /// are left out.
    pub fn from_jsonl(
        name: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> Result<Dataset, EvaluationError> {
        let dataset = Dataset::local(name);
        let items = read_jsonl(path.as_ref())?;
        let mut hashes = dataset
            .inner
            .hashes
            .try_lock()
            .expect("a dataset just made is not locked");
        dataset.insert_local(&mut hashes, items);
        drop(hashes);
        Ok(dataset)
    }

    /// The dataset's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The dataset's id in Opik (`None` for a local dataset).
    pub fn id(&self) -> Option<Uuid> {
        self.server().map(|s| s.id)
    }

    /// Whether the dataset is local (held in memory, not in Opik).
    pub fn is_local(&self) -> bool {
        matches!(self.inner.place, Place::Local(_))
    }

    pub(crate) fn server(&self) -> Option<&Server> {
        match &self.inner.place {
            Place::Server(s) => Some(s),
            Place::Local(_) => None,
        }
    }

    /// Inserts `items` (JSON objects, or anything that serializes as one: see
    /// [`DatasetItem::new`]), leaving out those whose content the dataset has already. One
    /// call makes one new version of a server dataset, in batches of at most 1000 items.
    pub async fn insert<T, I>(&self, items: I) -> Result<InsertReport, EvaluationError>
    where
        T: Serialize,
        I: IntoIterator<Item = T>,
    {
        let items = items
            .into_iter()
            .enumerate()
            .map(|(i, v)| DatasetItem::new(&v).map_err(|e| e.at(i)))
            .collect::<Result<Vec<_>, _>>()?;
        self.insert_items(items).await
    }

    /// Inserts the items of the JSON lines file at `path` (see [`Dataset::from_jsonl`]).
    pub async fn insert_jsonl(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<InsertReport, EvaluationError> {
        let items = read_jsonl(path.as_ref())?;
        self.insert_items(items).await
    }

    /// Inserts items already made (their ids kept), de-duplicated by content.
    pub async fn insert_items(
        &self,
        items: Vec<DatasetItem>,
    ) -> Result<InsertReport, EvaluationError> {
        match &self.inner.place {
            Place::Local(_) => {
                let mut hashes = self.inner.hashes.lock().await;
                Ok(self.insert_local(&mut hashes, items))
            }
            Place::Server(server) => {
                let mut hashes = self.inner.hashes.lock().await;
                if !hashes.synced {
                    self.sync_hashes(&mut hashes).await?;
                }
                let mut report = InsertReport::default();
                let mut fresh = Vec::with_capacity(items.len());
                let mut seen = HashSet::new();
                for item in items {
                    let hash = item.content_hash();
                    if hashes.set.contains(&hash) || !seen.insert(hash) {
                        report.skipped += 1;
                    } else {
                        fresh.push((hash, item));
                    }
                }
                self.upload(server, &mut hashes, fresh, &mut report).await?;
                Ok(report)
            }
        }
    }

    /// Replaces the items of the same ids (or adds them), without de-duplication: an update
    /// is meant to change what an item says.
    pub async fn update(&self, items: Vec<DatasetItem>) -> Result<InsertReport, EvaluationError> {
        match &self.inner.place {
            Place::Local(list) => {
                let mut hashes = self.inner.hashes.lock().await;
                let mut list = list.lock().unwrap_or_else(PoisonError::into_inner);
                for item in items {
                    hashes.set.insert(item.content_hash());
                    match list.iter_mut().find(|i| i.id == item.id) {
                        Some(old) => *old = item,
                        None => list.push(item),
                    }
                }
                Ok(InsertReport::default())
            }
            Place::Server(server) => {
                let mut hashes = self.inner.hashes.lock().await;
                let mut report = InsertReport::default();
                let items = items.into_iter().map(|i| (i.content_hash(), i)).collect();
                self.upload(server, &mut hashes, items, &mut report).await?;
                // An update can change an item's content: its old hash is not known here.
                hashes.synced = false;
                Ok(report)
            }
        }
    }

    /// Deletes the items of these ids (one new version of a server dataset).
    pub async fn delete(&self, ids: impl IntoIterator<Item = Uuid>) -> Result<(), EvaluationError> {
        let ids: Vec<Uuid> = ids.into_iter().collect();
        let mut hashes = self.inner.hashes.lock().await;
        match &self.inner.place {
            Place::Local(list) => {
                let mut list = list.lock().unwrap_or_else(PoisonError::into_inner);
                list.retain(|i| {
                    let keep = !ids.contains(&i.id);
                    if !keep {
                        hashes.set.remove(&i.content_hash());
                    }
                    keep
                });
            }
            Place::Server(server) => {
                let group = new_id(Timestamp::now());
                for chunk in ids.chunks(MAX_ITEMS_PER_BATCH) {
                    server.rest.delete_items(group, chunk).await?;
                }
                // Which hashes went with them is not known without reading them back.
                hashes.synced = false;
                hashes.set.clear();
            }
        }
        Ok(())
    }

    /// Deletes every item.
    pub async fn clear(&self) -> Result<(), EvaluationError> {
        let ids: Vec<Uuid> = self.items().map_ok(|i| i.id).try_collect().await?;
        if ids.is_empty() {
            return Ok(());
        }
        self.delete(ids).await
    }

    /// Every item, newest first, as a stream: a server dataset is read a page (2000 items)
    /// at a time, so a large one is never held in memory whole. Consume it with
    /// `futures_util::StreamExt` / `TryStreamExt`.
    pub fn items(
        &self,
    ) -> impl Stream<Item = Result<DatasetItem, EvaluationError>> + Send + 'static {
        self.items_of(None, MAX_STREAM_PAGE)
    }

    /// The items of version `version` (a hash; `None`: the latest), in pages of `page`.
    pub(crate) fn items_of(
        &self,
        version: Option<String>,
        page: u32,
    ) -> futures_util::stream::BoxStream<'static, Result<DatasetItem, EvaluationError>> {
        match &self.inner.place {
            Place::Local(list) => {
                let items = list.lock().unwrap_or_else(PoisonError::into_inner).clone();
                futures_util::stream::iter(items.into_iter().map(Ok)).boxed()
            }
            Place::Server(server) => {
                stream_server(server.clone(), self.inner.name.clone(), version, page).boxed()
            }
        }
    }

    /// How many items the dataset has (a server dataset asks Opik).
    pub async fn len(&self) -> Result<u64, EvaluationError> {
        match &self.inner.place {
            Place::Local(list) => {
                Ok(list.lock().unwrap_or_else(PoisonError::into_inner).len() as u64)
            }
            Place::Server(s) => Ok(s
                .rest
                .dataset_by_id(s.id)
                .await?
                .dataset_items_count
                .unwrap_or(0)),
        }
    }

    /// Whether the dataset has no items.
    pub async fn is_empty(&self) -> Result<bool, EvaluationError> {
        Ok(self.len().await? == 0)
    }

    fn insert_local(&self, hashes: &mut Hashes, items: Vec<DatasetItem>) -> InsertReport {
        let Place::Local(list) = &self.inner.place else {
            unreachable!("only local datasets are inserted into locally");
        };
        let mut list = list.lock().unwrap_or_else(PoisonError::into_inner);
        let mut report = InsertReport::default();
        for item in items {
            if hashes.set.insert(item.content_hash()) {
                list.push(item);
                report.inserted += 1;
            } else {
                report.skipped += 1;
            }
        }
        report
    }

    /// Hashes every item already on the server, a page at a time.
    async fn sync_hashes(&self, hashes: &mut Hashes) -> Result<(), EvaluationError> {
        let mut items = self.items();
        while let Some(item) = items.next().await {
            hashes.set.insert(item?.content_hash());
        }
        hashes.synced = true;
        Ok(())
    }

    /// Sends `items` in batches (one batch group: one new version), adding each batch's
    /// hashes once it was taken.
    async fn upload(
        &self,
        server: &Server,
        hashes: &mut Hashes,
        items: Vec<([u8; 32], DatasetItem)>,
        report: &mut InsertReport,
    ) -> Result<(), EvaluationError> {
        if items.is_empty() {
            return Ok(());
        }
        let group = new_id(Timestamp::now());
        let mut batch = Vec::new();
        let mut batch_hashes = Vec::new();
        let mut bytes = 0;
        let total = items.len();
        for (n, (hash, item)) in items.into_iter().enumerate() {
            let write = item.to_write();
            bytes += serde_json::to_vec(&write).map_or(0, |v| v.len());
            batch.push(write);
            batch_hashes.push(hash);
            if batch.len() == MAX_ITEMS_PER_BATCH || bytes >= MAX_BATCH_BYTES || n + 1 == total {
                let project = server.project.as_deref();
                server
                    .rest
                    .put_items(&self.inner.name, project, group, &batch)
                    .await?;
                report.inserted += batch.len();
                hashes.set.extend(batch_hashes.drain(..));
                batch.clear();
                bytes = 0;
            }
        }
        Ok(())
    }
}

/// The items stream of a server dataset: pages below the last id received, newest first,
/// until a short page.
fn stream_server(
    server: Server,
    name: String,
    version: Option<String>,
    page: u32,
) -> impl Stream<Item = Result<DatasetItem, EvaluationError>> + Send + 'static {
    let page = page.clamp(1, MAX_STREAM_PAGE);
    let pages = futures_util::stream::try_unfold(
        (Some(None::<Uuid>), server, name, version),
        move |(cursor, server, name, version)| async move {
            let Some(last) = cursor else {
                return Ok(None);
            };
            let request = ItemStreamRequest {
                dataset_name: &name,
                project_name: server.project.as_deref(),
                steam_limit: page,
                last_retrieved_id: last,
                dataset_version: version.as_deref(),
            };
            let items = server.rest.stream_items(&request).await?;
            let next = match items.last() {
                Some(item) if items.len() as u32 >= page => Some(Some(item.id)),
                _ => None,
            };
            let items: Vec<Result<DatasetItem, EvaluationError>> = items
                .into_iter()
                .map(|i| Ok(DatasetItem::from_public(i)))
                .collect();
            Ok::<_, EvaluationError>(Some((
                futures_util::stream::iter(items),
                (next, server, name, version),
            )))
        },
    );
    pages.try_flatten()
}

/// The items of a JSON lines file, each line an object.
fn read_jsonl(path: &Path) -> Result<Vec<DatasetItem>, EvaluationError> {
    let io = |source| EvaluationError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut items = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line).map_err(|e| {
            EvaluationError::invalid_item(
                items.len(),
                format!("line {} of {} is not JSON: {e}", n + 1, path.display()),
            )
        })?;
        let item = DatasetItem::from_value(value).map_err(|e| match e {
            EvaluationError::InvalidItem { message, .. } => EvaluationError::invalid_item(
                items.len(),
                format!("line {} of {}: {message}", n + 1, path.display()),
            ),
            other => other,
        })?;
        items.push(item);
    }
    Ok(items)
}
