#!/usr/bin/env bash
# RPM repodata beside nginx, on the same bytes, in one run: repomd.xml and primary.xml.gz of a
# repository holding PACKAGES packages (built with rpmbuild, pushed with the REST upload),
# written by Gantry and copied byte for byte into nginx's root, from Gantry (a public
# repository, and a private one with a token) and from nginx. Every target gets the same wrk
# load; prints a table with Gantry's ratio to nginx and one `json:` line.
#
#   DURATION   seconds per wrk run (default 10)      CONNECTIONS  wrk -c (default 64)
#   THREADS    wrk -t (default 2)                    GANTRY_BIN   server binary (release)
#   PACKAGES   packages in the repository (default 50)
#
# Needs wrk, nginx and rpmbuild (apt-get install -y wrk nginx-light rpm). Nothing leaves
# 127.0.0.1.
source "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PACKAGES=${PACKAGES:-50}

need wrk nginx curl python3 rpmbuild
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

log "building $PACKAGES packages with rpmbuild"
TOP="$WORK/rpmbuild"
mkdir -p "$TOP/SPECS"
for i in $(seq 1 "$PACKAGES"); do
  cat >"$TOP/SPECS/p$i.spec" <<SPEC
Name: bench-pkg-$i
Version: 1.$i
Release: 1
Summary: benchmark package $i
License: MIT
BuildArch: noarch
AutoReqProv: no
Requires: bench-pkg-1
%description
Benchmark package $i.
%install
mkdir -p %{buildroot}/usr/share/bench-$i
echo $i > %{buildroot}/usr/share/bench-$i/data
%files
/usr/share/bench-$i/data
SPEC
  rpmbuild -bb --quiet --define "_topdir $TOP" "$TOP/SPECS/p$i.spec" >/dev/null 2>&1
done
for repo in pub priv; do
  for f in "$TOP"/RPMS/noarch/*.rpm; do
    curl -sS --fail-with-body -X POST -H "Authorization: Bearer $ADMIN_TOKEN" \
      --data-binary "@$f" "$G_URL/api/v1/packages/acme/$repo/upload/rpm?filename=$(basename "$f")" >/dev/null
  done
done

# nginx serves the very same bytes in the same layout.
ROOT="$WORK/nginx-root"
mkdir -p "$ROOT/repodata"
curl -sS --fail "$G_URL/acme/pub/rpm/repodata/repomd.xml" -o "$ROOT/repodata/repomd.xml"
PRIMARY=$(python3 -c 'import re,sys; print(re.search(r"<data type=\"primary\">.*?<location href=\"([^\"]+)\"", open(sys.argv[1]).read(), re.S).group(1))' "$ROOT/repodata/repomd.xml")
curl -sS --fail "$G_URL/acme/pub/rpm/$PRIMARY" -o "$ROOT/$PRIMARY"
PRIV_PRIMARY=$(curl -sS --fail -H "Authorization: Bearer $ADMIN_TOKEN" "$G_URL/acme/priv/rpm/repodata/repomd.xml" \
  | python3 -c 'import re,sys; print(re.search(r"<data type=\"primary\">.*?<location href=\"([^\"]+)\"", sys.stdin.read(), re.S).group(1))')
start_nginx "$ROOT"
for _ in $(seq 1 100); do curl -s -o /dev/null "$NGINX/repodata/repomd.xml" && break; sleep 0.1; done

run() { wrk_run "$@"; }

log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s against every target"
wait_quiet "${_SERVER_PIDS[@]}" >/dev/null
run "nginx repomd.xml" repomd "$NGINX/repodata/repomd.xml"
run "gantry repomd.xml" repomd "$G_URL/acme/pub/rpm/repodata/repomd.xml"
run "gantry-private repomd.xml" repomd "$G_URL/acme/priv/rpm/repodata/repomd.xml" "$ADMIN_TOKEN"
run "nginx primary.xml.gz" primary "$NGINX/$PRIMARY"
run "gantry primary.xml.gz" primary "$G_URL/acme/pub/rpm/$PRIMARY"
run "gantry-private primary.xml.gz" primary "$G_URL/acme/priv/rpm/$PRIV_PRIMARY" "$ADMIN_TOKEN"
log "gantry pid $G_PID RSS $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$G_PID/status")"

nginx_ratio_table 36
