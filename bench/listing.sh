#!/usr/bin/env bash
# Listing and lookup latency with 100,000 packages in one repository, on SQLite and PostgreSQL.
#
#   bench/listing.sh                          # both backends, from the repository root
#   BACKENDS=sqlite bench/listing.sh          # one backend
#   PACKAGES=20000 REQUESTS=500 bench/listing.sh
#   GANTRY_BIN=/path/to/gantry bench/listing.sh
#
# For each backend (PostgreSQL: a throwaway cluster from scripts/pg.sh):
#  1. populate: a server with --workers 0 accepts PACKAGES raw uploads of a few bytes each
#     over CONCURRENCY keep-alive connections (timed). With no job workers the uploads stay
#     `awaiting_sync`, so this times the upload path alone;
#  2. sync: the server is restarted with its default job workers for SYNC_SECONDS (default 30;
#     0 skips) and the drain rate of the PACKAGES-job sync backlog is measured from /metrics
#     (counted from the moment the server is started);
#  3. measure: the server is restarted with --workers 0 again (no background work), PostgreSQL
#     gets a VACUUM (ANALYZE) as autovacuum would after a bulk load (PG_VACUUM=0 skips it), and
#     after SETTLE_SECONDS (default 5) and waiting for other processes to leave the CPU
#     (WAIT_QUIET_MAX, default 60 s) one keep-alive connection sends REQUESTS (default 2000)
#     sequential requests, after 50 warm-up requests, for each of:
#       (0) GET /healthz: what HTTP and the Python client cost on their own
#       (a) GET /api/v1/packages/bench/dev?page=1&page_size=30
#       (b) the same at page DEEP_PAGE (default 1000, i.e. OFFSET 29,970)
#       (c) GET /api/v1/packages/bench/dev/{slug_perm}, slugs from a random sample of 2,000
#       (d) the last page, LAST_PAGE_REQUESTS times (default 200): how OFFSET scales
#     and reports p50/p90/p99/max, and how much CPU other processes used meanwhile.
# Target: p99 in single-digit milliseconds.
source "$(dirname "$0")/lib.sh"

BACKENDS=${BACKENDS:-"sqlite postgres"}
PACKAGES=${PACKAGES:-100000}
REQUESTS=${REQUESTS:-2000}
CONCURRENCY=${CONCURRENCY:-8}
DEEP_PAGE=${DEEP_PAGE:-1000}
LAST_PAGE_REQUESTS=${LAST_PAGE_REQUESTS:-200}
SYNC_SECONDS=${SYNC_SECONDS:-30}
PG_VACUUM=${PG_VACUUM:-1}
SETTLE_SECONDS=${SETTLE_SECONDS:-5}
WAIT_QUIET_MAX=${WAIT_QUIET_MAX:-60}

bench_init
export BENCH_TOKEN=$ADMIN_TOKEN
results=()

for backend in $BACKENDS; do
  extra=()
  PG_PID=""
  case "$backend" in
    sqlite) ;;
    postgres)
      need createdb psql
      start_postgres listing
      extra=(--database-url "$PG_URL")
      ;;
    *) echo "unknown backend $backend (sqlite|postgres)" >&2; exit 2 ;;
  esac

  start_server "listing-$backend" --workers 0 "${extra[@]}"
  create_repo bench dev
  log "[$backend] populating bench/dev with $PACKAGES packages over $CONCURRENCY connections"
  populate=$(python3 "$BENCH_PY" populate --url "$SERVER_URL" --owner bench --repo dev \
    --count "$PACKAGES" --concurrency "$CONCURRENCY" --slugs-out "$WORK/slugs-$backend.txt")
  log "[$backend] populate: $populate"
  stop_server "$SERVER_PID"

  sync='null'
  if [ "$SYNC_SECONDS" != 0 ]; then
    started_at=$(date +%s.%N)
    start_server "listing-$backend" "${extra[@]}"
    log "[$backend] sync jobs: measuring the drain rate for $SYNC_SECONDS s"
    sync=$(python3 "$BENCH_PY" sync-rate --url "$SERVER_URL" --seconds "$SYNC_SECONDS" \
      --started-at "$started_at" --initial "$PACKAGES")
    stop_server "$SERVER_PID"
  fi

  start_server "listing-$backend" --workers 0 "${extra[@]}"
  pid=$SERVER_PID
  if [ "$backend" = postgres ] && [ "$PG_VACUUM" = 1 ]; then
    log "[$backend] VACUUM (ANALYZE)"
    psql -q "$PG_URL" -c 'VACUUM (ANALYZE)'
  fi
  sleep "$SETTLE_SECONDS"
  quiet=$(wait_quiet "$pid" "$PG_PID")
  log "[$backend] measuring ($REQUESTS requests per case)"
  latency=$(python3 "$BENCH_PY" latency --url "$SERVER_URL" --owner bench --repo dev \
    --slugs "$WORK/slugs-$backend.txt" --requests "$REQUESTS" --deep-page "$DEEP_PAGE" \
    --last-page-requests "$LAST_PAGE_REQUESTS" --expect-count "$PACKAGES" \
    --own-pids "$pid,$PG_PID")
  results+=("{\"backend\": \"$backend\", \"populate\": $populate, \"sync\": $sync, \"latency\": $latency, \"quiet_before\": $quiet}")
  stop_server "$pid"
  if [ "$backend" = postgres ]; then
    "$REPO_ROOT/scripts/pg.sh" stop "$WORK/pg-listing" >/dev/null 2>&1 || true
  fi
done

python3 - "$(machine_summary)" "${results[@]}" <<'PY'
import json, sys
print(f"# gantry listing benchmark; machine: {sys.argv[1]}")
for raw in sys.argv[2:]:
    r = json.loads(raw)
    p = r["populate"]
    print(f"\n## {r['backend']}: {p['packages']} uploads accepted in {p['seconds']} s "
          f"({p['uploads_per_second']}/s over {p['concurrency']} connections, job workers off)")
    s = r.get("sync")
    if s:
        left = s["queued_at_start"] - s["done"]
        eta = f", about {left / s['jobs_per_second'] / 60:.0f} min for the remaining {left}" \
            if s["jobs_per_second"] > 0 and left > 0 else ""
        print(f"sync jobs: {s['jobs_per_second']}/s with {s['queued_at_start']} queued "
              f"({s['done']} done in {s['seconds']} s{eta})")
    if (r.get("quiet_before") or {}).get("quiet") is False:
        print("WARNING: other processes kept the CPU busy; the figures below are disturbed")
    print(f"{'case':<36} {'n':>5} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'other load':>11}")
    for c in r["latency"]["results"]:
        print(f"{c['case']:<36} {c['n']:>5} {c['p50_ms']:>8} {c['p90_ms']:>8} {c['p99_ms']:>8} "
              f"{c['max_ms']:>8} {c['other_cpu_cores']:>6} core")
    print("(other load: CPU used meanwhile by processes other than the benchmark, server and database)")
print("\njson: " + json.dumps([json.loads(x) for x in sys.argv[2:]]))
PY
