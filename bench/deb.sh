#!/usr/bin/env bash
# apt metadata beside nginx, on the same bytes, in one run: a distribution's InRelease and its
# Packages.xz (PACKAGES .debs listed in bookworm/main, generated and signed by Gantry, copied
# byte for byte into nginx's root), from Gantry (a public repository, and a private one with a
# token) and from nginx serving them as static files. Every target gets the same wrk load;
# prints a table with Gantry's ratio to nginx and one `json:` line.
#
#   DURATION   seconds per wrk run (default 10)      CONNECTIONS  wrk -c (default 64)
#   THREADS    wrk -t (default 2)                    GANTRY_BIN   server binary (release)
#   PACKAGES   .debs uploaded (default 50)
#
# Needs wrk, nginx and dpkg-deb. Nothing leaves 127.0.0.1.
source "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PACKAGES=${PACKAGES:-50}

need wrk nginx curl python3 dpkg-deb
bench_init
RESULTS="$WORK/results.tsv"
: >"$RESULTS"

log "machine: $(machine_summary)"
log "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD)"
start_server gantry
G_PID=$SERVER_PID
G_URL=$SERVER_URL
api POST /api/v1/repos/acme -H 'Content-Type: application/json' -d '{"name":"pub","private":false}' >/dev/null
create_repo acme priv

log "building and uploading $PACKAGES .debs to acme/pub and acme/priv (bookworm/main)"
for i in $(seq 1 "$PACKAGES"); do
  root="$WORK/pkg$i"
  mkdir -p "$root/DEBIAN" "$root/usr/share/doc/bench$i"
  echo "bench $i" >"$root/usr/share/doc/bench$i/README"
  printf 'Package: bench%s\nVersion: 1.0-%s\nArchitecture: amd64\nMaintainer: Bench <b@example.org>\nDescription: benchmark package %s\n' "$i" "$i" "$i" >"$root/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip --build "$root" "$WORK/bench$i.deb" >/dev/null
  for repo in pub priv; do
    curl -sS --fail-with-body -X POST -H "Authorization: Bearer $ADMIN_TOKEN" --data-binary "@$WORK/bench$i.deb" \
      "$G_URL/api/v1/packages/acme/$repo/upload/deb?filename=bench$i.deb&distribution=bookworm&component=main" >/dev/null
  done
done
INREL=/dists/bookworm/InRelease
PKGS=/dists/bookworm/main/binary-amd64/Packages.xz

ROOT="$WORK/nginx-root"
mkdir -p "$ROOT/dists/bookworm/main/binary-amd64"
curl -sS --fail "$G_URL/acme/pub/deb$INREL" -o "$ROOT$INREL"
curl -sS --fail "$G_URL/acme/pub/deb$PKGS" -o "$ROOT$PKGS"
start_nginx "$ROOT"
for _ in $(seq 1 100); do curl -s -o /dev/null "$NGINX$INREL" && break; sleep 0.1; done
for _ in $(seq 1 600); do
  pending=$(api GET /api/v1/security/acme/pub/summary \
    | python3 -c 'import json,sys; s=json.load(sys.stdin)["by_status"]; print(s.get("awaiting_scan",0)+s.get("scanning",0))')
  [ "$pending" = 0 ] && break
  sleep 1
done
# Warm the generations (the first read after a change builds and signs one).
curl -sS -o /dev/null "$G_URL/acme/pub/deb$INREL"
curl -sS -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" "$G_URL/acme/priv/deb$INREL"

run() { wrk_run "$@"; }

log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s against every target"
wait_quiet "${_SERVER_PIDS[@]}" >/dev/null
run "nginx InRelease" inrelease "$NGINX$INREL"
run "gantry InRelease" inrelease "$G_URL/acme/pub/deb$INREL"
run "gantry-private InRelease" inrelease "$G_URL/acme/priv/deb$INREL" "$ADMIN_TOKEN"
run "nginx Packages.xz" packages "$NGINX$PKGS"
run "gantry Packages.xz" packages "$G_URL/acme/pub/deb$PKGS"
run "gantry-private Packages.xz" packages "$G_URL/acme/priv/deb$PKGS" "$ADMIN_TOKEN"
log "gantry pid $G_PID RSS $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$G_PID/status")"

nginx_ratio_table 36
