#!/usr/bin/env bash
# The Go module proxy beside nginx serving the same answers as static files, in one run. A
# directory tree laid out as MODULE/@v/list, VERSION.info, .mod, .zip and MODULE/@latest is a
# complete GOPROXY (the go command reads it from any static server), so nginx with sendfile is
# the baseline a proxy's answers can be held to.
#
#   VERSIONS     versions of example.com/bench published (default 500: v1.0.0 … v1.0.499)
#   DURATION     seconds per wrk run (default 10)      CONNECTIONS  wrk -c (default 64)
#   THREADS      wrk -t (default 2)                    GANTRY_BIN   server binary (release)
#
# Steps: starts Gantry (SQLite) with a public and a private repository; publishes VERSIONS
# module zips to each through the REST upload API (the way CI does); copies Gantry's answers
# for the module into a static tree served by nginx; then the same wrk load against each
# answer of both (the private repository with a read token). Prints a table and one `json:`
# line. Needs wrk and nginx (apt-get install -y wrk nginx-light); nothing leaves 127.0.0.1.
source "$(dirname "$0")/lib.sh"

VERSIONS=${VERSIONS:-500}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
MODULE=example.com/bench

need wrk nginx curl python3
bench_init
start_pub_priv

log "publishing $VERSIONS versions of $MODULE to acme/pub and acme/priv"
python3 - "$G" "$ADMIN_TOKEN" "$MODULE" "$VERSIONS" <<'PY'
import http.client, io, sys, time, urllib.parse, zipfile
url, token, module, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
host = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(host.hostname, host.port)
start = time.time()
for repo in ("pub", "priv"):
    for i in range(count):
        version = f"v1.0.{i}"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            prefix = f"{module}@{version}/"
            z.writestr(prefix + "go.mod", f"module {module}\n\ngo 1.19\n")
            z.writestr(prefix + "bench.go", "package bench\n\n// " + "x" * 2000 + f"\nconst V = {i}\n")
        conn.request("POST", f"/api/v1/packages/acme/{repo}/upload/go?filename=m.zip",
                      body=buf.getvalue(), headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 201:
            sys.exit(f"upload {version}: {resp.status} {body[:200]!r}")
print(f"published {2 * count} module versions in {time.time() - start:.1f} s", file=sys.stderr)
PY

LAST="v1.0.$((VERSIONS - 1))"
ESC=example.com/bench
# The static tree: Gantry's own answers, byte for byte.
TREE="$WORK/tree"
mkdir -p "$TREE/$ESC/@v"
for f in "@v/list" "@latest" "@v/$LAST.info" "@v/$LAST.mod" "@v/$LAST.zip"; do
  curl -sS --fail "$G/acme/pub/go/$ESC/$f" -o "$TREE/$ESC/$f"
done
start_static_nginx "$TREE"
N=$NGINX_URL

log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s against every target"
wait_quiet "${_SERVER_PIDS[@]}" >/dev/null
for f in "@v/list:list" "@latest:latest" "@v/$LAST.info:info" "@v/$LAST.mod:mod" "@v/$LAST.zip:zip"; do
  path=${f%:*} group=${f##*:}
  wrk_run "nginx $group" "$group" "$N/$ESC/$path"
  wrk_run "gantry $group" "$group" "$G/acme/pub/go/$ESC/$path"
  wrk_run "gantry $group private" "$group" "$G/acme/priv/go/$ESC/$path" "$READ_TOKEN"
done
log "gantry pid $G_PID RSS $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$G_PID/status")"

nginx_ratio_table 28
