#!/usr/bin/env bash
# Promotion cost does not depend on package size: copy and move of a 1 GiB raw package vs a
# 1 KiB one.
#
#   bench/promote.sh                          # SQLite and PostgreSQL, from the repository root
#   BACKENDS=sqlite REPS=31 bench/promote.sh
#   GANTRY_BIN=/path/to/gantry bench/promote.sh
#
# For each backend: start a server in a scratch directory (for PostgreSQL, a throwaway cluster
# from scripts/pg.sh), upload a BIG_MIB MiB (default 1024) and a 1 KiB pseudo-random raw
# package to bench/dev, wait for their sync jobs and for other processes to leave the CPU
# (WAIT_QUIET_MAX, default 120 s), then time REPS (default 15) copies of each, to REPS fresh
# repositories (so no identity conflicts), and REPS moves of each (dev → staging → dev …),
# small and big alternating. Reports median/min/max wall time of the API call on a keep-alive
# connection, checks that each copy has its source's sha256, and that the blob store did not
# grow during promotion (no bytes copied).
source "$(dirname "$0")/lib.sh"

BACKENDS=${BACKENDS:-"sqlite postgres"}
REPS=${REPS:-15}
BIG_MIB=${BIG_MIB:-1024}

bench_init
export BENCH_TOKEN=$ADMIN_TOKEN

big="$WORK/big.bin"
small="$WORK/small.bin"
log "generating $BIG_MIB MiB and 1 KiB files"
head -c "$((BIG_MIB * 1024 * 1024))" /dev/urandom >"$big"
head -c 1024 /dev/urandom >"$small"

upload() {
  api POST "/api/v1/packages/bench/dev/upload/raw?name=$1&version=1.0.0&filename=$1.bin" \
    -H 'Content-Type: application/octet-stream' -H 'Expect:' -X POST -T "$2" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["slug_perm"])'
}

results=()
for backend in $BACKENDS; do
  extra=()
  PG_PID=""
  case "$backend" in
    sqlite) ;;
    postgres)
      need createdb
      start_postgres promote
      extra=(--database-url "$PG_URL")
      ;;
    *) echo "unknown backend $backend (sqlite|postgres)" >&2; exit 2 ;;
  esac
  start_server "promote-$backend" "${extra[@]}"
  pid=$SERVER_PID
  create_repo bench dev
  log "[$backend] uploading"
  big_slug=$(upload big "$big")
  small_slug=$(upload small "$small")
  for slug in "$big_slug" "$small_slug"; do
    python3 "$BENCH_PY" wait-sync --url "$SERVER_URL" --owner bench --repo dev --slug "$slug"
  done
  sync  # let the big upload's writeback finish before timing
  sleep 2
  wait_quiet "$pid" "$PG_PID" >/dev/null
  blobs_before=$(du -sk "$SERVER_DATA/blobs" | cut -f1)
  out=$(python3 "$BENCH_PY" promote --url "$SERVER_URL" --owner bench \
    --small-slug "$small_slug" --big-slug "$big_slug" --reps "$REPS")
  blobs_after=$(du -sk "$SERVER_DATA/blobs" | cut -f1)
  results+=("{\"backend\": \"$backend\", \"promote\": $out, \"blobs_kib_before\": $blobs_before, \"blobs_kib_after\": $blobs_after}")
  stop_server "$pid"
  if [ "$backend" = postgres ]; then
    "$REPO_ROOT/scripts/pg.sh" stop "$WORK/pg-promote" >/dev/null 2>&1 || true
  fi
done

python3 - "$(machine_summary)" "${results[@]}" <<'PY'
import json, sys
print(f"# gantry promotion benchmark; machine: {sys.argv[1]}")
for raw in sys.argv[2:]:
    r = json.loads(raw)
    res = r["promote"]["results"]
    print(f"\n## {r['backend']}")
    print(f"{'operation':<10} {'package':<8} {'n':>3} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for c in res:
        print(f"{c['operation']:<10} {c['package']:<8} {c['n']:>3} {c['median_ms']:>10} {c['min_ms']:>8} {c['max_ms']:>8}")
    before, after = r["blobs_kib_before"], r["blobs_kib_after"]
    print(f"blob store: {before / 1024:.1f} MiB before promotion, {after / 1024:.1f} MiB after "
          f"(+{(after - before) / 1024:.1f} MiB)")
    for op in ("copy", "move"):
        small, big = [c for c in res if c["operation"] == op]
        print(f"{op}: {big['package']} / {small['package']} median ratio "
              f"{big['median_ms'] / small['median_ms']:.2f}")
print("\njson: " + json.dumps([json.loads(x) for x in sys.argv[2:]]))
PY
