#!/usr/bin/env bash
# Server memory while streaming a large raw package up and back down.
#
#   bench/rss.sh                     # 2 GiB, from the repository root
#   SIZE_MIB=512 bench/rss.sh        # smaller run
#   GANTRY_BIN=/path/to/gantry bench/rss.sh
#
# Starts a server (SQLite, blobs on local disk) in a scratch directory, generates a
# pseudo-random file of SIZE_MIB MiB, uploads it as a raw package with curl (-T streams the
# file; --data-binary @file would make curl read it all into memory first), waits for the
# package's sync job, downloads it again, and samples the server's VmRSS (/proc/PID/status)
# and CPU time every 100 ms throughout, with IDLE_SECONDS (default 2) of idling between
# phases. Reports baseline, peak and peak − baseline per phase, throughput, and how much CPU
# other processes on the machine used meanwhile (it first waits, up to WAIT_QUIET_MAX
# seconds, for them to stop). Target: peak − baseline ≤ ~50 MB. Needs 3 × SIZE_MIB free disk
# in the scratch directory; everything is removed on exit.
source "$(dirname "$0")/lib.sh"

SIZE_MIB=${SIZE_MIB:-2048}
IDLE_SECONDS=${IDLE_SECONDS:-2}
SIZE=$((SIZE_MIB * 1024 * 1024))

bench_init
export BENCH_TOKEN=$ADMIN_TOKEN

avail_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
if [ "$avail_kb" -lt $((SIZE_MIB * 1024 * 3)) ]; then
  echo "need about $((SIZE_MIB * 3)) MiB free in $WORK (file + blob + temp)" >&2; exit 1
fi

file="$WORK/payload.bin"
log "generating $SIZE_MIB MiB of pseudo-random data"
t0=$(date +%s.%N)
head -c "$SIZE" /dev/urandom >"$file"
[ "$(stat -c %s "$file")" -eq "$SIZE" ] || { echo "could not generate $file" >&2; exit 1; }
log "generated in $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"

start_server rss
create_repo bench dev

samples="$WORK/rss.samples"
marks="$WORK/rss.marks"
mark() { echo "$1 $(date +%s.%N)" >>"$marks"; }
python3 "$BENCH_PY" rss-sample --pid "$SERVER_PID" --out "$samples" --interval 0.1 &
sampler=$!

wait_quiet "$SERVER_PID" >/dev/null
mark start
sleep "$IDLE_SECONDS"

log "uploading $SIZE_MIB MiB"
mark upload_start
python3 "$BENCH_PY" other-load --start "$WORK/other.snap"
curl -sS --fail-with-body -o "$WORK/upload.json" -w '%{json}' \
  -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/octet-stream' \
  -H 'Expect:' -X POST -T "$file" \
  "$SERVER_URL/api/v1/packages/bench/dev/upload/raw?name=big&version=1.0.0&filename=big.bin" \
  >"$WORK/curl-upload.json"
mark upload_end
python3 "$BENCH_PY" other-load --since "$WORK/other.snap" --own-pids "$SERVER_PID,$sampler" >"$WORK/other-upload.json"
slug=$(python3 - "$WORK/upload.json" "$SIZE" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["size"] == int(sys.argv[2]), p
print(f"uploaded {p['slug_perm']} sha256 {p['checksum_sha256']}", file=sys.stderr)
print(p["slug_perm"])
PY
)
# The package is synced by a background job before it can be downloaded.
python3 "$BENCH_PY" wait-sync --url "$SERVER_URL" --owner bench --repo dev --slug "$slug"
mark sync_end
sleep "$IDLE_SECONDS"

log "downloading $SIZE_MIB MiB"
mark download_start
python3 "$BENCH_PY" other-load --start "$WORK/other.snap"
curl -sS --fail -o /dev/null -w '%{json}' -H "Authorization: Bearer $ADMIN_TOKEN" \
  "$SERVER_URL/bench/dev/raw/big/1.0.0/big.bin" >"$WORK/curl-download.json"
mark download_end
python3 "$BENCH_PY" other-load --since "$WORK/other.snap" --own-pids "$SERVER_PID,$sampler" >"$WORK/other-download.json"
got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["size_download"])' "$WORK/curl-download.json")
[ "$got" -eq "$SIZE" ] || { echo "downloaded $got bytes, expected $SIZE" >&2; exit 1; }
sleep "$IDLE_SECONDS"
mark end

kill -TERM "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true

report=$(python3 "$BENCH_PY" rss-report --samples "$samples" --marks "$marks" --size "$SIZE" \
  --curl-upload "$WORK/curl-upload.json" --curl-download "$WORK/curl-download.json" \
  --other-upload "$WORK/other-upload.json" --other-download "$WORK/other-download.json")
python3 - "$report" "$(machine_summary)" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"# gantry RSS benchmark: {r['size_bytes'] / 2**20:.0f} MiB raw package, "
      f"{r['samples']} samples every {r['interval_ms']} ms")
print(f"# machine: {sys.argv[2]}")
print(f"{'phase':<10} {'baseline MiB':>13} {'peak MiB':>9} {'peak-base MiB':>14} {'seconds':>8} {'MiB/s':>7} {'server CPU':>11} {'other load':>11}")
for phase in ("upload", "download"):
    p = r[phase]
    print(f"{phase:<10} {p['baseline_mib']:>13} {p['peak_mib']:>9} {p['peak_minus_baseline_mib']:>14} "
          f"{p['seconds']:>8} {p['mib_per_s']:>7} {str(p['server_cpu_percent']) + ' %':>11} {str(p['other_cpu_cores']) + ' core':>11}")
for phase in ("upload", "download"):
    if r[phase].get("other_top"):
        print(f"other processes during {phase}: {r[phase]['other_top']}")
print(f"sync job after the upload: {r['sync']['seconds']} s, peak {r['sync']['peak_mib']} MiB "
      f"(+{r['sync']['peak_minus_baseline_mib']} MiB over the start baseline)")
print(f"idle after upload: {r['after_upload_mib']} MiB, after download: {r['after_download_mib']} MiB")
print("(server CPU: the server's CPU time over the phase's wall time; other load: CPU used meanwhile\n"
      " by processes other than the benchmark and the server, e.g. a compiler)")
ok = all(r[p]["peak_minus_baseline_mib"] * 1.048576 <= 50 for p in ("upload", "download")) \
    and (r["sync"]["peak_minus_baseline_mib"] or 0) * 1.048576 <= 50
print(f"target peak - baseline <= 50 MB: {'met' if ok else 'MISSED'}")
print("json: " + json.dumps(r))
PY
