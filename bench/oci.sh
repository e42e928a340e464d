#!/usr/bin/env bash
# Gantry's registry beside the CNCF distribution registry (Debian's `docker-registry`), on the
# same image, in one run: a manifest GET and a 100 KB blob GET under the same wrk load
# (anonymous on both; Gantry also with a read token on a private repository), then whole
# image pulls with skopeo (an image of ten 1 MB layers, pulled into a fresh directory each
# time). Prints a table with Gantry's ratio to the peer and one `json:` line.
#
#   DURATION   seconds per wrk run (default 10)      CONNECTIONS  wrk -c (default 64)
#   THREADS    wrk -t (default 2)                    PULLS        skopeo pulls per target (default 10)
#   GANTRY_BIN server binary (release; built when missing)
#
# Needs wrk, skopeo and docker-registry (apt-get install -y wrk skopeo docker-registry).
# Nothing leaves 127.0.0.1.
source "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PULLS=${PULLS:-10}

need wrk skopeo docker-registry
bench_init
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

log "machine: $(machine_summary)"
log "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD)"

# --- Two images in one OCI layout, written by hand: `small` (one 100 KB layer, the blob
# measured with wrk) and `big` (ten 1 MB layers, pulled whole with skopeo). The layers are
# random bytes with a layer media type; no registry here looks inside them.
python3 - "$WORK/layout" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
os.makedirs(f"{root}/blobs/sha256", exist_ok=True)
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{root}/blobs/sha256/{d}", "wb").write(data)
    return {"digest": f"sha256:{d}", "size": len(data)}
index = []
for tag, sizes in (("small", [102400]), ("big", [1048576] * 10)):
    config = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {}}).encode())
    layers = [dict(blob(os.urandom(n)), mediaType="application/vnd.oci.image.layer.v1.tar")
              for n in sizes]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
                "layers": layers}
    m = blob(json.dumps(manifest).encode())
    index.append(dict(m, mediaType=manifest["mediaType"],
                      annotations={"org.opencontainers.image.ref.name": tag}))
    if tag == "small":
        open(f"{root}/small-layer", "w").write(layers[0]["digest"])
open(f"{root}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(f"{root}/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": index}))
PY
LAYER=$(cat "$WORK/layout/small-layer")

# --- The CNCF distribution registry, filesystem storage.
D_PORT=$(free_port)
mkdir -p "$WORK/distribution"
cat >"$WORK/distribution/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/distribution/data
http:
  addr: 127.0.0.1:$D_PORT
YAML
docker-registry serve "$WORK/distribution/config.yml" >"$WORK/distribution.stdout" 2>"$WORK/distribution.stderr" &
_SERVER_PIDS+=("$!")
D_PID=$!
DIST="http://127.0.0.1:$D_PORT"
for _ in $(seq 1 300); do curl -s -o /dev/null "$DIST/v2/" && break; sleep 0.1; done

# --- Gantry on SQLite: the images in a public and a private repository.
start_server sqlite
G_PID=$SERVER_PID
export GANTRY_URL=$SERVER_URL GANTRY_TOKEN=$ADMIN_TOKEN
api POST /api/v1/repos/acme -H 'Content-Type: application/json' -d '{"name":"pub","private":false}' >/dev/null
api POST /api/v1/repos/acme -H 'Content-Type: application/json' -d '{"name":"priv","private":true}' >/dev/null
READ_TOKEN=$(api POST /api/v1/tokens -H 'Content-Type: application/json' \
  -d '{"scope":"acme/priv","privilege":"read"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
G=${SERVER_URL#http://}
for tag in small big; do
  skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$WORK/layout:$tag" "docker://127.0.0.1:$D_PORT/bench/app:$tag"
  for repo in pub priv; do
    skopeo copy -q --preserve-digests --dest-tls-verify=false --dest-creds "bench:$ADMIN_TOKEN" \
      "oci:$WORK/layout:$tag" "docker://$G/acme/$repo/app:$tag"
  done
done

ACCEPT="Accept: application/vnd.oci.image.manifest.v1+json"
# run LABEL GROUP URL [TOKEN]: one wrk run; appends label, group, req/s, p99 ms, non-2xx.
run() {
  local label=$1 group=$2 url=$3 token=${4:-}
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "$ACCEPT" ${token:+-H "Authorization: Bearer $token"} "$url")
  [ "$code" = 200 ] || { echo "$label: $url answered $code" >&2; exit 1; }
  local args=(-t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency -H "$ACCEPT")
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  local out
  out=$(wrk "${args[@]}" "$url")
  wrk_row "$label" "$group" "$out" >>"$RESULTS"
  log "$(tail -n1 "$RESULTS")"
}

# pulls LABEL SOURCE [CREDS]: PULLS whole-image pulls with skopeo; appends pulls/s and the
# slowest pull in ms.
pulls() {
  local label=$1 source=$2 creds=${3:-}
  local start end i slowest=0 t0 t1 ms
  start=$(date +%s.%N)
  for i in $(seq 1 "$PULLS"); do
    t0=$(date +%s%N)
    skopeo copy -q --src-tls-verify=false ${creds:+--src-creds "$creds"} "$source" \
      "oci:$WORK/pull-$i:big" >/dev/null
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    [ "$ms" -gt "$slowest" ] && slowest=$ms
    rm -rf "$WORK/pull-$i"
  done
  end=$(date +%s.%N)
  python3 -c "import sys; n=$PULLS; s=$end-$start; print(f'$label\tpull\t{n/s:.2f}\t$slowest\t0')" >>"$RESULTS"
  log "$(tail -n1 "$RESULTS")"
}

log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s against every target"
wait_quiet "${_SERVER_PIDS[@]}" >/dev/null
run "distribution manifest" manifest "$DIST/v2/bench/app/manifests/small"
run "gantry manifest anonymous" manifest "$SERVER_URL/v2/acme/pub/app/manifests/small"
run "gantry manifest token" manifest "$SERVER_URL/v2/acme/priv/app/manifests/small" "$READ_TOKEN"
run "distribution blob 100k" blob "$DIST/v2/bench/app/blobs/$LAYER"
run "gantry blob 100k anonymous" blob "$SERVER_URL/v2/acme/pub/app/blobs/$LAYER"
run "gantry blob 100k token" blob "$SERVER_URL/v2/acme/priv/app/blobs/$LAYER" "$READ_TOKEN"
pulls "distribution skopeo pull 10x1MB" "docker://127.0.0.1:$D_PORT/bench/app:big"
pulls "gantry skopeo pull 10x1MB anonymous" "docker://$G/acme/pub/app:big"
pulls "gantry skopeo pull 10x1MB token" "docker://$G/acme/priv/app:big" "bench:$READ_TOKEN"

log "gantry pid $G_PID RSS $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$G_PID/status"); distribution pid $D_PID RSS $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$D_PID/status")"
python3 - "$RESULTS" "$(machine_summary)" "$(git -C "$REPO_ROOT" rev-parse --short HEAD)" <<'PY'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
peer = {group: float(rps) for label, group, rps, _, _ in rows if label.startswith("distribution")}
print(f"{'target':40} {'req/s':>9} {'p99/max ms':>11} {'non-2xx':>8}  ratio")
out = []
for label, group, rps, p99, errors in rows:
    ratio = f"{float(rps) / peer[group]:.2f}x distribution" if label.startswith("gantry") and peer.get(group) else ""
    print(f"{label:40} {float(rps):9.2f} {float(p99):11.2f} {errors:>8}  {ratio}")
    out.append({"target": label, "group": group, "rate": float(rps), "p99_or_max_ms": float(p99),
                "non_2xx": int(errors)})
print("json: " + json.dumps({"machine": sys.argv[2], "commit": sys.argv[3], "results": out}))
PY
