//! Issue 15, datasets: get-or-create, inserts de-duplicated by content (also across dataset
//! objects, through the hash sync), items read back as a paged stream (10,000 items in pages of
//! 2000, never a repeat), updates, deletes, JSON lines, typed items; every body spec-valid.

mod common;

use fake_opik::{FakeOpik, Reply};
use futures_util::TryStreamExt;
use opik::evaluation::{Dataset, DatasetItem, EvaluationError};
use opik::Opik;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;

fn opik_for(server: &FakeOpik) -> Opik {
    Opik::new(common::client_for(server))
}

#[derive(Serialize)]
struct Situation {
    input: Tempo,
    expected_tip: &'static str,
}

#[derive(Serialize)]
struct Tempo {
    tempo_bpm: u32,
}

#[tokio::test]
async fn inserting_twice_adds_nothing_and_items_read_back_once() {
    let server = FakeOpik::start();
    let opik = opik_for(&server);
    let dataset = opik.dataset("situations").await.unwrap();
    assert!(dataset.id().is_some());
    let items = vec![
        json!({"input": {"tempo_bpm": 80}, "expected_tip": "steady"}),
        json!({"input": {"tempo_bpm": 92}, "expected_tip": "slow down"}),
        json!({"expected_tip": "steady", "input": {"tempo_bpm": 80}}), // same content, keys reordered
    ];
    let first = dataset.insert(&items).await.unwrap();
    assert_eq!((first.inserted, first.skipped), (2, 1));
    let again = dataset.insert(&items).await.unwrap();
    assert_eq!((again.inserted, again.skipped), (0, 3));
    // A `Vec<T>` of any `Serialize`.
    let typed = dataset
        .insert(vec![Situation {
            input: Tempo { tempo_bpm: 100 },
            expected_tip: "relax",
        }])
        .await
        .unwrap();
    assert_eq!(typed.inserted, 1);

    // Another object for the same dataset reads the items' hashes before its first insert.
    let other = opik.dataset("situations").await.unwrap();
    assert_eq!(other.id(), dataset.id());
    let third = other.insert(&items).await.unwrap();
    assert_eq!((third.inserted, third.skipped), (0, 3));

    let read: Vec<DatasetItem> = other.items().try_collect().await.unwrap();
    assert_eq!(read.len(), 3);
    assert_eq!(server.dataset_items("situations").len(), 3);
    assert_eq!(other.len().await.unwrap(), 3);
    let tempos: HashSet<u64> = read
        .iter()
        .map(|i| i.get("input").unwrap()["tempo_bpm"].as_u64().unwrap())
        .collect();
    assert_eq!(tempos, HashSet::from([80, 92, 100]));
    // Typed reads: the content (with `id`) as the caller's type.
    #[derive(serde::Deserialize)]
    struct Row {
        id: uuid::Uuid,
        expected_tip: String,
    }
    let row: Row = read[0].deserialize().unwrap();
    assert_eq!(row.id, read[0].id);
    assert!(!row.expected_tip.is_empty());

    // Update one item, delete another.
    let mut changed = read[0].clone();
    changed.data.insert("expected_tip".into(), json!("changed"));
    other.update(vec![changed.clone()]).await.unwrap();
    other.delete([read[1].id]).await.unwrap();
    let after: Vec<DatasetItem> = other.items().try_collect().await.unwrap();
    assert_eq!(after.len(), 2);
    assert!(after
        .iter()
        .any(|i| i.id == changed.id && i.data["expected_tip"] == "changed"));
    assert!(after.iter().all(|i| i.id != read[1].id));
    // Each insert, update and delete was one batch group: one version each.
    assert_eq!(server.dataset_versions("situations").len(), 4);
    // `create_dataset` refuses a name in use; `get_dataset` of an unknown name is a 404.
    let exists = opik.create_dataset("situations", None).await.unwrap_err();
    assert!(exists.to_string().contains("409"), "{exists}");
    let missing = opik.get_dataset("nope").await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    opik.delete_dataset("situations").await.unwrap();
    assert!(server.datasets().is_empty());
    server.assert_valid();
}

#[tokio::test]
async fn ten_thousand_items_stream_in_pages_without_repeats() {
    let server = FakeOpik::start();
    let opik = opik_for(&server);
    let dataset = opik.create_dataset("big", Some("10k items")).await.unwrap();
    let items: Vec<Value> = (0..10_000)
        .map(|i| json!({"input": {"n": i}, "expected": format!("{i}")}))
        .collect();
    let report = dataset.insert(items).await.unwrap();
    assert_eq!(report.inserted, 10_000);
    assert_eq!(
        server.request_count("PUT /datasets/items"),
        10,
        "batches of 1000"
    );
    assert_eq!(
        server.dataset_versions("big").len(),
        1,
        "one insert, one version"
    );

    let mut seen = HashSet::new();
    let mut stream = std::pin::pin!(dataset.items());
    let mut previous: Option<uuid::Uuid> = None;
    while let Some(item) = stream.try_next().await.unwrap() {
        if let Some(p) = previous {
            assert!(item.id < p, "newest first");
        }
        previous = Some(item.id);
        assert!(seen.insert(item.id), "no repeats");
    }
    assert_eq!(seen.len(), 10_000);
    let pages = server.bodies_to("POST /datasets/items/stream");
    assert_eq!(
        pages.len(),
        6,
        "five full pages of 2000 and the empty one that ends it"
    );
    assert!(pages.iter().all(|p| p["steam_limit"] == 2000));
    assert!(pages[0].get("last_retrieved_id").is_none());
    server.assert_valid();
}

#[tokio::test]
async fn json_lines_insert_and_local_datasets() {
    let path = std::env::temp_dir().join(format!("opik-rs-ds-{}.jsonl", std::process::id()));
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, r#"{{"input": "a", "expected": "1"}}"#).unwrap();
    writeln!(f).unwrap();
    writeln!(
        f,
        r#"{{"input": "b", "expected": "2", "description": "second"}}"#
    )
    .unwrap();
    writeln!(f, r#"{{"expected": "1", "input": "a"}}"#).unwrap();
    drop(f);

    let local = Dataset::from_jsonl("local", &path).unwrap();
    assert!(local.is_local() && local.id().is_none());
    let items: Vec<DatasetItem> = local.items().try_collect().await.unwrap();
    assert_eq!(items.len(), 2, "the duplicate line is left out");
    assert_eq!(items[1].description.as_deref(), Some("second"));

    let server = FakeOpik::start();
    let dataset = opik_for(&server).dataset("from-file").await.unwrap();
    let first = dataset.insert_jsonl(&path).await.unwrap();
    assert_eq!((first.inserted, first.skipped), (2, 1));
    assert_eq!(dataset.insert_jsonl(&path).await.unwrap().inserted, 0);
    server.assert_valid();

    std::fs::write(&path, "{\"ok\": 1}\n[1, 2]\n").unwrap();
    let bad = Dataset::from_jsonl("bad", &path).unwrap_err();
    assert!(
        matches!(bad, EvaluationError::InvalidItem { index: 1, .. })
            && bad.to_string().contains("line 2"),
        "{bad}"
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn without_a_server_dataset_calls_say_so() {
    let e = Opik::disabled().dataset("x").await.unwrap_err();
    assert!(matches!(e, EvaluationError::NoServer { .. }));
    assert!(e.to_string().contains("Dataset::from_jsonl"), "{e}");
}

#[tokio::test]
async fn rest_calls_wait_out_a_429_and_name_the_call_when_they_fail() {
    let server = FakeOpik::start();
    let opik = opik_for(&server);
    opik.create_dataset("limited", None).await.unwrap();
    server.script(
        "POST /datasets/retrieve",
        [
            Reply::status(429).header("Retry-After", "0.2"),
            Reply::status(429).header("RateLimit-Reset", "0.1"),
        ],
    );
    let started = std::time::Instant::now();
    let dataset = opik.get_dataset("limited").await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(dataset.name(), "limited");
    assert_eq!(server.request_count("POST /datasets/retrieve"), 3);

    // A refusal names the call, the status and the server's own message.
    server.script(
        "PUT /datasets/items",
        [Reply::status(400).json(r#"{"errors":["items: size must be between 1 and 1000"]}"#)],
    );
    let e = dataset.insert([json!({"a": 1})]).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "opik: PUT /v1/private/datasets/items failed: HTTP 400: items: size must be between 1 and 1000"
    );
    // Nothing was taken, so the same item goes in on the next insert.
    assert_eq!(dataset.insert([json!({"a": 1})]).await.unwrap().inserted, 1);
    server.assert_valid();
}
