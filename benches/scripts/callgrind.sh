#!/usr/bin/env bash
# Instructions per call of each overhead variant, counted by callgrind on the caller thread
# (repeatable on a loaded machine, unlike wall-clock figures). Usage, from the workspace root:
#   benches/scripts/callgrind.sh [N] [--queue CAPACITY] [VARIANT...]
# N calls per variant (default 20000). With --queue above N + N/1000, every record is queued;
# without it (SDK default 16384) most records of the run meet a full queue and are dropped.
set -euo pipefail
n=${1:-20000}
shift || true
queue=()
if [[ "${1:-}" == "--queue" ]]; then
  queue=(--queue "$2")
  shift 2
fi
variants=("$@")
if [[ ${#variants[@]} -eq 0 ]]; then
  variants=(plain_sync opik_off tracing_off fastrace_off
    opik_sync tracing_sync fastrace_sync
    plain_async opik_async tracing_async fastrace_async
    plain_args opik_args tracing_args fastrace_args)
fi
target=${CARGO_TARGET_DIR:-target}
[[ -n "${NO_BUILD:-}" ]] || cargo build --release -q -p opik-benches --bin callgrind_probe
out=$(mktemp -d)
printf '%-16s %12s\n' variant 'Ir/call'
for v in "${variants[@]}"; do
  valgrind --tool=callgrind --callgrind-out-file="$out/$v.out" --collect-atstart=no \
    --toggle-collect='*probe_loop*' "$target/release/callgrind_probe" "$v" "$n" "${queue[@]}" \
    >/dev/null 2>&1
  total=$(callgrind_annotate "$out/$v.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  printf '%-16s %12.1f\n' "$v" "$(echo "$total / $n" | bc -l)"
done
echo "(callgrind files in $out)"
