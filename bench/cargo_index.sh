#!/usr/bin/env bash
# Cargo sparse-index latency: one crate with 2,000 versions (each with five dependencies —
# optional, target-specific, dev and build — and a `dep:` feature, as real crates have).
#
#   bench/cargo_index.sh                          # from the repository root
#   VERSIONS=500 REQUESTS=300 bench/cargo_index.sh
#
# Environment:
#   GANTRY_BIN     server binary (default target/release/gantry; built with
#                  `cargo build --release -p gantry` when missing)
#   VERSIONS       versions of the crate `benchcrate` (default 2000: 1.0.0 … 1.0.1999)
#   CONCURRENCY    keep-alive connections publishing (default 4)
#   REQUESTS       sequential index-file requests per measurement (default 1000, after 20
#                  warm-up requests; each measurement stops after MAX_SECONDS, default 60)
#   WAIT_QUIET_MAX seconds to wait for other processes to leave the CPU before measuring
#                  (default 60; 0 disables)
#   BENCH_TMP      where the scratch directory goes (default ${TMPDIR:-/tmp})
#   BENCH_KEEP     set to keep the scratch directory
#
# Steps:
#  1. starts `gantry server` (SQLite) and publishes VERSIONS versions of `benchcrate` to the
#     public repository acme/dev through the cargo publish API (PUT …/api/v1/crates/new, the
#     body cargo sends), CONCURRENCY keep-alive connections, timed;
#  2. GET /acme/dev/cargo/index/be/nc/benchcrate (the crate's index file) REQUESTS times on one
#     keep-alive connection, then with a new connection per request. Target: p99 < 10 ms;
#  3. the same on a private repository, with a token (authentication and access checks);
#  4. RERENDERS times (default 200): yank or un-yank 1.0.0, then GET the index file once —
#     the request after a change renders the file from the database again.
# Every result is a JSON line on stdout. All traffic goes to 127.0.0.1.
set -euo pipefail
# Upstream peers run on 127.0.0.1, which Gantry refuses as an outbound target unless allowed.
export GANTRY_OUTBOUND_ALLOW_NETWORKS=${GANTRY_OUTBOUND_ALLOW_NETWORKS:-127.0.0.0/8}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY="$BENCH_DIR/python_index.py"
CPY="$BENCH_DIR/cargo_index.py"

VERSIONS=${VERSIONS:-2000}
CONCURRENCY=${CONCURRENCY:-4}
REQUESTS=${REQUESTS:-1000}
MAX_SECONDS=${MAX_SECONDS:-60}
WAIT_QUIET_MAX=${WAIT_QUIET_MAX:-60}
TOKEN="bench-$$-$RANDOM$RANDOM"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -z "${GANTRY_BIN:-}" ]; then
  GANTRY_BIN="$REPO_ROOT/target/release/gantry"
  if [ ! -x "$GANTRY_BIN" ]; then
    log "building $GANTRY_BIN (cargo build --release -p gantry)"
    (cd "$REPO_ROOT" && cargo build --release -p gantry >&2)
  fi
fi
[ -x "$GANTRY_BIN" ] || { echo "GANTRY_BIN=$GANTRY_BIN is not an executable" >&2; exit 1; }
command -v python3 >/dev/null || { echo "this benchmark needs python3" >&2; exit 1; }

WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/gantry-cargoidx.XXXXXX")
GANTRY_PID=""
cleanup() {
  local rc=$?
  if [ -n "$GANTRY_PID" ]; then
    kill -TERM "$GANTRY_PID" 2>/dev/null || true
    wait "$GANTRY_PID" 2>/dev/null || true
  fi
  if [ "$rc" != 0 ] && [ -s "$WORK/gantry.stderr" ]; then
    tail -n 15 "$WORK/gantry.stderr" >&2
  fi
  if [ -n "${BENCH_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

GANTRY_ADMIN_TOKEN="$TOKEN" "$GANTRY_BIN" server --listen 127.0.0.1:0 --data-dir "$WORK/data" \
  >"$WORK/gantry.stdout" 2>"$WORK/gantry.stderr" &
GANTRY_PID=$!
URL=""
for _ in $(seq 1 300); do
  URL=$(sed -n 's/^gantry listening on \(http:[^ ]*\).*/\1/p' "$WORK/gantry.stdout" | head -n1)
  [ -n "$URL" ] && break
  kill -0 "$GANTRY_PID" 2>/dev/null || { echo "gantry exited early" >&2; exit 1; }
  sleep 0.1
done
case "$URL" in http://127.0.0.1:*) ;; *) echo "gantry did not start" >&2; exit 1 ;; esac
log "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) cores"
log "gantry (pid $GANTRY_PID) at $URL"

api() {
  curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d "$3" "$URL$2"
}
api POST /api/v1/repos/acme '{"name":"dev","private":false}' >/dev/null
api POST /api/v1/repos/acme '{"name":"priv","private":true}' >/dev/null

log "1. publishing $VERSIONS versions of benchcrate to acme/dev and acme/priv"
for repo in dev priv; do
  python3 "$CPY" publish --url "$URL" --token "$TOKEN" --owner acme --repo "$repo" \
    --count "$VERSIONS" --concurrency "$CONCURRENCY" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); d={"step":"publish-"+sys.argv[1],**d}; print(json.dumps(d))' "$repo"
done
# Scans queued by the publishes are background work: let them finish before measuring.
for _ in $(seq 1 600); do
  pending=$(curl -sS -H "Authorization: Bearer $TOKEN" "$URL/api/v1/security/acme/dev/summary" \
    | python3 -c 'import json,sys; s=json.load(sys.stdin)["by_status"]; print(s.get("awaiting_scan",0)+s.get("scanning",0))')
  [ "$pending" = 0 ] && break
  sleep 1
done

latency() { # latency LABEL PATH [extra args]
  local label=$1 path=$2; shift 2
  python3 "$PY" wait-quiet --own-pids "$GANTRY_PID" --max-wait "$WAIT_QUIET_MAX" >/dev/null
  python3 "$PY" latency --url "$URL" --path "$path" --label "$label" --requests "$REQUESTS" \
    --max-seconds "$MAX_SECONDS" --own-pids "$GANTRY_PID" "$@" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); d={"step":sys.argv[1],**d}; print(json.dumps(d))' "$label"
}

FILE=/acme/dev/cargo/index/be/nc/benchcrate
log "2. index file of $VERSIONS versions"
latency index-file-keepalive "$FILE"
latency index-file-new-connection-each "$FILE" --new-connection
log "3. the same on a private repository, with a token"
latency index-file-private-keepalive /acme/priv/cargo/index/be/nc/benchcrate --token "$TOKEN"
log "4. the first request after each change (a yank or un-yank), which renders the file anew"
python3 "$PY" wait-quiet --own-pids "$GANTRY_PID" --max-wait "$WAIT_QUIET_MAX" >/dev/null
python3 "$CPY" rerender --url "$URL" --token "$TOKEN" --owner acme --repo dev --requests "${RERENDERS:-200}" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); d={"step":"index-file-after-change",**d}; print(json.dumps(d))'
log "done; gantry RSS: $(awk '/VmRSS/ {print $2" kB"}' "/proc/$GANTRY_PID/status")"
