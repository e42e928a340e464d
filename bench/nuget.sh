#!/usr/bin/env bash
# The NuGet feed's metadata documents beside nginx serving the same bytes as static files, in
# one run: the service index, the flat container's version list, the registration index, a
# search, and a .nupkg. A feed's documents are what every restore asks first, so nginx with
# sendfile is the baseline they are held to.
#
#   VERSIONS     versions of Bench.Lib pushed (default 100: 1.0.0 … 1.0.99; over 128 the
#                registration index links its pages instead of inlining them)
#   DURATION     seconds per wrk run (default 10)      CONNECTIONS  wrk -c (default 64)
#   THREADS      wrk -t (default 2)                    GANTRY_BIN   server binary (release)
#
# Steps: starts Gantry (SQLite) with a public and a private repository; pushes VERSIONS
# packages to each through the NuGet push route (multipart PUT, X-NuGet-ApiKey); copies
# Gantry's answers into a static tree served by nginx; then the same wrk load against each
# document of both (the private repository with a read token). Prints a table and one
# `json:` line. Needs wrk and nginx (apt-get install -y wrk nginx-light); nothing leaves
# 127.0.0.1.
source "$(dirname "$0")/lib.sh"

VERSIONS=${VERSIONS:-100}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}

need wrk nginx curl python3
bench_init
RESULTS="$WORK/results.tsv"
: >"$RESULTS"

log "machine: $(machine_summary)"
log "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD)"
start_server gantry
G=$SERVER_URL
G_PID=$SERVER_PID
api POST /api/v1/repos/acme -H 'Content-Type: application/json' -d '{"name":"pub","private":false}' >/dev/null
create_repo acme priv
READ_TOKEN=$(api POST /api/v1/tokens -H 'Content-Type: application/json' \
  -d '{"scope":"acme/priv","privilege":"read"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

log "pushing $VERSIONS versions of Bench.Lib to acme/pub and acme/priv"
mkdir -p "$WORK/pkgs"
python3 - "$WORK/pkgs" "$VERSIONS" <<'PY'
import sys, zipfile
out, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    with zipfile.ZipFile(f"{out}/Bench.Lib.1.0.{i}.nupkg", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Bench.Lib.nuspec", f"""<?xml version="1.0"?>
<package><metadata><id>Bench.Lib</id><version>1.0.{i}</version><authors>bench</authors>
<description>A benchmark package</description><tags>bench nuget</tags>
<dependencies><group targetFramework="net8.0"><dependency id="Other.Lib" version="[1.0,2.0)" /></group></dependencies>
</metadata></package>""")
        z.writestr("lib/net8.0/Bench.Lib.dll", "x" * 2000 + str(i))
PY
started=$(date +%s.%N)
for repo in pub priv; do
  for ((i = 0; i < VERSIONS; i++)); do
    curl -sS --fail -o /dev/null -X PUT -H "X-NuGet-ApiKey: $ADMIN_TOKEN" \
      -F "package=@$WORK/pkgs/Bench.Lib.1.0.$i.nupkg" "$G/acme/$repo/nuget/v3/package/"
  done
done
log "pushed $((2 * VERSIONS)) packages in $(python3 -c "import time; print(f'{time.time() - $started:.1f}')") s"

LAST="1.0.$((VERSIONS - 1))"
DOCS=(
  "index.json:service-index"
  "flat/bench.lib/index.json:flat-versions"
  "registration/bench.lib/index.json:registration"
  "query:search"
  "flat/bench.lib/$LAST/bench.lib.$LAST.nupkg:nupkg"
)
# The static tree: Gantry's own answers, byte for byte, at the same paths.
TREE="$WORK/tree"
for entry in "${DOCS[@]}"; do
  path=${entry%:*}
  mkdir -p "$TREE/$(dirname "$path")"
  query=""
  [ "$path" = query ] && query="?q=bench&take=20"
  curl -sS --fail "$G/acme/pub/nuget/v3/$path$query" -o "$TREE/$path"
done
start_static_nginx "$TREE"
N=$NGINX_URL

log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s against every target"
wait_quiet "${_SERVER_PIDS[@]}" >/dev/null
for entry in "${DOCS[@]}"; do
  path=${entry%:*} group=${entry##*:}
  query=""
  [ "$path" = query ] && query="?q=bench&take=20"
  wrk_run "nginx $group" "$group" "$N/$path"
  wrk_run "gantry $group" "$group" "$G/acme/pub/nuget/v3/$path$query"
  wrk_run "gantry $group private" "$group" "$G/acme/priv/nuget/v3/$path$query" "$READ_TOKEN"
done
log "gantry pid $G_PID RSS $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$G_PID/status")"

# Each Gantry row beside the nginx row of its document.
awk -F'\t' -v machine="$(machine_summary)" -v commit="$(git -C "$REPO_ROOT" rev-parse --short HEAD)" '
  { label[NR] = $1; group[NR] = $2; rps[NR] = $3; p99[NR] = $4; bad[NR] = $5
    if ($1 ~ /^nginx/) base[$2] = $3 }
  END {
    printf "%-30s %9s %8s %8s  %s\n", "target", "req/s", "p99 ms", "non-2xx", "ratio"
    json = ""
    for (i = 1; i <= NR; i++) {
      ratio = (label[i] ~ /^gantry/ && base[group[i]] > 0) ? sprintf("%.2fx nginx", rps[i] / base[group[i]]) : ""
      printf "%-30s %9.0f %8.2f %8d  %s\n", label[i], rps[i], p99[i], bad[i], ratio
      json = json (i > 1 ? "," : "") sprintf("{\"target\":\"%s\",\"group\":\"%s\",\"rps\":%s,\"p99_ms\":%s,\"non_2xx\":%s}", label[i], group[i], rps[i], p99[i], bad[i])
    }
    printf "json: {\"machine\":\"%s\",\"commit\":\"%s\",\"results\":[%s]}\n", machine, commit, json
  }' "$RESULTS"
