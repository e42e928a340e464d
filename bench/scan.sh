#!/usr/bin/env bash
# Vulnerability database import time, scan throughput and the latency of one scan.
#
#   bench/scan.sh                                   # from the repository root
#   PACKAGES=500 SCANS=50 bench/scan.sh
#   GANTRY_BIN=/tmp/t/release/gantry OSV_DIR=/work/shared/osv bench/scan.sh
#
# Environment:
#   GANTRY_BIN     server binary (default target/release/gantry; built with
#                  `cargo build --release -p gantry` when missing)
#   OSV_DIR        OSV bundles laid out as <Ecosystem>/all.zip (default /work/shared/osv)
#   PACKAGES       wheels uploaded for the throughput run (default 2000)
#   SCAN_WORKERS   job workers of the server during the throughput run (default 2, the server's
#                  default)
#   SCANS          scans in the latency run (default 100; plus SCANS/5 of the two packages with
#                  the most advisories)
#   RESCAN         1 (default) also times an import that rescans PACKAGES existing packages
#   ONLY_RESCAN    1 runs only step 5 (the import that rescans PACKAGES packages), after
#                  making the wheels; the server's "scan batch" log lines give the time spent
#                  reading advisory records, parsing them, matching alone, and writing
#   WAIT_QUIET_MAX seconds to wait, before each timed step, for other processes to leave the
#                  CPU (default 60; 0 disables); the CPU they used is reported either way
#   BACKEND        sqlite (default) or postgres: each server gets a fresh database in one
#                  throwaway cluster (scripts/pg.sh; needs createdb)
#   BENCH_TMP, BENCH_KEEP  as in bench/python_index.sh
#
# Steps:
#  1. a fresh server (BACKEND, default workers): `gantry vulndb import OSV_DIR` (every bundle;
#     the CLI uploads each zip to POST /api/v1/vulndb/import), timed; then the same import
#     again, which changes nothing;
#  2. the server is restarted with --workers 0 and PACKAGES tiny wheels are uploaded to acme/dev:
#     every PyPI name the advisories mention (sorted), at 0.0.1, then at 0.0.2, … — versions
#     below most `fixed` events, so most packages have findings. Each upload queues a scan job,
#     which stays queued;
#  3. the server is restarted with SCAN_WORKERS job workers; the time until every package has a
#     final scan status is the scan throughput (from the server's own `scanned_at` times);
#  4. with the queue empty, SCANS times in a row: POST /api/v1/packages/acme/dev/<slug>/scan for
#     a random package, then poll it every 2 ms until its status is final (p50/p99), then the
#     same for tensorflow-cpu and django (297 and 116 advisories);
#  5. (RESCAN=1) a second fresh server gets the PACKAGES wheels first (scanned against an empty
#     database), then the import: it queues a rescan of every package whose name it touched;
#     timed until every package is rescanned.
# Results are JSON lines on stdout (and in WORK/results.jsonl). All traffic goes to 127.0.0.1;
# servers and the scratch directory are removed on exit (also on Ctrl-C).
set -euo pipefail
# Upstream peers run on 127.0.0.1, which Gantry refuses as an outbound target unless allowed.
export GANTRY_OUTBOUND_ALLOW_NETWORKS=${GANTRY_OUTBOUND_ALLOW_NETWORKS:-127.0.0.0/8}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
PYI="$BENCH_DIR/python_index.py"
PYS="$BENCH_DIR/scan.py"

OSV_DIR=${OSV_DIR:-/work/shared/osv}
PACKAGES=${PACKAGES:-2000}
SCAN_WORKERS=${SCAN_WORKERS:-2}
SCANS=${SCANS:-100}
RESCAN=${RESCAN:-1}
ONLY_RESCAN=${ONLY_RESCAN:-0}
BACKEND=${BACKEND:-sqlite}
WAIT_QUIET_MAX=${WAIT_QUIET_MAX:-60}
TOKEN="bench-$$-$RANDOM$RANDOM"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

resolve_bin() {
  if [ -z "${GANTRY_BIN:-}" ]; then
    GANTRY_BIN="$REPO_ROOT/target/release/gantry"
    if [ ! -x "$GANTRY_BIN" ]; then
      log "building $GANTRY_BIN (cargo build --release -p gantry)"
      (cd "$REPO_ROOT" && cargo build --release -p gantry >&2)
      if [ ! -x "$GANTRY_BIN" ] && [ -n "${CARGO_TARGET_DIR:-}" ]; then
        GANTRY_BIN="$CARGO_TARGET_DIR/release/gantry"
      fi
    fi
  fi
  [ -x "$GANTRY_BIN" ] || { echo "GANTRY_BIN=$GANTRY_BIN is not an executable" >&2; exit 1; }
  GANTRY_BIN=$(cd "$(dirname "$GANTRY_BIN")" && pwd)/$(basename "$GANTRY_BIN")
}

SERVER_PIDS=()
WORK=""
PG_BASE=""
PG_PID=""
PG_DBS=" "
cleanup() {
  local rc=$?
  local pid
  for pid in "${SERVER_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${SERVER_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" != 0 ] && [ -n "$WORK" ]; then
    for f in "$WORK"/*.stderr; do
      [ -s "$f" ] || continue
      echo "--- last lines of $(basename "$f"):" >&2
      tail -n 15 "$f" >&2
    done
  fi
  if [ -n "$PG_BASE" ]; then
    "$REPO_ROOT/scripts/pg.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ -n "${BENCH_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}

command -v python3 >/dev/null || { echo "this benchmark needs python3" >&2; exit 1; }
[ -f "$OSV_DIR/PyPI/all.zip" ] || { echo "no $OSV_DIR/PyPI/all.zip (set OSV_DIR)" >&2; exit 1; }
resolve_bin
WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/gantry-scan.XXXXXX")
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS="$WORK/results.jsonl"
case "$BACKEND" in
  sqlite) ;;
  postgres)
    command -v createdb >/dev/null || { echo "BACKEND=postgres needs createdb" >&2; exit 1; }
    # Run as root, scripts/pg.sh hands the cluster to the postgres user, who must reach it.
    chmod 755 "$WORK"
    PG_BASE=$("$REPO_ROOT/scripts/pg.sh" start "$WORK/pg" | tail -n1)
    PG_PID=$(head -n1 "$WORK/pg/data/postmaster.pid")
    ;;
  *) echo "BACKEND=$BACKEND: sqlite or postgres" >&2; exit 2 ;;
esac

emit() { # emit STEP JSON
  python3 -c 'import json,sys; d=json.loads(sys.argv[2]); print(json.dumps({"step": sys.argv[1], **d}))' "$1" "$2" \
    | tee -a "$RESULTS"
}

quiet() { # quiet LABEL: waits for other processes to leave the CPU
  emit "quiet-before-$1" "$(python3 "$PYI" wait-quiet --own-pids "$(IFS=,; echo "${SERVER_PIDS[*]:-}${PG_PID:+,$PG_PID}")" \
    --max-wait "$WAIT_QUIET_MAX")" >/dev/null
}

# start_gantry NAME [server flags…]: sets GANTRY_PID, URL and START (Unix seconds, taken once
# the server has announced its address).
start_gantry() {
  local name=$1; shift
  local db=()
  if [ -n "$PG_BASE" ]; then
    # One database per server name: a restart keeps its data, a new name starts empty.
    case "$PG_DBS" in
      *" $name "*) ;;
      *) createdb -h 127.0.0.1 -p "${PG_BASE##*:}" -U postgres "gantry_$name"; PG_DBS+="$name " ;;
    esac
    db=(--database-url "$PG_BASE/gantry_$name")
  fi
  GANTRY_ADMIN_TOKEN="$TOKEN" "$GANTRY_BIN" server --listen 127.0.0.1:0 --data-dir "$WORK/$name-data" "${db[@]}" "$@" \
    >"$WORK/$name.stdout" 2>>"$WORK/$name.stderr" &
  GANTRY_PID=$!
  SERVER_PIDS+=("$GANTRY_PID")
  URL=""
  local i
  for i in $(seq 1 600); do
    URL=$(sed -n 's/^gantry listening on \(http:[^ ]*\).*/\1/p' "$WORK/$name.stdout" | head -n1)
    [ -n "$URL" ] && break
    kill -0 "$GANTRY_PID" 2>/dev/null || { echo "gantry exited early" >&2; exit 1; }
    sleep 0.05
  done
  START=$(date +%s.%N)
  case "$URL" in
    http://127.0.0.1:*) ;;
    *) echo "gantry did not report a 127.0.0.1 address (got '$URL')" >&2; exit 1 ;;
  esac
  log "gantry $name (pid $GANTRY_PID, $*) at $URL"
}

stop_gantry() {
  kill -TERM "$GANTRY_PID" 2>/dev/null || true
  wait "$GANTRY_PID" 2>/dev/null || true
  local keep=() pid
  for pid in "${SERVER_PIDS[@]}"; do [ "$pid" = "$GANTRY_PID" ] || keep+=("$pid"); done
  SERVER_PIDS=("${keep[@]:-}")
}

api() { # api METHOD PATH [JSON]
  if [ $# -ge 3 ]; then
    curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $TOKEN" \
      -H 'Content-Type: application/json' -d "$3" "$URL$2"
  else
    curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $TOKEN" "$URL$2"
  fi
}

# import LABEL: `gantry vulndb import OSV_DIR`, wall-clock timed
import_osv() {
  local label=$1 t0 t1 out
  t0=$(date +%s.%N)
  out=$(GANTRY_URL="$URL" GANTRY_TOKEN="$TOKEN" "$GANTRY_BIN" -F json vulndb import "$OSV_DIR")
  t1=$(date +%s.%N)
  emit "$label" "$(python3 -c '
import json, sys
d = json.loads(sys.argv[1]); wall = float(sys.argv[3]) - float(sys.argv[2])
d = {"wall_seconds": round(wall, 2), "server_seconds": round(d.pop("seconds"), 2), **d,
     "records_per_second_wall": round(d["records"] / wall, 1)}
print(json.dumps(d))' "$out" "$t0" "$t1")"
}

log "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) cores, kernel $(uname -r)"
log "gantry: $GANTRY_BIN; OSV bundles: $(cd "$OSV_DIR" && ls -d */ | tr -d / | tr '\n' ' ')"

if [ "$ONLY_RESCAN" = 1 ]; then
  emit spec "$(python3 "$PYS" spec --zip "$OSV_DIR/PyPI/all.zip" --count "$PACKAGES" --out "$WORK/spec.txt")"
  emit wheels "$(python3 "$PYI" wheels --out "$WORK/wheels" --spec "$WORK/spec.txt")"
  RESCAN=1
else
# ---------------------------------------------------------------------------- 1. import
start_gantry s1
quiet import
log "1. gantry vulndb import $OSV_DIR (fresh database)"
import_osv import-fresh
log "   and again (nothing changed)"
import_osv import-unchanged
emit vulndb-status "$(api GET /api/v1/vulndb)"

# ---------------------------------------------------------------------------- 2. upload, scans queued
stop_gantry
start_gantry s1 --workers 0
api POST /api/v1/repos/acme '{"name":"dev","private":false}' >/dev/null
emit spec "$(python3 "$PYS" spec --zip "$OSV_DIR/PyPI/all.zip" --count "$PACKAGES" --out "$WORK/spec.txt")"
emit wheels "$(python3 "$PYI" wheels --out "$WORK/wheels" --spec "$WORK/spec.txt")"
quiet upload
log "2. uploading $PACKAGES wheels with --workers 0 (their scan jobs stay queued)"
emit upload "$(python3 "$PYI" upload --url "$URL" --token "$TOKEN" --owner acme --repo dev \
  --dir "$WORK/wheels" --concurrency 4 --slugs-out "$WORK/slugs.json" --own-pids "$GANTRY_PID")"
stop_gantry

# ---------------------------------------------------------------------------- 3. throughput
quiet throughput
start_gantry s1 --workers "$SCAN_WORKERS"
log "3. draining $PACKAGES scan jobs with $SCAN_WORKERS workers"
emit drain "$(python3 "$PYS" wait-scanned --url "$URL" --token "$TOKEN" --owner acme --repo dev \
  --expect "$PACKAGES" --since "$START" --interval 0.5 --own-pids "$GANTRY_PID")"
emit scan-rate "$(python3 "$PYS" scan-times --url "$URL" --token "$TOKEN" --owner acme --repo dev \
  --slugs "$WORK/slugs.json" --since "$START" | python3 -c '
import json, sys
d = json.load(sys.stdin); d["workers"] = int(sys.argv[1])
rate = d.get("scans_per_second_since_start")
if rate:
    d["extrapolated_seconds_for_100000_same_mix"] = round(100000 / rate)
print(json.dumps(d))' "$SCAN_WORKERS")"

# ---------------------------------------------------------------------------- 4. latency
quiet latency
log "4. latency of one scan (POST …/scan, poll until final)"
OWN=$(IFS=,; echo "${SERVER_PIDS[*]}")
emit scan-latency "$(python3 "$PYS" scan-latency --url "$URL" --token "$TOKEN" --owner acme --repo dev \
  --slugs "$WORK/slugs.json" --count "$SCANS" --own-pids "$OWN" --label "random package")"
for heavy in tensorflow_cpu django; do
  emit "scan-latency-$heavy" "$(python3 "$PYS" scan-latency --url "$URL" --token "$TOKEN" --owner acme --repo dev \
    --slugs "$WORK/slugs.json" --count $((SCANS / 5)) --name "$heavy" --own-pids "$OWN" --label "$heavy")"
done
stop_gantry
fi

# ---------------------------------------------------------------------------- 5. import + rescans
if [ "$RESCAN" = 1 ]; then
  start_gantry s2
  api POST /api/v1/repos/acme '{"name":"dev","private":false}' >/dev/null
  log "5. $PACKAGES packages scanned against an empty database, then the import rescans them"
  quiet upload-s2
  emit upload-s2 "$(python3 "$PYI" upload --url "$URL" --token "$TOKEN" --owner acme --repo dev \
    --dir "$WORK/wheels" --concurrency 4 --slugs-out "$WORK/slugs-s2.json" --own-pids "$GANTRY_PID")"
  python3 "$PYS" wait-scanned --url "$URL" --token "$TOKEN" --owner acme --repo dev \
    --expect "$PACKAGES" --interval 0.5 >/dev/null
  quiet rescan
  T0=$(date +%s.%N)
  import_osv import-with-rescans
  emit rescan-drain "$(python3 "$PYS" wait-scanned --url "$URL" --token "$TOKEN" --owner acme --repo dev \
    --expect "$PACKAGES" --since "$T0" --interval 0.25 --own-pids "$GANTRY_PID")"
  # `since` is the start of the import here: the figures include the import itself.
  emit rescan-rate "$(python3 "$PYS" scan-times --url "$URL" --token "$TOKEN" --owner acme --repo dev \
    --slugs "$WORK/slugs-s2.json" --since "$T0")"
  stop_gantry
  # The batches' own figures: packages, and milliseconds reading and parsing the records
  # (once per name and import), matching alone, writing, and in all.
  emit rescan-batches "$(python3 -c '
import json, re, sys
n = m = t = w = r = p = 0.0; batches = 0
for line in open(sys.argv[1], errors="replace"):
    if "scan batch" not in line:
        continue
    f = dict(re.findall(r"(\w+)=([0-9.]+)", line))
    batches += 1; n += float(f.get("packages", 0)); m += float(f.get("matching_ms", 0))
    w += float(f.get("writing_ms", 0)); t += float(f.get("total_ms", 0))
    r += float(f.get("reading_ms", 0)); p += float(f.get("parsing_ms", 0))
out = {"batches": batches, "packages": int(n), "reading_ms": round(r, 1), "parsing_ms": round(p, 1),
       "matching_ms": round(m, 1), "writing_ms": round(w, 1), "total_ms": round(t, 1)}
if m:
    out["matching_packages_per_second"] = round(n / (m / 1000))
if t:
    out["batch_packages_per_second"] = round(n / (t / 1000))
print(json.dumps(out))' "$WORK/s2.stderr")"
fi
log "done"
