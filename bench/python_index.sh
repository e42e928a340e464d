#!/usr/bin/env bash
# Python simple-index latency with one project of 5,000 versions, against pypiserver, and a
# cached upstream file against a local one.
#
#   bench/python_index.sh                         # from the repository root
#   VERSIONS=1000 REQUESTS=300 bench/python_index.sh
#   GANTRY_BIN=/tmp/t/release/gantry GANTRY_TOOLS=/path/venv/bin bench/python_index.sh
#
# Environment:
#   GANTRY_BIN     server binary (default target/release/gantry; built with
#                  `cargo build --release -p gantry` when missing)
#   GANTRY_TOOLS   directory with pypi-server (default target/test-tools/venv/bin; created with
#                  `python3 -m venv target/test-tools/venv && …/pip install twine uv pypiserver`
#                  when missing)
#   VERSIONS       wheels of the one project `benchproj` (default 5000: 1.0.0 … 1.0.4999)
#   CONCURRENCY    keep-alive connections used for the uploads (default 4)
#   REQUESTS       sequential project-page requests per measurement (default 1000, after 20
#                  warm-up requests; each measurement also stops after MAX_SECONDS, default 60)
#   DOWNLOADS      sequential downloads per file in the upstream comparison (default 200)
#   WAIT_QUIET_MAX seconds to wait, before each measurement, for other processes to leave the
#                  CPU (default 60; 0 disables). The CPU other processes used during each
#                  measurement is reported next to it either way.
#   BENCH_TMP      where the scratch directory goes (default ${TMPDIR:-/tmp})
#   BENCH_KEEP     set to keep the scratch directory (data, logs, results.jsonl)
#
# Steps:
#  1. builds VERSIONS minimal wheels of `benchproj` (zipfile: pkg/__init__.py, METADATA, WHEEL,
#     RECORD), plus three files for step 5;
#  2. starts `gantry server` (SQLite, default job workers) and uploads the wheels to the public
#     repository acme/dev through the legacy upload API (what twine uses), CONCURRENCY keep-alive
#     connections, timed;
#  3. GET /acme/dev/python/simple/benchproj/ as HTML (Accept: text/html) and as JSON
#     (Accept: application/vnd.pypi.simple.v1+json), REQUESTS times each on one keep-alive
#     connection, and HTML once more with a new connection per request (pypiserver's default
#     server closes every connection, so that is the like-for-like figure). Target: p99 < 10 ms;
#  4. starts pypiserver on the same directory (`pypi-server run -p PORT -i 127.0.0.1
#     --disable-fallback -a . -P . DIR…`) and measures GET /simple/benchproj/ the same way;
#  5. repository acme/proxy gets a `cache` upstream pointing at pypiserver. Its project page
#     (1 cached file + VERSIONS-1 upstream entries from the index cache) is measured; one tiny
#     wheel (benchproj 1.0.0) and one 1 MiB wheel (bigup 1.0.0) are downloaded once through
#     /acme/proxy/python/upstream/<id>/<file> (stored as packages on the way); pypiserver is
#     then stopped and each cached file is downloaded DOWNLOADS times through the upstream route
#     and through its /files/ route, next to locally uploaded wheels of the same sizes
#     (localproj 1.0.0, biglocal 1.0.0) — on one keep-alive connection, then with a new
#     connection per request.
# Every result is a JSON line on stdout (and in WORK/results.jsonl). All traffic goes to
# 127.0.0.1; the servers and the scratch directory are removed on exit (also on Ctrl-C).
set -euo pipefail
# Upstream peers run on 127.0.0.1, which Gantry refuses as an outbound target unless allowed.
export GANTRY_OUTBOUND_ALLOW_NETWORKS=${GANTRY_OUTBOUND_ALLOW_NETWORKS:-127.0.0.0/8}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY="$BENCH_DIR/python_index.py"

VERSIONS=${VERSIONS:-5000}
CONCURRENCY=${CONCURRENCY:-4}
REQUESTS=${REQUESTS:-1000}
MAX_SECONDS=${MAX_SECONDS:-60}
DOWNLOADS=${DOWNLOADS:-200}
WAIT_QUIET_MAX=${WAIT_QUIET_MAX:-60}
TOKEN="bench-$$-$RANDOM$RANDOM"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------------------- setup

resolve_bin() {
  if [ -z "${GANTRY_BIN:-}" ]; then
    GANTRY_BIN="$REPO_ROOT/target/release/gantry"
    if [ ! -x "$GANTRY_BIN" ]; then
      log "building $GANTRY_BIN (cargo build --release -p gantry)"
      (cd "$REPO_ROOT" && cargo build --release -p gantry >&2)
      # A user-set CARGO_TARGET_DIR puts the build elsewhere.
      if [ ! -x "$GANTRY_BIN" ] && [ -n "${CARGO_TARGET_DIR:-}" ]; then
        GANTRY_BIN="$CARGO_TARGET_DIR/release/gantry"
      fi
    fi
  fi
  [ -x "$GANTRY_BIN" ] || { echo "GANTRY_BIN=$GANTRY_BIN is not an executable" >&2; exit 1; }
  GANTRY_BIN=$(cd "$(dirname "$GANTRY_BIN")" && pwd)/$(basename "$GANTRY_BIN")
}

resolve_tools() {
  if [ -z "${GANTRY_TOOLS:-}" ]; then
    GANTRY_TOOLS="$REPO_ROOT/target/test-tools/venv/bin"
    if [ ! -x "$GANTRY_TOOLS/pypi-server" ]; then
      log "creating target/test-tools/venv (pip install twine uv pypiserver)"
      (cd "$REPO_ROOT" && python3 -m venv target/test-tools/venv \
        && target/test-tools/venv/bin/pip install -q twine uv pypiserver >&2)
    fi
  fi
  [ -x "$GANTRY_TOOLS/pypi-server" ] || { echo "no pypi-server in GANTRY_TOOLS=$GANTRY_TOOLS" >&2; exit 1; }
}

SERVER_PIDS=()
WORK=""
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
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ -n "${BENCH_KEEP:-}" ]; then
      log "kept $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

command -v python3 >/dev/null || { echo "this benchmark needs python3" >&2; exit 1; }
resolve_bin
resolve_tools
WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/gantry-pyidx.XXXXXX")
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS="$WORK/results.jsonl"

emit() { # emit STEP JSON: one result line, tagged
  local line
  line=$(python3 -c 'import json,sys; d=json.loads(sys.argv[2]); d={"step": sys.argv[1], **d}; print(json.dumps(d))' "$1" "$2")
  echo "$line" | tee -a "$RESULTS"
}

quiet() { # quiet LABEL PIDS…
  local label=$1; shift
  local pids
  pids=$(IFS=,; echo "$*")
  emit "quiet-before-$label" "$(python3 "$PY" wait-quiet --own-pids "$pids" --max-wait "$WAIT_QUIET_MAX")" >/dev/null
}

start_gantry() {
  GANTRY_ADMIN_TOKEN="$TOKEN" "$GANTRY_BIN" server --listen 127.0.0.1:0 --data-dir "$WORK/gantry-data" \
    >"$WORK/gantry.stdout" 2>"$WORK/gantry.stderr" &
  GANTRY_PID=$!
  SERVER_PIDS+=("$GANTRY_PID")
  URL=""
  local i
  for i in $(seq 1 300); do
    URL=$(sed -n 's/^gantry listening on \(http:[^ ]*\).*/\1/p' "$WORK/gantry.stdout" | head -n1)
    [ -n "$URL" ] && break
    kill -0 "$GANTRY_PID" 2>/dev/null || { echo "gantry exited early" >&2; exit 1; }
    sleep 0.1
  done
  case "$URL" in
    http://127.0.0.1:*) ;;
    *) echo "gantry did not report a 127.0.0.1 address within 30 s (got '$URL')" >&2; exit 1 ;;
  esac
  log "gantry (pid $GANTRY_PID) at $URL"
}

api() { # api METHOD PATH [JSON]
  if [ $# -ge 3 ]; then
    curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $TOKEN" \
      -H 'Content-Type: application/json' -d "$3" "$URL$2"
  else
    curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $TOKEN" "$URL$2"
  fi
}

latency() { # latency LABEL BASE_URL PATH ACCEPT N [--new-connection]
  local label=$1 base=$2 path=$3 accept=$4 n=$5; shift 5
  quiet "$label" "${SERVER_PIDS[@]}"
  local args=(latency --url "$base" --path "$path" --label "$label" --requests "$n"
              --max-seconds "$MAX_SECONDS" --own-pids "$(IFS=,; echo "${SERVER_PIDS[*]}")" "$@")
  [ -n "$accept" ] && args+=(--accept "$accept")
  emit "$label" "$(python3 "$PY" "${args[@]}")"
}

log "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) cores, kernel $(uname -r)"
log "gantry: $GANTRY_BIN; pypi-server: $("$GANTRY_TOOLS/pypi-server" --version 2>&1 | head -n1)"

# ---------------------------------------------------------------------------- 1. wheels
log "1. building $VERSIONS wheels of benchproj"
emit wheels "$(python3 "$PY" wheels --out "$WORK/wheels" --name benchproj --count "$VERSIONS" --version-prefix 1.0.)"
# Files for the upstream comparison: only pypiserver has bigup; only acme/proxy has the local ones.
python3 "$PY" wheels --out "$WORK/extra" --name bigup --count 1 --pad 1048576 >/dev/null
python3 "$PY" wheels --out "$WORK/local" --name localproj --count 1 >/dev/null
python3 "$PY" wheels --out "$WORK/local" --name biglocal --count 1 --pad 1048576 >/dev/null

# ---------------------------------------------------------------------------- 2. upload
start_gantry
api POST /api/v1/repos/acme '{"name":"dev","private":false}' >/dev/null
api POST /api/v1/repos/acme '{"name":"proxy","private":false}' >/dev/null
quiet upload "${SERVER_PIDS[@]}"
log "2. uploading $VERSIONS wheels to acme/dev"
emit upload "$(python3 "$PY" upload --url "$URL" --token "$TOKEN" --owner acme --repo dev \
  --dir "$WORK/wheels" --concurrency "$CONCURRENCY" --own-pids "$GANTRY_PID")"
# The scans the uploads queued are background work: let them finish before measuring.
for i in $(seq 1 600); do
  pending=$(api GET /api/v1/security/acme/dev/summary | python3 -c 'import json,sys; s=json.load(sys.stdin)["by_status"]; print(s.get("awaiting_scan",0)+s.get("scanning",0))')
  [ "$pending" = 0 ] && break
  sleep 1
done
log "   background scans done"

# ---------------------------------------------------------------------------- 3. project page
PAGE=/acme/dev/python/simple/benchproj/
log "3. gantry project page, $VERSIONS files"
latency gantry-html "$URL" "$PAGE" "text/html" "$REQUESTS"
latency gantry-json "$URL" "$PAGE" "application/vnd.pypi.simple.v1+json" "$REQUESTS"
# pypiserver closes the connection after every response; this is the like-for-like figure.
latency gantry-html-new-connection-each "$URL" "$PAGE" "text/html" "$REQUESTS" --new-connection

# ---------------------------------------------------------------------------- 4. pypiserver
PPORT=$(python3 "$PY" free-port)
log "4. pypiserver on 127.0.0.1:$PPORT over the same $VERSIONS files (+ bigup for step 5)"
"$GANTRY_TOOLS/pypi-server" run -p "$PPORT" -i 127.0.0.1 --disable-fallback -a . -P . \
  "$WORK/wheels" "$WORK/extra" >"$WORK/pypiserver.stdout" 2>"$WORK/pypiserver.stderr" &
PYPI_PID=$!
SERVER_PIDS+=("$PYPI_PID")
python3 "$PY" wait-http --url "http://127.0.0.1:$PPORT/simple/benchproj/" --timeout 60 >/dev/null
PURL="http://127.0.0.1:$PPORT"
latency pypiserver-html "$PURL" /simple/benchproj/ "text/html" "$REQUESTS"

# ---------------------------------------------------------------------------- 5. upstream cache
log "5. cache upstream acme/proxy -> pypiserver"
UPSTREAM_ID=$(api POST /api/v1/repos/acme/proxy/upstreams \
  "{\"format\":\"python\",\"name\":\"up\",\"url\":\"$PURL/simple/\",\"mode\":\"cache\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
emit local-upload "$(python3 "$PY" upload --url "$URL" --token "$TOKEN" --owner acme --repo proxy \
  --dir "$WORK/local" --concurrency 1 --slugs-out "$WORK/local-slugs.json")"
TINY=benchproj-1.0.0-py3-none-any.whl
BIG=bigup-1.0.0-py3-none-any.whl
UP=/acme/proxy/python/upstream/$UPSTREAM_ID
# The first request fetches the upstream page and fills the index cache.
latency gantry-upstream-page-html "$URL" /acme/proxy/python/simple/benchproj/ "text/html" "$REQUESTS"
latency gantry-upstream-page-json "$URL" /acme/proxy/python/simple/benchproj/ "application/vnd.pypi.simple.v1+json" "$REQUESTS"
for f in "$TINY" "$BIG"; do
  emit "first-download-through-upstream" "$(python3 "$PY" fetch --url "$URL$UP/$f" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["file"]=sys.argv[1]; print(json.dumps(d))' "$f")"
  name=${f%%-*}
  python3 "$PY" wait-http --url "$URL/api/v1/packages/acme/proxy?query=name:$name" --token "$TOKEN" \
    --contains "\"filename\":\"$f\"" --timeout 60 >/dev/null
done
log "   both files are cached; stopping pypiserver"
stop_pid "$PYPI_PID"
slug_of() { # slug_of NAME: the slug of the one package NAME in acme/proxy
  api GET "/api/v1/packages/acme/proxy?query=name:$1" \
    | python3 -c 'import json,sys; p=json.load(sys.stdin); assert len(p)==1, p; print(p[0]["slug_perm"], p[0]["filename"], p[0]["size"], p[0]["source"])'
}
read -r TINY_SLUG _ TINY_SIZE TINY_SOURCE < <(slug_of benchproj)
read -r BIG_SLUG _ BIG_SIZE BIG_SOURCE < <(slug_of bigup)
read -r LTINY_SLUG LTINY _ _ < <(slug_of localproj)
read -r LBIG_SLUG LBIG _ _ < <(slug_of biglocal)
log "   cached: $TINY ($TINY_SIZE B, source $TINY_SOURCE), $BIG ($BIG_SIZE B, source $BIG_SOURCE)"
SERVER_PIDS=("$GANTRY_PID")
# Keep-alive (what pip does), then a new connection per request: gantry does not set
# TCP_NODELAY and writes a file as separate segments (the headers, then the body in 8 KiB
# chunks), so the body can wait for the client's delayed ACK (~40 ms on Linux).
for mode in keepalive new-connection-each; do
  extra=()
  [ "$mode" = keepalive ] || extra=(--new-connection)
  latency "download-local-tiny-$mode" "$URL" "/acme/proxy/python/files/$LTINY_SLUG/$LTINY" "" "$DOWNLOADS" "${extra[@]}"
  latency "download-cached-tiny-upstream-route-$mode" "$URL" "$UP/$TINY" "" "$DOWNLOADS" "${extra[@]}"
  latency "download-cached-tiny-files-route-$mode" "$URL" "/acme/proxy/python/files/$TINY_SLUG/$TINY" "" "$DOWNLOADS" "${extra[@]}"
  latency "download-local-1mib-$mode" "$URL" "/acme/proxy/python/files/$LBIG_SLUG/$LBIG" "" "$DOWNLOADS" "${extra[@]}"
  latency "download-cached-1mib-upstream-route-$mode" "$URL" "$UP/$BIG" "" "$DOWNLOADS" "${extra[@]}"
  latency "download-cached-1mib-files-route-$mode" "$URL" "/acme/proxy/python/files/$BIG_SLUG/$BIG" "" "$DOWNLOADS" "${extra[@]}"
done

log "done; gantry RSS at the end: $(awk '/VmRSS/ {print $2" kB"}' "/proc/$GANTRY_PID/status")"
