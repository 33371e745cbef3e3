#!/usr/bin/env python3
"""Medians and ranges of the last criterion run, one line per benchmark.

Usage, from the workspace root: benches/scripts/summarize.py [TARGET_DIR]
Reads TARGET_DIR/criterion/<group>/<bench>/new/{estimates,sample}.json (TARGET_DIR defaults to
$CARGO_TARGET_DIR or ./target). "median" is criterion's median per-iteration time with its 95%
confidence interval; "range" is the fastest and slowest sample's per-iteration time.
"""
import json
import os
import sys
from pathlib import Path

target = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", "target"))
root = target / "criterion"
if not root.is_dir():
    sys.exit(f"no criterion results under {root}")


def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.2f} ns"


print(f"{'benchmark':42} {'median [95% CI]':34} {'range of samples':24}")
for est in sorted(root.glob("*/*/new/estimates.json")):
    bench = est.parent.parent
    sample = json.loads((est.parent / "sample.json").read_text())
    per_iter = [t / n for t, n in zip(sample["times"], sample["iters"])]
    median = json.loads(est.read_text())["median"]
    ci = median["confidence_interval"]
    name = f"{bench.parent.name}/{bench.name}"
    print(
        f"{name:42} {fmt(median['point_estimate']):>10} [{fmt(ci['lower_bound'])} - {fmt(ci['upper_bound'])}]"
        f"   {fmt(min(per_iter))} - {fmt(max(per_iter))}"
    )
