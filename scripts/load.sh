#!/usr/bin/env bash
# Load: N concurrent clients (default 1000) for D seconds (default 600) of mixed traffic
# against one server: downloads, index reads (REST listings, the Python simple index, npm
# packuments), raw uploads and promotions (copies). Reports requests, 5xx, p50/p99 latency
# per kind, and the server's RSS after the first minute and at the end. Not CI.
# Usage: scripts/load.sh [sqlite|postgres] [SECONDS] [CLIENTS]
# PostgreSQL comes from scripts/pg.sh (a throwaway cluster). Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
seconds="${2:-600}"
clients="${3:-1000}"
# A release build gives the real figures; GANTRY_BIN=target/debug/gantry measures a debug one.
bin="${GANTRY_BIN:-$PWD/target/release/gantry}"
[ -x "$bin" ] || cargo build --release --locked -p gantry
echo "binary: $bin"
work=$(mktemp -d /tmp/gantry-load.XXXXXX)
pg_dir=""
cleanup() {
  if [ -n "${server_pid:-}" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$pg_dir" ]; then scripts/pg.sh stop "$pg_dir" || true; rm -rf "$pg_dir"; fi
  rm -rf "$work"
}
trap cleanup EXIT
db_args=()
if [ "$backend" = postgres ]; then
  pg_dir=$(mktemp -d /tmp/gantry-load-pg.XXXXXX)
  db_args=(--database-url "$(scripts/pg.sh start "$pg_dir")")
fi
# The clients hold 1,000 connections at once, the server as many plus its database and files.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
token="gty_load_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
GANTRY_ADMIN_TOKEN="$token" GANTRY_LOG=warn nice -n 5 "$bin" server --listen 127.0.0.1:0 \
  --data-dir "$work/data" "${db_args[@]}" --auth-failure-limit 1000000 \
  >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/^gantry listening on //p' "$work/stdout" | head -n1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start" >&2; cat "$work/stderr" >&2; exit 1; }
echo "server pid $server_pid at $url ($backend); $clients clients for $seconds s"
URL="$url" TOKEN="$token" PID="$server_pid" SECONDS_TOTAL="$seconds" CLIENTS="$clients" \
  nice -n 5 python3 - <<'PY'
import asyncio, json, os, random, time, urllib.parse

URL, TOKEN, PID = os.environ["URL"], os.environ["TOKEN"], int(os.environ["PID"])
TOTAL, CLIENTS = int(os.environ["SECONDS_TOTAL"]), int(os.environ["CLIENTS"])
host, port = urllib.parse.urlsplit(URL).hostname, urllib.parse.urlsplit(URL).port

def rss_kib():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

class Conn:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closes it."""
    def __init__(self):
        self.r = self.w = None
    async def request(self, method, path, body=b"", headers=None):
        for attempt in (0, 1):
            if self.w is None:
                self.r, self.w = await asyncio.open_connection(host, port)
            head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n"
            for k, v in (headers or {}).items():
                head += f"{k}: {v}\r\n"
            try:
                self.w.write(head.encode() + b"\r\n" + body)
                await self.w.drain()
                status_line = await self.r.readline()
                if not status_line:
                    raise ConnectionError("closed")
                status = int(status_line.split()[1])
                length, close, chunked = 0, False, False
                while True:
                    line = await self.r.readline()
                    if line in (b"\r\n", b""):
                        break
                    k, _, v = line.decode("latin-1").partition(":")
                    k, v = k.strip().lower(), v.strip()
                    if k == "content-length":
                        length = int(v)
                    elif k == "connection" and v.lower() == "close":
                        close = True
                    elif k == "transfer-encoding" and "chunked" in v.lower():
                        chunked = True
                if chunked:
                    data = b""
                    while True:
                        size = int((await self.r.readline()).split(b";")[0], 16)
                        chunk = await self.r.readexactly(size + 2)
                        if size == 0:
                            break
                        data += chunk[:-2]
                else:
                    data = await self.r.readexactly(length) if length else b""
                if close:
                    self.w.close(); self.w = None
                return status, data
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                if self.w is not None:
                    self.w.close()
                self.w = None
                if attempt:
                    raise
        raise ConnectionError("unreachable")

stats = {}
def record(kind, status, took):
    s = stats.setdefault(kind, {"n": 0, "5xx": 0, "other_errors": 0, "lat": []})
    s["n"] += 1
    if status is None:
        s["other_errors"] += 1
    elif status >= 500:
        s["5xx"] += 1
    s["lat"].append(took)

async def setup():
    c = Conn()
    for name, private in (("dev", False), ("staging", False)):
        await c.request("POST", "/api/v1/repos/acme", json.dumps({"name": name, "private": private}).encode(), {"Content-Type": "application/json"})
    slugs, files = [], []
    for i in range(50):
        st, body = await c.request("POST", f"/api/v1/packages/acme/dev/upload/raw?name=seed{i}&version=1&filename=seed{i}.bin", os.urandom(4096 * (1 + i % 16)))
        pkg = json.loads(body)
        slugs.append(pkg["slug_perm"])
    # Wait for the seeds' syncs, then learn their download paths.
    for _ in range(100):
        st, body = await c.request("GET", "/api/v1/packages/acme/dev?page_size=100")
        pkgs = json.loads(body)
        if all(p.get("files") for p in pkgs) and len(pkgs) >= 50:
            break
        await asyncio.sleep(0.2)
    for p in pkgs:
        files.append(urllib.parse.urlsplit(p["files"][0]["download_url"]).path)
    return slugs, files

async def client(i, deadline, slugs, files):
    c = Conn()
    rnd = random.Random(i)
    n = 0
    while time.monotonic() < deadline:
        n += 1
        r = rnd.random()
        if r < 0.45:
            kind, args = "download", ("GET", rnd.choice(files))
        elif r < 0.60:
            kind, args = "index:rest", ("GET", "/api/v1/packages/acme/dev?page_size=30")
        elif r < 0.72:
            kind, args = "index:python", ("GET", f"/acme/dev/python/simple/")
        elif r < 0.80:
            kind, args = "index:npm", ("GET", f"/acme/dev/npm/seed{rnd.randrange(50)}")
        elif r < 0.92:
            kind, args = "upload", ("POST", f"/api/v1/packages/acme/dev/upload/raw?name=c{i}&version={n}&filename=c{i}-{n}.bin", os.urandom(rnd.randrange(512, 65536)))
        else:
            kind, args = "promotion", ("POST", f"/api/v1/packages/acme/dev/{rnd.choice(slugs)}/copy", json.dumps({"destination": "staging", "republish": True}).encode(), {"Content-Type": "application/json"})
        start = time.monotonic()
        try:
            status, _ = await c.request(*args)
        except Exception:
            status = None
        record(kind, status, time.monotonic() - start)
        # Clients think between requests, as real ones do.
        await asyncio.sleep(rnd.uniform(0.0, 0.2))

async def main():
    slugs, files = await setup()
    start = time.monotonic()
    deadline = start + TOTAL
    tasks = [asyncio.create_task(client(i, deadline, slugs, files)) for i in range(CLIENTS)]
    rss_first_minute = None
    samples = []
    while any(not t.done() for t in tasks):
        await asyncio.sleep(5)
        elapsed = time.monotonic() - start
        samples.append((round(elapsed), rss_kib()))
        if rss_first_minute is None and elapsed >= min(60, TOTAL / 2):
            rss_first_minute = samples[-1][1]
    await asyncio.gather(*tasks, return_exceptions=True)
    # The last sample taken while the clients were still running, and one after they left.
    rss_end = samples[-2][1] if len(samples) > 1 else rss_kib()
    rss_after = rss_kib()
    report = {"clients": CLIENTS, "seconds": TOTAL, "kinds": {}}
    total = fivexx = errors = 0
    for kind, s in sorted(stats.items()):
        lat = sorted(s["lat"])
        q = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1)
        report["kinds"][kind] = {"requests": s["n"], "5xx": s["5xx"], "failed_connections": s["other_errors"], "p50_ms": q(0.50), "p99_ms": q(0.99)}
        total += s["n"]; fivexx += s["5xx"]; errors += s["other_errors"]
    all_lat = sorted(x for s in stats.values() for x in s["lat"])
    report.update({"requests": total, "requests_per_second": round(total / TOTAL, 1), "5xx": fivexx, "failed_connections": errors,
                   "p99_ms": round(all_lat[int(0.99 * len(all_lat))] * 1000, 1) if all_lat else None,
                   "rss_kib_after_first_minute": rss_first_minute, "rss_kib_end": rss_end, "rss_kib_after_clients_left": rss_after,
                   "rss_change_percent": round(100.0 * (rss_end - rss_first_minute) / rss_first_minute, 1) if rss_first_minute else None,
                   "rss_samples_kib": samples[::12]})
    print(json.dumps(report, indent=1))

asyncio.run(main())
PY
if grep -q panicked "$work/stderr"; then echo "the server panicked" >&2; grep -A3 panicked "$work/stderr" >&2; exit 1; fi
