#!/usr/bin/env bash
# npm packument latency for one package with 2,000 versions, full and abbreviated, against
# verdaccio serving the same versions.
#
#   bench/npm_packument.sh                     # from the repository root
#   VERSIONS=500 REQUESTS=300 bench/npm_packument.sh
#
# Environment:
#   GANTRY_BIN      server binary (default target/release/gantry; built with
#                   `cargo build --release -p gantry` when missing)
#   VERDACCIO       verdaccio binary (default target/test-tools/npm/node_modules/.bin/verdaccio,
#                   which scripts/test.sh installs)
#   VERSIONS        versions of the one package `benchpkg` (default 2000: 1.0.0 … 1.19.99)
#   REQUESTS        sequential packument requests per measurement, on one keep-alive
#                   connection, after 20 warm-up requests (default 1000; each measurement also
#                   stops after MAX_SECONDS, default 120)
#   COLD_REQUESTS   packument requests timed after a change (default 200; see step 2)
#   WAIT_QUIET_MAX  seconds to wait, before each measurement, for other processes to leave the
#                   CPU (default 60; 0 disables); the CPU they used is reported either way
#   BENCH_TMP, BENCH_KEEP   scratch directory location, and keep it when set
#
# Steps:
#  1. starts `gantry server` (SQLite) and publishes VERSIONS versions of `benchpkg` to the
#     public repository acme/dev with the publish document `npm publish` sends (each version's
#     package.json is about 1 KiB: description, repository, scripts, five dependencies, two
#     devDependencies, one peerDependency), timed;
#  2. GET /acme/dev/npm/benchpkg full (Accept: application/json) and abbreviated
#     (Accept: application/vnd.npm.install-v1+json, as npm install sends it), REQUESTS times
#     each; then COLD_REQUESTS times each right after moving a dist-tag, so that every one is
#     rendered afresh rather than served from the render cache. Target: p99 < 20 ms;
#  3. writes the same versions into a fresh verdaccio's storage (verdaccio 6, no uplinks) and
#     measures GET /benchpkg the same two ways.
# Every result is a JSON line on stdout (and in WORK/results.jsonl). All traffic goes to
# 127.0.0.1; the servers and the scratch directory are removed on exit (also on Ctrl-C).
set -euo pipefail
# Upstream peers run on 127.0.0.1, which Gantry refuses as an outbound target unless allowed.
export GANTRY_OUTBOUND_ALLOW_NETWORKS=${GANTRY_OUTBOUND_ALLOW_NETWORKS:-127.0.0.0/8}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY="$BENCH_DIR/python_index.py"
NPY="$BENCH_DIR/npm_packument.py"

VERSIONS=${VERSIONS:-2000}
REQUESTS=${REQUESTS:-1000}
COLD_REQUESTS=${COLD_REQUESTS:-200}
MAX_SECONDS=${MAX_SECONDS:-120}
WAIT_QUIET_MAX=${WAIT_QUIET_MAX:-60}
VERDACCIO=${VERDACCIO:-$REPO_ROOT/target/test-tools/npm/node_modules/.bin/verdaccio}
TOKEN="bench-$$-$RANDOM$RANDOM"
FULL="application/json"
ABBREVIATED="application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -z "${GANTRY_BIN:-}" ]; then
  GANTRY_BIN="$REPO_ROOT/target/release/gantry"
  if [ ! -x "$GANTRY_BIN" ]; then
    log "building $GANTRY_BIN (cargo build --release -p gantry)"
    (cd "$REPO_ROOT" && cargo build --release -p gantry >&2)
  fi
fi
[ -x "$GANTRY_BIN" ] || { echo "GANTRY_BIN=$GANTRY_BIN is not an executable" >&2; exit 1; }
[ -x "$VERDACCIO" ] || { echo "no verdaccio at $VERDACCIO (run scripts/test.sh, or set VERDACCIO)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "this benchmark needs python3" >&2; exit 1; }

SERVER_PIDS=()
WORK=""
cleanup() {
  local rc=$? pid
  for pid in "${SERVER_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${SERVER_PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" != 0 ] && [ -n "$WORK" ]; then
    for f in "$WORK"/*.stderr; do
      [ -s "$f" ] && { echo "--- last lines of $(basename "$f"):" >&2; tail -n 15 "$f" >&2; }
    done
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ -n "${BENCH_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}
WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/gantry-npm.XXXXXX")
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS="$WORK/results.jsonl"

emit() { # emit STEP JSON
  python3 -c 'import json,sys; d=json.loads(sys.argv[2]); print(json.dumps({"step": sys.argv[1], **d}))' "$1" "$2" \
    | tee -a "$RESULTS"
}

latency() { # latency LABEL BASE_URL PATH ACCEPT
  local pids
  pids=$(IFS=,; echo "${SERVER_PIDS[*]}")
  python3 "$PY" wait-quiet --own-pids "$pids" --max-wait "$WAIT_QUIET_MAX" >/dev/null
  emit "$1" "$(python3 "$PY" latency --url "$2" --path "$3" --accept "$4" --label "$1" \
    --requests "$REQUESTS" --max-seconds "$MAX_SECONDS" --own-pids "$pids")"
}

log "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) cores"
log "gantry: $GANTRY_BIN; verdaccio: $("$VERDACCIO" --version 2>/dev/null | tail -n1)"

# ---------------------------------------------------------------------------- 1. publish
GANTRY_ADMIN_TOKEN="$TOKEN" "$GANTRY_BIN" server --listen 127.0.0.1:0 --data-dir "$WORK/gantry-data" \
  >"$WORK/gantry.stdout" 2>"$WORK/gantry.stderr" &
GANTRY_PID=$!
SERVER_PIDS+=("$GANTRY_PID")
URL=""
for _ in $(seq 1 300); do
  URL=$(sed -n 's/^gantry listening on \(http:[^ ]*\).*/\1/p' "$WORK/gantry.stdout" | head -n1)
  [ -n "$URL" ] && break
  sleep 0.1
done
case "$URL" in http://127.0.0.1:*) ;; *) echo "gantry did not start" >&2; exit 1 ;; esac
curl -sS --fail-with-body -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"dev","private":false}' "$URL/api/v1/repos/acme" >/dev/null
log "1. publishing $VERSIONS versions of benchpkg to $URL/acme/dev/npm/"
emit publish "$(python3 "$NPY" publish --url "$URL" --token "$TOKEN" --prefix /acme/dev/npm --count "$VERSIONS")"
# The scans the publishes queued are background work: let them finish before measuring.
for _ in $(seq 1 600); do
  pending=$(curl -sS -H "Authorization: Bearer $TOKEN" "$URL/api/v1/security/acme/dev/summary" \
    | python3 -c 'import json,sys; s=json.load(sys.stdin)["by_status"]; print(s.get("awaiting_scan",0)+s.get("scanning",0))')
  [ "$pending" = 0 ] && break
  sleep 1
done

# ---------------------------------------------------------------------------- 2. gantry
log "2. gantry packument, $VERSIONS versions"
latency gantry-full "$URL" /acme/dev/npm/benchpkg "$FULL"
latency gantry-abbreviated "$URL" /acme/dev/npm/benchpkg "$ABBREVIATED"
# Renders after a change: a dist-tag moves before every request, so none is served from the
# render cache (the PUT is not timed).
for kind in full abbreviated; do
  accept=$FULL
  [ "$kind" = abbreviated ] && accept=$ABBREVIATED
  python3 "$PY" wait-quiet --own-pids "$GANTRY_PID" --max-wait "$WAIT_QUIET_MAX" >/dev/null
  emit "gantry-$kind-after-change" "$(python3 "$NPY" cold --url "$URL" --token "$TOKEN" --prefix /acme/dev/npm \
    --accept "$accept" --label "gantry-$kind-after-change" --requests "$COLD_REQUESTS")"
done

# ---------------------------------------------------------------------------- 3. verdaccio
VPORT=$(python3 "$PY" free-port)
mkdir -p "$WORK/verdaccio/storage"
emit verdaccio-storage "$(python3 "$NPY" verdaccio-storage --storage "$WORK/verdaccio/storage" --count "$VERSIONS")"
cat >"$WORK/verdaccio/config.yaml" <<YAML
storage: $WORK/verdaccio/storage
auth:
  htpasswd:
    file: $WORK/verdaccio/htpasswd
uplinks: {}
packages:
  '**':
    access: \$all
    publish: \$authenticated
log: { type: stdout, format: pretty, level: error }
YAML
"$VERDACCIO" --config "$WORK/verdaccio/config.yaml" --listen "127.0.0.1:$VPORT" \
  >"$WORK/verdaccio.stdout" 2>"$WORK/verdaccio.stderr" &
SERVER_PIDS+=("$!")
python3 "$PY" wait-http --url "http://127.0.0.1:$VPORT/benchpkg" --timeout 60 >/dev/null
log "3. verdaccio packument, $VERSIONS versions"
latency verdaccio-full "http://127.0.0.1:$VPORT" /benchpkg "$FULL"
latency verdaccio-abbreviated "http://127.0.0.1:$VPORT" /benchpkg "$ABBREVIATED"
log "done"
