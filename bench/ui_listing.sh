#!/usr/bin/env bash
# Web interface latency with 100,000 packages in one repository: the repository page (first
# page, a deep page, a filtered query) and a package page, served to a signed-in session.
#
#   bench/ui_listing.sh                       # SQLite
#   BACKENDS="sqlite postgres" bench/ui_listing.sh
#   PACKAGES=20000 REQUESTS=200 bench/ui_listing.sh
#
# For each backend: a server with --workers 0 accepts PACKAGES raw uploads (bench.py
# populate), is restarted, and after SETTLE_SECONDS one keep-alive connection signs in
# through the sign-in form (with an admin token) and sends REQUESTS sequential requests per
# case, after 20 warm-up requests; p50/p90/p99/max are measured at the client, so they bound
# the server-side time from above. GET /healthz gives the cost of HTTP and the client alone.
# Target (issue 18): the repository page's first page under 50 ms server-side.
source "$(dirname "$0")/lib.sh"

BACKENDS=${BACKENDS:-sqlite}
PACKAGES=${PACKAGES:-100000}
REQUESTS=${REQUESTS:-500}
CONCURRENCY=${CONCURRENCY:-8}
SETTLE_SECONDS=${SETTLE_SECONDS:-3}

bench_init
export BENCH_TOKEN=$ADMIN_TOKEN
results=()
for backend in $BACKENDS; do
  extra=()
  case "$backend" in
    sqlite) ;;
    postgres) need createdb psql; start_postgres ui; extra=(--database-url "$PG_URL") ;;
    *) echo "unknown backend $backend (sqlite|postgres)" >&2; exit 2 ;;
  esac
  start_server "ui-$backend" --workers 0 "${extra[@]}"
  create_repo bench dev
  log "[$backend] populating bench/dev with $PACKAGES packages"
  python3 "$BENCH_PY" populate --url "$SERVER_URL" --owner bench --repo dev \
    --count "$PACKAGES" --concurrency "$CONCURRENCY" --slugs-out "$WORK/slugs-$backend.txt" >&2
  stop_server "$SERVER_PID"
  start_server "ui-$backend" --workers 0 "${extra[@]}"
  sleep "$SETTLE_SECONDS"
  log "[$backend] measuring ($REQUESTS requests per case)"
  latency=$(python3 - "$SERVER_URL" "$ADMIN_TOKEN" "$REQUESTS" "$WORK/slugs-$backend.txt" <<'PY'
import http.client, json, re, sys, time, urllib.parse
url, token, requests, slugs_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
host = urllib.parse.urlparse(url).netloc
conn = http.client.HTTPConnection(host)
cookies = {}
def send(method, path, body=None):
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, rest = v.split("=", 1)
            cookies[name] = rest.split(";", 1)[0]
    return r.status, data
status, page = send("GET", "/ui/-/sign-in")
csrf = re.search(rb'name="csrf" value="([0-9a-f]{64})"', page).group(1).decode()
status, _ = send("POST", "/ui/-/sign-in", urllib.parse.urlencode({"csrf": csrf, "token": token}))
assert status == 303, status
slug = open(slugs_file).readline().strip()
cases = [
    ("GET /healthz", "/healthz"),
    ("repository page 1 (50 packages)", "/ui/bench/dev"),
    ("repository page 1000", "/ui/bench/dev?page=1000"),
    ("repository page, query name:pkg000042", "/ui/bench/dev?q=name%3Apkg000042"),
    ("package page", f"/ui/bench/dev/{slug}"),
]
out = []
for name, path in cases:
    for _ in range(20):
        send("GET", path)
    times = []
    for _ in range(requests):
        t = time.perf_counter()
        status, body = send("GET", path)
        times.append((time.perf_counter() - t) * 1000)
        assert status == 200, (path, status)
    if path == "/ui/bench/dev":
        assert b"pkg0" in body
    times.sort()
    pick = lambda q: round(times[min(len(times) - 1, int(q * len(times)))], 2)
    out.append({"case": name, "n": requests, "p50_ms": pick(0.5), "p90_ms": pick(0.9),
                "p99_ms": pick(0.99), "max_ms": round(times[-1], 2)})
print(json.dumps(out))
PY
)
  results+=("{\"backend\": \"$backend\", \"latency\": $latency}")
  stop_server "$SERVER_PID"
  if [ "$backend" = postgres ]; then
    "$REPO_ROOT/scripts/pg.sh" stop "$WORK/pg-ui" >/dev/null 2>&1 || true
  fi
done
python3 - "$(machine_summary)" "$PACKAGES" "${results[@]}" <<'PY'
import json, sys
print(f"# gantry web interface benchmark ({sys.argv[2]} packages); machine: {sys.argv[1]}")
for raw in sys.argv[3:]:
    r = json.loads(raw)
    print(f"\n## {r['backend']}")
    print(f"{'case':<42} {'n':>5} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for c in r["latency"]:
        print(f"{c['case']:<42} {c['n']:>5} {c['p50_ms']:>8} {c['p90_ms']:>8} {c['p99_ms']:>8} {c['max_ms']:>8}")
PY
