#!/usr/bin/env bash
# Gantry beside the peers, on the same files, in one run: nginx (static files, sendfile),
# pypiserver (wheel and simple page), verdaccio (tarball and packument), and Gantry on SQLite
# and on PostgreSQL (a throwaway cluster) — raw files of 100 KB and 10 MB, a wheel and its
# simple page, an npm tarball and its packument, a .crate and its index file. Every target
# gets the same wrk load; prints a table and one `json:` line.
#
#   DURATION   seconds per wrk run (default 10)      CONNECTIONS  wrk -c (default 64)
#   THREADS    wrk -t (default 2)                    GANTRY_BIN   server binary (release)
#   ONLY       a regular expression: run only the targets whose label matches
#
# Needs wrk and nginx (apt-get install -y wrk nginx-light), the test tools of
# scripts/test.sh (pypiserver in target/test-tools/venv, verdaccio in target/test-tools/npm),
# and PostgreSQL's server binaries (scripts/pg.sh). Real package files are read from
# ../shared/fixtures (relative to the repository); nothing leaves 127.0.0.1.
source "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ONLY=${ONLY:-.}
TOOLS="$REPO_ROOT/target/test-tools"
FIXTURES="$REPO_ROOT/../shared/fixtures"
WHEEL=requests-2.19.1-py2.py3-none-any.whl
TARBALL=lodash-4.17.15.tgz
CRATE=serde_json-1.0.100.crate

need wrk nginx curl python3
[ -x "$TOOLS/venv/bin/pypi-server" ] || { echo "no pypiserver in $TOOLS/venv (run scripts/test.sh)" >&2; exit 1; }
[ -x "$TOOLS/npm/node_modules/.bin/verdaccio" ] || { echo "no verdaccio in $TOOLS/npm (run scripts/test.sh)" >&2; exit 1; }
for f in "python/$WHEEL" "npm/$TARBALL" "cargo/$CRATE"; do
  [ -r "$FIXTURES/$f" ] || { echo "missing fixture $FIXTURES/$f" >&2; exit 1; }
done
bench_init
RESULTS="$WORK/results.tsv"
: >"$RESULTS"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # wait_http URL: up to 30 s
  local i
  for i in $(seq 1 300); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "$1 did not answer" >&2; exit 1
}
start_bg() { # start_bg NAME CMD…: a peer process, stopped on exit
  local name=$1; shift
  "$@" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" &
  _SERVER_PIDS+=("$!")
}

# The files, once: two raw sizes from /dev/urandom, the fixtures by relative path.
mkdir -p "$WORK/files"
head -c 102400 /dev/urandom >"$WORK/files/file-100k.bin"
head -c 10485760 /dev/urandom >"$WORK/files/file-10m.bin"
cp "$FIXTURES/python/$WHEEL" "$FIXTURES/npm/$TARBALL" "$FIXTURES/cargo/$CRATE" "$WORK/files/"

log "machine: $(machine_summary)"
log "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD)"

# --- nginx: the static-file baseline.
start_nginx "$WORK/files"
wait_http "$NGINX/$WHEEL"

# --- pypiserver, serving the wheel.
PYPI_PORT=$(free_port)
mkdir -p "$WORK/pypi"
cp "$WORK/files/$WHEEL" "$WORK/pypi/"
start_bg pypiserver "$TOOLS/venv/bin/pypi-server" run -p "$PYPI_PORT" -i 127.0.0.1 \
  --disable-fallback -a . -P . "$WORK/pypi"
PYPI="http://127.0.0.1:$PYPI_PORT"
wait_http "$PYPI/simple/"

# --- verdaccio, with the tarball published through its own API.
V_PORT=$(free_port)
mkdir -p "$WORK/verdaccio/storage" "$WORK/npmrc"
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
start_bg verdaccio "$TOOLS/npm/node_modules/.bin/verdaccio" --config "$WORK/verdaccio/config.yaml" \
  --listen "127.0.0.1:$V_PORT"
VERDACCIO="http://127.0.0.1:$V_PORT"
wait_http "$VERDACCIO/-/ping"
V_TOKEN=$(curl -sS -X PUT -H 'Content-Type: application/json' \
  -d '{"name":"bench","password":"bench-password"}' "$VERDACCIO/-/user/org.couchdb.user:bench" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
printf '//127.0.0.1:%s/:_authToken=%s\n' "$V_PORT" "$V_TOKEN" >"$WORK/npmrc/npmrc"
npm_config_userconfig="$WORK/npmrc/npmrc" npm_config_cache="$WORK/npmrc/cache" \
  npm publish "$WORK/files/$TARBALL" --registry "$VERDACCIO/" >/dev/null 2>"$WORK/npm-publish.stderr"

# --- Gantry, on SQLite and on PostgreSQL, with the same files in a public and a private
# repository (the private one is read with a token).
load_gantry() { # load_gantry NAME: sets G_URL
  export GANTRY_URL=$SERVER_URL GANTRY_TOKEN=$ADMIN_TOKEN
  api POST /api/v1/repos/acme -H 'Content-Type: application/json' -d '{"name":"pub","private":false}' >/dev/null
  api POST /api/v1/repos/acme -H 'Content-Type: application/json' -d '{"name":"priv","private":true}' >/dev/null
  local repo
  for repo in pub priv; do
    "$GANTRY_BIN" push raw "acme/$repo" "$WORK/files/file-100k.bin" --name f --version 1 >/dev/null
    "$GANTRY_BIN" push raw "acme/$repo" "$WORK/files/file-10m.bin" --name f --version 1 >/dev/null
  done
  "$GANTRY_BIN" push python acme/pub "$WORK/files/$WHEEL" >/dev/null
  "$GANTRY_BIN" push npm acme/pub "$WORK/files/$TARBALL" >/dev/null
  "$GANTRY_BIN" push cargo acme/pub "$WORK/files/$CRATE" >/dev/null
  G_URL=$SERVER_URL
}

start_server sqlite
load_gantry sqlite
G_SQLITE=$G_URL
G_SQLITE_PID=$SERVER_PID
start_postgres peers
start_server postgres --database-url "$PG_URL"
load_gantry postgres
G_PG=$G_URL
G_PG_PID=$SERVER_PID
READ_TOKEN=$(api POST /api/v1/tokens -H 'Content-Type: application/json' \
  -d '{"scope":"acme/priv","privilege":"read"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
SERVER_URL=$G_SQLITE
READ_TOKEN_SQLITE=$(api POST /api/v1/tokens -H 'Content-Type: application/json' \
  -d '{"scope":"acme/priv","privilege":"read"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# The Gantry URLs of the wheel and the tarball come from its own indexes.
wheel_path() { curl -sS "$1/acme/pub/python/simple/requests/" \
  | python3 -c 'import re,sys,urllib.parse; m=re.search(r"href=\"([^\"#]+)", sys.stdin.read()); print(urllib.parse.urlparse(m.group(1)).path)'; }
tarball_path() { curl -sS "$1/acme/pub/npm/lodash" \
  | python3 -c 'import json,sys,urllib.parse; d=json.load(sys.stdin); print(urllib.parse.urlparse(d["versions"]["4.17.15"]["dist"]["tarball"]).path)'; }
CRATE_PATH=/acme/pub/cargo/api/v1/crates/serde_json/1.0.100/download
CRATE_INDEX=/acme/pub/cargo/index/se/rd/serde_json

# run LABEL GROUP URL [TOKEN]: one wrk run (wrk_run in lib.sh; ONLY selects the labels).
run() { wrk_run "$@"; }

log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s against every target"
wait_quiet "${_SERVER_PIDS[@]}" >/dev/null
for size in 100k 10m; do
  run "nginx raw $size" "raw-$size" "$NGINX/file-$size.bin"
  for backend in sqlite postgres; do
    base=$G_SQLITE; token=$READ_TOKEN_SQLITE
    [ "$backend" = postgres ] && { base=$G_PG; token=$READ_TOKEN; }
    run "gantry-$backend raw $size anonymous" "raw-$size" "$base/acme/pub/raw/f/1/file-$size.bin"
    run "gantry-$backend raw $size token" "raw-$size" "$base/acme/priv/raw/f/1/file-$size.bin" "$token"
  done
done
run "nginx wheel" wheel "$NGINX/$WHEEL"
run "pypiserver wheel" wheel "$PYPI/packages/$WHEEL"
run "pypiserver simple page" simple "$PYPI/simple/requests/"
run "nginx npm tarball" tarball "$NGINX/$TARBALL"
run "verdaccio npm tarball" tarball "$VERDACCIO/lodash/-/$TARBALL"
run "verdaccio packument" packument "$VERDACCIO/lodash"
run "nginx crate" crate "$NGINX/$CRATE"
for backend in sqlite postgres; do
  base=$G_SQLITE
  [ "$backend" = postgres ] && base=$G_PG
  run "gantry-$backend wheel" wheel "$base$(wheel_path "$base")"
  run "gantry-$backend simple page" simple "$base/acme/pub/python/simple/requests/"
  run "gantry-$backend npm tarball" tarball "$base$(tarball_path "$base")"
  run "gantry-$backend packument" packument "$base/acme/pub/npm/lodash"
  run "gantry-$backend crate" crate "$base$CRATE_PATH"
  run "gantry-$backend cargo index file" cargo-index "$base$CRATE_INDEX"
done

for pid in "$G_SQLITE_PID" "$G_PG_PID"; do
  log "gantry pid $pid RSS $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$pid/status")"
done
python3 - "$RESULTS" "$(machine_summary)" "$(git -C "$REPO_ROOT" rev-parse --short HEAD)" <<'PY'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
peers = {"raw-100k": "nginx", "raw-10m": "nginx", "wheel": ("nginx", "pypiserver"),
         "simple": "pypiserver", "tarball": ("nginx", "verdaccio"), "packument": "verdaccio",
         "crate": "nginx", "cargo-index": None}
best = {}
for label, group, rps, p99, errors in rows:
    best.setdefault(group, {})[label.split(" ")[0]] = float(rps)
print(f"{'target':42} {'req/s':>9} {'p99 ms':>8} {'non-2xx':>8}  ratio")
out = []
for label, group, rps, p99, errors in rows:
    who = label.split(" ")[0]
    ratio = ""
    if who.startswith("gantry"):
        names = peers.get(group) or ()
        names = (names,) if isinstance(names, str) else names
        ratio = "  ".join(f"{float(rps) / best[group][n]:.2f}x {n}" for n in names if n in best.get(group, {}))
    print(f"{label:42} {float(rps):9.0f} {float(p99):8.2f} {errors:>8}  {ratio}")
    out.append({"target": label, "group": group, "rps": float(rps), "p99_ms": float(p99),
                "non_2xx": int(errors)})
print("json: " + json.dumps({"machine": sys.argv[2], "commit": sys.argv[3], "results": out}))
PY
