#!/usr/bin/env bash
# The RubyGems indexes beside nginx serving the same documents as static files, in one run.
# A directory holding versions, info/NAME, names, specs.4.8.gz, latest_specs.4.8.gz and
# gems/*.gem is a complete gem source (Bundler and gem read it from any static server), so
# nginx with sendfile is the baseline Gantry's index answers can be held to.
#
#   GEMS         gems published (default 200)           VERSIONS  versions of each (default 5)
#   DURATION     seconds per wrk run (default 10)        CONNECTIONS  wrk -c (default 64)
#   THREADS      wrk -t (default 2)                      GANTRY_BIN   server binary (release)
#
# Steps: starts Gantry (SQLite) with a public and a private repository; pushes GEMS×VERSIONS
# small gems to each the way `gem push` does (POST …/rubygems/api/v1/gems); copies Gantry's
# documents into a static tree served by nginx; then the same wrk load against each document
# of both (the private repository with a read token). Prints a table and one `json:` line.
# Needs wrk and nginx (apt-get install -y wrk nginx-light); nothing leaves 127.0.0.1.
source "$(dirname "$0")/lib.sh"

GEMS=${GEMS:-200}
VERSIONS=${VERSIONS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}

need wrk nginx curl python3
bench_init
start_pub_priv

log "pushing $GEMS gems × $VERSIONS versions to acme/pub and acme/priv"
python3 - "$G" "$ADMIN_TOKEN" "$GEMS" "$VERSIONS" <<'PY'
import gzip, http.client, io, sys, tarfile, time, urllib.parse
url, token, gems, versions = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
host = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(host.hostname, host.port)

def tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, body in entries:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    return buf.getvalue()

def gem(name, version, dep):
    deps = "dependencies: []\n" if dep is None else (
        "dependencies:\n- !ruby/object:Gem::Dependency\n  name: %s\n  requirement: "
        "!ruby/object:Gem::Requirement\n    requirements:\n    - - \">=\"\n      - "
        "!ruby/object:Gem::Version\n        version: '1.0'\n  type: :runtime\n" % dep)
    spec = ("--- !ruby/object:Gem::Specification\nname: %s\nversion: !ruby/object:Gem::Version\n"
            "  version: %s\nplatform: ruby\nauthors:\n- Bench\nsummary: a benchmark gem\n%s"
            "licenses:\n- MIT\nrubygems_version: 3.3.15\nspecification_version: 4\n") % (name, version, deps)
    data = gzip.compress(tar([("lib/%s.rb" % name, b"# " + b"x" * 2000 + b"\n")]))
    return tar([("metadata.gz", gzip.compress(spec.encode())), ("data.tar.gz", data)])

start = time.time()
for repo in ("pub", "priv"):
    for g in range(gems):
        for v in range(versions):
            name = "gem%04d" % g
            dep = "gem%04d" % (g - 1) if g else None
            conn.request("POST", "/acme/%s/rubygems/api/v1/gems" % repo,
                         body=gem(name, "1.%d.0" % v, dep), headers={"Authorization": token})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                sys.exit("push %s: %d %r" % (name, resp.status, body[:200]))
print("pushed %d gems in %.1f s" % (2 * gems * versions, time.time() - start), file=sys.stderr)
PY

NAME=gem$(printf '%04d' $((GEMS / 2)))
LAST="$NAME-1.$((VERSIONS - 1)).0.gem"
# The static tree: Gantry's own documents, byte for byte.
TREE="$WORK/tree"
mkdir -p "$TREE/info" "$TREE/gems"
for f in versions "info/$NAME" names specs.4.8.gz latest_specs.4.8.gz "gems/$LAST"; do
  curl -sS --fail "$G/acme/pub/rubygems/$f" -o "$TREE/$f"
done
start_static_nginx "$TREE"
N=$NGINX_URL

log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s against every target"
wait_quiet "${_SERVER_PIDS[@]}" >/dev/null
for f in "versions:versions" "info/$NAME:info" "names:names" "specs.4.8.gz:specs" \
  "latest_specs.4.8.gz:latest_specs" "gems/$LAST:gem"; do
  path=${f%:*} group=${f##*:}
  wrk_run "nginx $group" "$group" "$N/$path"
  wrk_run "gantry $group" "$group" "$G/acme/pub/rubygems/$path"
  wrk_run "gantry $group private" "$group" "$G/acme/priv/rubygems/$path" "$READ_TOKEN"
done
log "gantry pid $G_PID RSS $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$G_PID/status")"
log "sizes: $(cd "$TREE" && wc -c versions "info/$NAME" names specs.4.8.gz latest_specs.4.8.gz | head -n5 | tr '\n' ' ')"

nginx_ratio_table 30
