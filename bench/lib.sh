# Shared helpers for the benchmark scripts; sourced, not run.
#
#   GANTRY_BIN   the server binary (default: target/release/gantry, built if missing)
#   BENCH_TMP    where scratch directories go (default: ${TMPDIR:-/tmp})
#   WAIT_QUIET_MAX  seconds to wait for other CPU load to stop before measuring (default 120;
#                   0 disables)
#   BENCH_KEEP   set to keep the scratch directory
#
# Every server and PostgreSQL cluster started here is stopped, and the scratch directory is
# removed, when the calling script exits (also on Ctrl-C). All traffic goes to 127.0.0.1.

set -euo pipefail
# Upstream peers run on 127.0.0.1, which Gantry refuses as an outbound target unless allowed.
export GANTRY_OUTBOUND_ALLOW_NETWORKS=${GANTRY_OUTBOUND_ALLOW_NETWORKS:-127.0.0.0/8}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
BENCH_PY="$BENCH_DIR/bench.py"
ADMIN_TOKEN="bench-admin-$$-$RANDOM"

_SERVER_PIDS=()
_PG_DIRS=()
WORK=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Resolves GANTRY_BIN to an absolute path, building the binary when it is missing.
resolve_bin() {
  if [ -z "${GANTRY_BIN:-}" ]; then
    GANTRY_BIN="target/release/gantry"
    if [ ! -x "$GANTRY_BIN" ] && [ ! -x "$REPO_ROOT/$GANTRY_BIN" ]; then
      log "building $GANTRY_BIN (cargo build --release -p gantry)"
      (cd "$REPO_ROOT" && cargo build --release -p gantry >&2)
    fi
    [ -x "$GANTRY_BIN" ] || GANTRY_BIN="$REPO_ROOT/target/release/gantry"
    # A user-set CARGO_TARGET_DIR puts the build elsewhere.
    if [ ! -x "$GANTRY_BIN" ] && [ -n "${CARGO_TARGET_DIR:-}" ]; then
      GANTRY_BIN="$CARGO_TARGET_DIR/release/gantry"
    fi
  fi
  if [ ! -x "$GANTRY_BIN" ]; then
    echo "GANTRY_BIN=$GANTRY_BIN is not an executable" >&2
    exit 1
  fi
  GANTRY_BIN=$(cd "$(dirname "$GANTRY_BIN")" && pwd)/$(basename "$GANTRY_BIN")
  export GANTRY_BIN
}

need() {
  local cmd
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "this benchmark needs '$cmd' on PATH" >&2; exit 1; }
  done
}

cleanup() {
  local rc=$?
  local pid dir
  if [ "$rc" != 0 ] && [ -n "$WORK" ]; then
    for pid in "${_SERVER_PIDS[@]:-}"; do
      [ -n "$pid" ] || continue
      if ! kill -0 "$pid" 2>/dev/null; then
        local st=0
        wait "$pid" 2>/dev/null || st=$?
        if [ "$st" -gt 128 ]; then
          echo "server pid $pid is no longer running: killed by signal $((st - 128)) ($(kill -l $((st - 128)) 2>/dev/null))" >&2
        else
          echo "server pid $pid is no longer running: exited with status $st" >&2
        fi
      fi
    done
    for dir in "$WORK"/*/; do
      if [ -s "$dir/stderr" ]; then
        echo "--- last lines of $(basename "$dir") server stderr:" >&2
        tail -n 20 "$dir/stderr" >&2
      fi
    done
  fi
  for pid in "${_SERVER_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${_SERVER_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    wait "$pid" 2>/dev/null || true
  done
  for dir in "${_PG_DIRS[@]:-}"; do
    [ -n "$dir" ] || continue
    "$REPO_ROOT/scripts/pg.sh" stop "$dir" >/dev/null 2>&1 || true
  done
  if [ -n "$WORK" ] && [ -d "$WORK" ] && [ -z "${BENCH_KEEP:-}" ]; then
    rm -rf "$WORK"
  fi
  exit "$rc"
}

# Creates the scratch directory and installs the exit trap.
bench_init() {
  need python3 curl
  resolve_bin
  WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/gantry-bench.XXXXXX")
  # PostgreSQL runs as the postgres user when we are root: it must be able to enter WORK.
  chmod 755 "$WORK"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

# start_server NAME [extra server flags…]: sets SERVER_PID, SERVER_URL and SERVER_DATA.
start_server() {
  local name=$1; shift
  local dir="$WORK/$name"
  mkdir -p "$dir"
  SERVER_DATA="$dir/data"
  GANTRY_ADMIN_TOKEN="$ADMIN_TOKEN" GANTRY_LOG="${GANTRY_LOG:-info}" \
    "$GANTRY_BIN" server --listen 127.0.0.1:0 --data-dir "$SERVER_DATA" "$@" \
    >"$dir/stdout" 2>"$dir/stderr" &
  SERVER_PID=$!
  _SERVER_PIDS+=("$SERVER_PID")
  local i
  SERVER_URL=""
  for i in $(seq 1 300); do
    SERVER_URL=$(sed -n 's/^gantry listening on \(http:[^ ]*\).*/\1/p' "$dir/stdout" | head -n1)
    [ -n "$SERVER_URL" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "server $name exited early:" >&2; cat "$dir/stderr" >&2; exit 1
    fi
    sleep 0.1
  done
  if [ -z "$SERVER_URL" ]; then
    echo "server $name did not start within 30 s" >&2; cat "$dir/stderr" >&2; exit 1
  fi
  case "$SERVER_URL" in
    http://127.0.0.1:*) ;;
    *) echo "unexpected listen address $SERVER_URL" >&2; exit 1 ;;
  esac
  log "server $name (pid $SERVER_PID) at $SERVER_URL"
}

stop_server() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# start_postgres NAME: a throwaway cluster with a fresh database; sets PG_URL.
start_postgres() {
  local name=$1
  local dir="$WORK/pg-$name"
  _PG_DIRS+=("$dir")
  local base
  base=$("$REPO_ROOT/scripts/pg.sh" start "$dir" | tail -n1)
  local port=${base##*:}
  createdb -h 127.0.0.1 -p "$port" -U postgres gantry_bench
  PG_URL="$base/gantry_bench"
  PG_PID=$(head -n1 "$dir/data/postmaster.pid")
  log "postgres $name (pid $PG_PID) at $PG_URL"
}

# wait_quiet PID…: waits (up to WAIT_QUIET_MAX seconds, default 120; 0 skips) until processes
# other than these, their children and this script use under a tenth of a core, so that a
# compiler or test run elsewhere on the machine does not end up in the figures. Prints a JSON
# line with what was seen.
wait_quiet() {
  local pids
  pids=$(IFS=,; echo "$*")
  if [ "${WAIT_QUIET_MAX:-120}" = 0 ]; then echo '{"quiet": null}'; return; fi
  python3 "$BENCH_PY" wait-quiet --own-pids "$pids" --max-wait "${WAIT_QUIET_MAX:-120}"
}

# api METHOD PATH [curl args…]: an authenticated call; prints the body, fails on HTTP >= 400.
api() {
  local method=$1 path=$2; shift 2
  curl -sS --fail-with-body -X "$method" -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$@" "$SERVER_URL$path"
}

create_repo() {
  api POST "/api/v1/repos/$1" -H 'Content-Type: application/json' \
    -d "{\"name\":\"$2\",\"private\":true}" >/dev/null
}

# wrk_row LABEL GROUP WRK_OUTPUT: one results line from wrk's report (label, group, req/s,
# p99 ms, non-2xx responses), tab-separated.
wrk_row() {
  python3 - "$@" <<'PY'
import re, sys
label, group, out = sys.argv[1:4]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)] if m else -1
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(f"{label}\t{group}\t{rps:.0f}\t{p99:.2f}\t{errors.group(1) if errors else 0}")
PY
}

machine_summary() {
  local cpu
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
  printf '%s, %s cores, %s GiB RAM, kernel %s' "${cpu:-unknown CPU}" "$(nproc)" \
    "$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)" "$(uname -r)"
}

# wrk_run LABEL GROUP URL [TOKEN]: one wrk run (THREADS, CONNECTIONS, DURATION) against a URL
# that must answer 200; appends "label, group, req/s, p99 ms, non-2xx" to $RESULTS.
wrk_run() {
  local label=$1 group=$2 url=$3 token=${4:-}
  [[ "$label" =~ ${ONLY:-.} ]] || return 0
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' ${token:+-H "Authorization: Bearer $token"} "$url")
  [ "$code" = 200 ] || { echo "$label: $url answered $code" >&2; exit 1; }
  local args=(-t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency)
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  local out
  out=$(wrk "${args[@]}" "$url")
  wrk_row "$label" "$group" "$out" >>"$RESULTS"
  log "$(tail -n1 "$RESULTS")"
}

# start_static_nginx ROOT: nginx serving the files below ROOT (sendfile, keep-alive without a
# request limit), the static-file baseline; sets NGINX_URL. Stopped when the script exits.
start_static_nginx() {
  local root=$1 port dir="$WORK/nginx"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server { listen 127.0.0.1:$port; root $root; }
}
CONF
  nginx -c "$dir/nginx.conf" -p "$dir" >"$WORK/nginx.stdout" 2>"$WORK/nginx.stderr" &
  _SERVER_PIDS+=("$!")
  NGINX_URL="http://127.0.0.1:$port"
  local i
  for i in $(seq 1 300); do
    curl -s -o /dev/null "$NGINX_URL/" && return 0
    sleep 0.1
  done
  echo "nginx did not start" >&2; exit 1
}

# start_nginx ROOT: start_static_nginx under the name bench/maven.sh uses; sets NGINX.
start_nginx() {
  start_static_nginx "$1"
  NGINX=$NGINX_URL
}

# ratio_table RESULTS: the wrk rows of RESULTS (label, group, req/s, p99, non-2xx) as a table
# with each gantry row's ratio to the nginx row of its group, then one `json:` line.
ratio_table() {
  python3 - "$1" "$(machine_summary)" "$(git -C "$REPO_ROOT" rev-parse --short HEAD)" <<'PY'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
nginx = {group: float(rps) for label, group, rps, _, _ in rows if label.startswith("nginx")}
print(f"{'target':36} {'req/s':>9} {'p99 ms':>8} {'non-2xx':>8}  ratio")
out = []
for label, group, rps, p99, errors in rows:
    ratio = f"{float(rps) / nginx[group]:.2f}x nginx" if label.startswith("gantry") and group in nginx else ""
    print(f"{label:36} {float(rps):9.0f} {float(p99):8.2f} {errors:>8}  {ratio}")
    out.append({"target": label, "group": group, "rps": float(rps), "p99_ms": float(p99),
                "non_2xx": int(errors)})
print("json: " + json.dumps({"machine": sys.argv[2], "commit": sys.argv[3], "results": out}))
PY
}
