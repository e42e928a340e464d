#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ one after another, each for a set time, with a memory
# limit, then minimises each corpus back into fuzz/corpus/<target>. Not part of CI.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]     (default 90 s, every target)
# Needs: a nightly toolchain (rustup toolchain install nightly) and cargo-fuzz
# (cargo install cargo-fuzz). Prints one line per target: executions, seconds, outcome.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-90}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

# Instrumented for coverage without a sanitizer: the code under test forbids `unsafe`, so
# AddressSanitizer would find nothing the Rust checks do not, at twice the cost. Panics,
# aborts, timeouts and memory over the limit still count as crashes.
cargo +nightly fuzz build -O --sanitizer none

logs=$(mktemp -d /tmp/gantry-fuzz.XXXXXX)
status=0
total=0
printf '%-18s %14s %8s  %s\n' target executions seconds outcome
for target in "${targets[@]}"; do
  corpus="corpus/$target"
  work="$logs/$target-corpus"
  mkdir -p "$corpus" "$work" "artifacts/$target"
  # One process, one core: the machine is shared. 2 GiB RSS and 10 s per input are crashes.
  if nice -n 10 cargo +nightly fuzz run -O --sanitizer none "$target" "$work" "$corpus" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=262144 \
    -print_final_stats=1 >"$logs/$target.log" 2>&1; then
    outcome="ok"
  else
    outcome="CRASH (see fuzz/artifacts/$target, log $logs/$target.log)"
    status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$target.log" | tail -n1)
  took=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$target.log" | tail -n1)
  runs=${runs:-0}
  total=$((total + runs))
  printf '%-18s %14s %8s  %s (%s exec/s)\n' "$target" "$runs" "$seconds" "$outcome" "${took:-?}"
  # Keep the corpus small: only inputs that add coverage go back into the repository.
  cp -n "$work"/* "$corpus"/ 2>/dev/null || true
  cargo +nightly fuzz cmin -O --sanitizer none "$target" "$corpus" >/dev/null 2>&1 || true
  # What the repository keeps: the seeds and the 100 smallest inputs of the minimised set.
  ls -S -r "$corpus" | grep -v '^seed' | tail -n +101 | sed "s|^|$corpus/|" | xargs -r rm -f
done
printf '%-18s %14s\n' total "$total"
rm -rf "$logs"/*-corpus
exit "$status"
