#!/usr/bin/env bash
# The Composer repository's index answers and a dist beside nginx serving the same bytes as
# static files, in one run. A tree holding packages.json, p2/VENDOR/PACKAGE.json and the dist
# zips is a complete Composer v2 repository (composer reads it from any static server), so
# nginx with sendfile is the baseline Gantry's answers can be held to.
#
#   VERSIONS     versions of acme/bench published (default 500: 1.0.0 … 1.0.499)
#   DURATION     seconds per wrk run (default 10)      CONNECTIONS  wrk -c (default 64)
#   THREADS      wrk -t (default 2)                    GANTRY_BIN   server binary (release)
#
# Steps: starts Gantry (SQLite) with a public and a private repository; publishes VERSIONS
# dist zips to each through the REST upload API (the way CI does); copies Gantry's answers
# (packages.json, the package's metadata file, the newest dist) into a static tree served by
# nginx; then the same wrk load against each answer of both (the private repository with a
# read token). Prints a table and one `json:` line. Needs wrk and nginx (apt-get install -y
# wrk nginx-light); nothing leaves 127.0.0.1.
source "$(dirname "$0")/lib.sh"

VERSIONS=${VERSIONS:-500}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PACKAGE=acme/bench

need wrk nginx curl python3
bench_init
start_pub_priv

log "publishing $VERSIONS versions of $PACKAGE to acme/pub and acme/priv"
python3 - "$G" "$ADMIN_TOKEN" "$PACKAGE" "$VERSIONS" <<'PY'
import http.client, io, json, sys, time, urllib.parse, zipfile
url, token, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
host = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(host.hostname, host.port)
start = time.time()
for repo in ("pub", "priv"):
    for i in range(count):
        manifest = {"name": name, "version": f"1.0.{i}", "license": "MIT",
                    "description": "A package for the benchmark",
                    "require": {"php": ">=8.1", "psr/log": "^3.0"},
                    "autoload": {"psr-4": {"Acme\\Bench\\": "src/"}}}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("composer.json", json.dumps(manifest))
            z.writestr("src/Bench.php", "<?php\n// " + "x" * 2000 + f"\nconst V = {i};\n")
        conn.request("POST", f"/api/v1/packages/acme/{repo}/upload/composer?filename=p.zip",
                      body=buf.getvalue(), headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 201:
            sys.exit(f"upload 1.0.{i}: {resp.status} {body[:200]!r}")
print(f"published {2 * count} versions in {time.time() - start:.1f} s", file=sys.stderr)
PY

LAST="1.0.$((VERSIONS - 1))"
# The static tree: Gantry's own answers, byte for byte.
TREE="$WORK/tree"
mkdir -p "$TREE/p2/acme" "$TREE/dists/$PACKAGE"
curl -sS --fail "$G/acme/pub/composer/packages.json" -o "$TREE/packages.json"
curl -sS --fail "$G/acme/pub/composer/p2/$PACKAGE.json" -o "$TREE/p2/$PACKAGE.json"
curl -sS --fail "$G/acme/pub/composer/dists/$PACKAGE/$LAST.zip" -o "$TREE/dists/$PACKAGE/$LAST.zip"
log "metadata file: $(wc -c <"$TREE/p2/$PACKAGE.json") bytes for $VERSIONS versions"
start_static_nginx "$TREE"
N=$NGINX_URL

log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s against every target"
wait_quiet "${_SERVER_PIDS[@]}" >/dev/null
for f in "packages.json:root" "p2/$PACKAGE.json:metadata" "dists/$PACKAGE/$LAST.zip:dist"; do
  path=${f%:*} group=${f##*:}
  wrk_run "nginx $group" "$group" "$N/$path"
  wrk_run "gantry $group" "$group" "$G/acme/pub/composer/$path"
  wrk_run "gantry $group private" "$group" "$G/acme/priv/composer/$path" "$READ_TOKEN"
done
log "gantry pid $G_PID RSS $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$G_PID/status")"

nginx_ratio_table 28
