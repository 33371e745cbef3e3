"""The Python SDK's `opik.evaluate` on the work `eval_throughput` gives the Rust SDK.

Run by `cargo run --release -p opik-benches --bin eval_throughput -- --python PYTHON`, which
starts the fake Opik and sets OPIK_URL_OVERRIDE; by hand:
    OPIK_URL_OVERRIDE=http://127.0.0.1:PORT/api python eval_python.py 1000 10 8
Prints one JSON line: the wall time of `evaluate` (which flushes before it returns), and the
time of the dataset insert before it (not measured).
"""
import json
import sys
import time

import opik
from opik.evaluation import metrics

items, task_ms, threads = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
client = opik.Opik()
dataset = client.get_or_create_dataset(f"bench-python-{threads}")
t0 = time.perf_counter()
dataset.insert([{"input": {"n": i}, "expected": f"answer {i}"} for i in range(items)])
insert = time.perf_counter() - t0


def task(item):
    time.sleep(task_ms / 1000)
    n = item["input"]["n"]
    return {"output": f"answer {n if n % 2 == 0 else n + 1}"}


t0 = time.perf_counter()
opik.evaluate(
    dataset=dataset,
    task=task,
    scoring_metrics=[
        metrics.Equals(),
        metrics.LevenshteinRatio(),
        metrics.RegexMatch(regex=r"^answer \d+$"),
    ],
    task_threads=threads,
    scoring_key_mapping={"reference": "expected"},
    experiment_name=f"python-{threads}",
    verbose=0,
)
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "insert_s": insert, "opik": opik.__version__}))
