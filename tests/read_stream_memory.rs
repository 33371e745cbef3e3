//! Issue 16: a search of 10,000 traces is streamed, never buffered whole. The traces are
//! written by the SDK (about 1 KiB of input each, 10+ MiB in all), then read back in pages of
//! 2000 (six requests, the last one empty), newest first, each once; the heap the reading
//! thread holds at its peak is measured by a counting allocator and must stay a small
//! fraction of what was read.
//!
//! Its own test binary: the global allocator counts for every test in it.

mod common;

use fake_opik::FakeOpik;
use opik::read::SearchOptions;
use opik::Opik;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Counts the bytes allocated and freed on threads that asked to be measured (the test's
/// own, which runs the stream on a current-thread runtime); the fake server's thread, which
/// builds its answers, is not measured.
struct Counting;

thread_local! {
    static MEASURED: Cell<bool> = const { Cell::new(false) };
}
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

fn measured() -> bool {
    MEASURED.try_with(Cell::get).unwrap_or(false)
}

fn count(delta: i64) {
    let live = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() && measured() {
            count(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if measured() {
            count(-(layout.size() as i64));
        }
        System.dealloc(p, layout)
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = System.realloc(p, layout, new_size);
        if !q.is_null() && measured() {
            count(new_size as i64 - layout.size() as i64);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TRACES: usize = 10_000;

#[test]
fn ten_thousand_traces_stream_in_bounded_memory() {
    let server = FakeOpik::start();
    let client = common::client_for(&server);
    let opik = Opik::new(client.clone());
    let filler = "x".repeat(1000);
    for i in 0..TRACES {
        let t = opik.trace("bulk");
        t.update(|u| {
            u.input(&serde_json::json!({"i": i, "text": filler}));
        });
        t.end();
    }
    assert!(client.flush(Duration::from_secs(120)).completed);
    assert_eq!(server.stored_counts().0, TRACES);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let (seen, bytes, peak) = rt.block_on(async {
        let mut found = opik.search_traces(SearchOptions::new()).unwrap();
        // The test's own bookkeeping is made before measuring starts.
        let mut seen = HashSet::with_capacity(TRACES);
        let mut at_page_starts = Vec::with_capacity(8);
        MEASURED.with(|m| m.set(true));
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let mut previous = None;
        let mut bytes = 0usize;
        while let Some(trace) = found.next().await {
            let trace = trace.unwrap();
            bytes += trace.input.as_ref().map_or(0, |v| v.to_string().len());
            if let Some(p) = previous {
                assert!(trace.id < p, "newest first");
            }
            previous = Some(trace.id);
            assert!(seen.insert(trace.id), "no repeats");
            if seen.len() % 2000 == 1 && seen.len() > 1 {
                at_page_starts.push(LIVE.load(Ordering::Relaxed) - base);
            }
        }
        let peak = PEAK.load(Ordering::Relaxed) - base;
        MEASURED.with(|m| m.set(false));
        // What is held does not grow with what was read: the same at every page's start.
        let (low, high) = (at_page_starts.iter().min(), at_page_starts.iter().max());
        assert!(
            high.unwrap() - low.unwrap() < 64 * 1024,
            "held at each page start: {at_page_starts:?}"
        );
        (seen.len(), bytes, peak)
    });
    let took = started.elapsed();
    assert_eq!(seen, TRACES);
    assert_eq!(
        server.request_count("/traces/search"),
        6,
        "5 full pages and an empty one"
    );
    eprintln!(
        "read {seen} traces ({:.1} MiB of input) in {took:.2?}; the reading thread's heap peaked \
         at {:.0} KiB above where it started",
        bytes as f64 / (1 << 20) as f64,
        peak as f64 / 1024.0
    );
    // The search buffered whole would be 10+ MiB. What the peak holds is the HTTP client's
    // buffers (hyper reads up to ~400 KiB ahead per connection, and a page's new request can
    // open a second connection while the first goes back to the pool), the chunk being read
    // and one record.
    assert!(
        (peak as usize) < bytes / 4,
        "peak {peak} bytes for {bytes} bytes read"
    );
    server.assert_valid();
}
