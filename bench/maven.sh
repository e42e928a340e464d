#!/usr/bin/env bash
# Maven beside nginx, on the same files, in one run: an artifact's maven-metadata.xml (VERSIONS
# versions, written by Gantry, copied byte for byte into nginx's root) and a 100 KB JAR, from
# Gantry (a public repository, and a private one with a token) and from nginx serving the
# same Maven layout as static files. Every target gets the same wrk load; prints a table with
# Gantry's ratio to nginx and one `json:` line.
#
#   DURATION   seconds per wrk run (default 10)      CONNECTIONS  wrk -c (default 64)
#   THREADS    wrk -t (default 2)                    GANTRY_BIN   server binary (release)
#   VERSIONS   versions deployed (default 50)
#
# Needs wrk and nginx (apt-get install -y wrk nginx-light). Nothing leaves 127.0.0.1.
source "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
VERSIONS=${VERSIONS:-50}

need wrk nginx curl python3
bench_init
start_pub_priv
G_URL=$G

# put REPO PATH FILE: one PUT of the Maven layout.
put() {
  curl -sS --fail-with-body -X PUT -H "Authorization: Bearer $ADMIN_TOKEN" \
    --data-binary "@$3" "$G_URL/acme/$1/maven/$2" >/dev/null
}
head -c 102400 /dev/urandom >"$WORK/app.jar"
log "deploying $VERSIONS versions of org.example:app (POM + 100 KB JAR) to acme/pub and acme/priv"
for repo in pub priv; do
  for i in $(seq 1 "$VERSIONS"); do
    v="1.0.$i"
    printf '<project><groupId>org.example</groupId><artifactId>app</artifactId><version>%s</version></project>' "$v" >"$WORK/app.pom"
    put "$repo" "org/example/app/$v/app-$v.pom" "$WORK/app.pom"
    put "$repo" "org/example/app/$v/app-$v.jar" "$WORK/app.jar"
    printf '<metadata/>' >"$WORK/meta.xml"
    put "$repo" "org/example/app/maven-metadata.xml" "$WORK/meta.xml"
  done
done
META=/org/example/app/maven-metadata.xml
JAR=/org/example/app/1.0.1/app-1.0.1.jar

# nginx serves the very same bytes in the same layout.
ROOT="$WORK/nginx-root"
mkdir -p "$ROOT/org/example/app/1.0.1"
curl -sS --fail "$G_URL/acme/pub/maven$META" -o "$ROOT$META"
cp "$WORK/app.jar" "$ROOT$JAR"
start_nginx "$ROOT"
for _ in $(seq 1 100); do curl -s -o /dev/null "$NGINX$META" && break; sleep 0.1; done
# Scans queued by the deploys are background work: let them finish before measuring.
for _ in $(seq 1 600); do
  pending=$(api GET /api/v1/security/acme/pub/summary \
    | python3 -c 'import json,sys; s=json.load(sys.stdin)["by_status"]; print(s.get("awaiting_scan",0)+s.get("scanning",0))')
  [ "$pending" = 0 ] && break
  sleep 1
done

run() { wrk_run "$@"; }

log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s against every target"
wait_quiet "${_SERVER_PIDS[@]}" >/dev/null
run "nginx maven-metadata.xml" metadata "$NGINX$META"
run "gantry maven-metadata.xml" metadata "$G_URL/acme/pub/maven$META"
run "gantry-private maven-metadata.xml" metadata "$G_URL/acme/priv/maven$META" "$ADMIN_TOKEN"
run "nginx jar 100k" jar "$NGINX$JAR"
run "gantry jar 100k" jar "$G_URL/acme/pub/maven$JAR"
run "gantry-private jar 100k" jar "$G_URL/acme/priv/maven$JAR" "$ADMIN_TOKEN"
log "gantry pid $G_PID RSS $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$G_PID/status")"

nginx_ratio_table 36
