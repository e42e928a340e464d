#!/usr/bin/env bash
# Crash rounds: kills the server with SIGKILL at random moments while clients push packages,
# move them one by one and promote them in bulk (move mode), for N rounds (default 50) on one
# data directory; then restarts it and checks every acknowledged package: none lost, none
# corrupt (bytes and sha256 as uploaded), none in two places, each where its last
# acknowledged move put it (or where an unacknowledged later move may have). Not CI.
# Usage: scripts/crash-rounds.sh [ROUNDS]    (SQLite; GANTRY_DATABASE_URL=postgres://… for PG)
# Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-50}"
bin="${GANTRY_BIN:-$PWD/target/debug/gantry}"
[ -x "$bin" ] || cargo build --locked -p gantry
work=$(mktemp -d /tmp/gantry-crash.XXXXXX)
trap 'rm -rf "$work"' EXIT
GANTRY_BIN="$bin" WORK="$work" ROUNDS="$rounds" python3 - <<'PY'
import hashlib, json, os, random, re, signal, subprocess, sys, threading, time
import urllib.error, urllib.request

BIN, WORK, ROUNDS = os.environ["GANTRY_BIN"], os.environ["WORK"], int(os.environ["ROUNDS"])
TOKEN = "gty_crash_rounds_" + os.urandom(16).hex()
REPOS = ["a", "b", "c"]
rng = random.Random(14)

def start():
    env = dict(os.environ, GANTRY_ADMIN_TOKEN=TOKEN, GANTRY_LOG="warn")
    args = [BIN, "server", "--listen", "127.0.0.1:0", "--data-dir", f"{WORK}/data", "--workers", "1"]
    if os.environ.get("GANTRY_DATABASE_URL"):
        args += ["--database-url", os.environ["GANTRY_DATABASE_URL"]]
    p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=open(f"{WORK}/stderr", "ab"), text=True)
    for line in p.stdout:
        m = re.match(r"gantry listening on (\S+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, m.group(1)
    raise SystemExit("the server did not start")

def call(url, method, path, body=None, data=None, timeout=30):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

def content(name):
    return (name * 37 + "\n").encode() * (1 + len(name) % 50)

lock = threading.Lock()
acked = {}        # name -> sha256 of an acknowledged upload
where = {}        # name -> set of repositories the package may be in
slugs = {}        # name -> last known slug
codes = {}
stats = {"uploads": 0, "moves": 0, "bulk": 0, "bulk_packages": 0, "errors": 0, "5xx": 0}

def pusher(url, stop, tag, rnd):
    n = 0
    while not stop.is_set():
        n += 1
        name = f"r{rnd}p{tag}-{n}"
        repo = rng.choice(REPOS)
        try:
            st, body = call(url, "POST", f"/api/v1/packages/acme/{repo}/upload/raw?name={name}&version=1&filename={name}.bin", data=content(name))
        except Exception:
            stats["errors"] += 1
            return
        if st >= 500:
            stats["5xx"] += 1
        if st == 201:
            with lock:
                acked[name] = hashlib.sha256(content(name)).hexdigest()
                where[name] = {repo}
                slugs[name] = json.loads(body)["slug_perm"]
                stats["uploads"] += 1

def mine(tag, parts):
    with lock:
        return [n for n in acked if hash(n) % parts == tag]

def mover(url, stop, tag, parts):
    while not stop.is_set():
        names = mine(tag, parts)
        if not names:
            time.sleep(0.05)
            continue
        name = rng.choice(names)
        with lock:
            here = sorted(where[name])
        if len(here) != 1:
            continue  # an earlier move's outcome is unknown; leave it be
        src, dest = here[0], rng.choice([r for r in REPOS if r != here[0]])
        with lock:
            where[name].add(dest)
        try:
            st, body = call(url, "POST", f"/api/v1/packages/acme/{src}/{slugs[name]}/move", body={"destination": dest})
        except Exception:
            stats["errors"] += 1
            return
        if st >= 500:
            stats["5xx"] += 1
        codes[("move", st)] = codes.get(("move", st), 0) + 1
        with lock:
            if st == 200:
                where[name] = {dest}
                slugs[name] = json.loads(body)["slug_perm"]
                stats["moves"] += 1
            elif st < 500:
                where[name] = {src}

def bulk(url, stop, tag, parts):
    while not stop.is_set():
        names = [n for n in mine(tag, parts) if len(where[n]) == 1]
        src = rng.choice(REPOS)
        chosen = [n for n in names if src in where[n]][:8]
        if not chosen:
            time.sleep(0.05)
            continue
        dest = rng.choice([r for r in REPOS if r != src])
        with lock:
            for n in chosen:
                where[n].add(dest)
        try:
            st, body = call(url, "POST", "/api/v1/promotions", body={"source": f"acme/{src}", "destination": dest, "slugs": [slugs[n] for n in chosen], "mode": "move"})
        except Exception:
            stats["errors"] += 1
            return
        if st >= 500:
            stats["5xx"] += 1
        codes[("bulk", st)] = codes.get(("bulk", st), 0) + 1
        with lock:
            if st == 200:
                items = {i["slug_perm"]: i for i in json.loads(body)["packages"]}
                for n in chosen:
                    item = items.get(slugs[n], {})
                    if item.get("status") == "promoted":
                        where[n] = {dest}
                        slugs[n] = item.get("result_slug_perm") or slugs[n]
                    else:
                        where[n] = {src}
                stats["bulk"] += 1
                stats["bulk_packages"] += len(chosen)
            elif st < 500:
                for n in chosen:
                    where[n] = {src}

p, url = start()
for r in REPOS:
    call(url, "POST", "/api/v1/repos/acme", body={"name": r, "private": False})
p.send_signal(signal.SIGTERM); p.wait()

for rnd in range(1, ROUNDS + 1):
    p, url = start()
    stop = threading.Event()
    threads = [threading.Thread(target=pusher, args=(url, stop, i, rnd)) for i in range(4)]
    threads += [threading.Thread(target=mover, args=(url, stop, i, 4)) for i in range(2)]
    threads += [threading.Thread(target=bulk, args=(url, stop, i, 4)) for i in range(2, 4)]
    for t in threads:
        t.start()
    time.sleep(rng.uniform(0.3, 3.0))
    p.send_signal(signal.SIGKILL)
    p.wait()
    stop.set()
    for t in threads:
        t.join()
    print(f"round {rnd}: killed; {stats['uploads']} uploads, {stats['moves']} moves, {stats['bulk']} bulk promotions acknowledged so far", flush=True)

p, url = start()
# Let the restarted server finish the syncs the kills interrupted.
deadline = time.time() + 300
while time.time() < deadline:
    pending = 0
    for r in REPOS:
        st, body = call(url, "GET", f"/api/v1/packages/acme/{r}?page_size=1000&query=state:available")
    st, body = call(url, "GET", "/api/v1/admin/jobs")
    jobs = json.loads(body) if st == 200 else []
    pending = sum(1 for j in jobs if j.get("state") in ("queued", "running", "pending", "waiting"))
    if pending == 0:
        break
    time.sleep(1)
found = {}
for r in REPOS:
    page = 1
    while True:
        st, body = call(url, "GET", f"/api/v1/packages/acme/{r}?page={page}&page_size=1000")
        assert st == 200, (st, body)
        items = json.loads(body)
        for pkg in items:
            found.setdefault(pkg["name"], []).append((r, pkg))
        if len(items) < 1000:
            break
        page += 1
lost = corrupt = doubled = misplaced = 0
for name, sha in acked.items():
    places = found.get(name, [])
    if not places:
        lost += 1; print(f"LOST {name}"); continue
    if len(places) > 1:
        doubled += 1; print(f"IN TWO PLACES {name}: {[r for r, _ in places]}")
    repo, pkg = places[0]
    if repo not in where[name]:
        misplaced += 1; print(f"MISPLACED {name}: in {repo}, expected one of {sorted(where[name])}")
    files = pkg.get("files") or []
    if not files or files[0]["checksum_sha256"] != sha:
        corrupt += 1; print(f"CORRUPT {name}: metadata"); continue
    req = urllib.request.Request(files[0]["download_url"], headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            if hashlib.sha256(resp.read()).hexdigest() != sha:
                corrupt += 1; print(f"CORRUPT {name}: bytes")
    except urllib.error.HTTPError as e:
        corrupt += 1; print(f"CORRUPT {name}: download answered {e.code} ({pkg.get('status')}, {pkg.get('sync_status')})")
# Packages whose upload was never acknowledged may exist; they must still be whole.
extra_bad = 0
for name, places in found.items():
    if name not in acked:
        for _, pkg in places:
            files = pkg.get("files") or []
            if files and files[0]["checksum_sha256"] != hashlib.sha256(content(name)).hexdigest():
                extra_bad += 1; print(f"CORRUPT unacknowledged {name}")
# The store agrees with the database: no referenced blob missing or damaged. Blobs of uploads
# the kills cut off between storing and recording are unreferenced (gc removes them).
st, body = call(url, "POST", "/api/v1/admin/fsck", {"grace_seconds": 0}, timeout=3600)
assert st == 200, (st, body)
fsck = json.loads(body)
fsck_bad = len(fsck["missing"]) + len(fsck["corrupt"]) + len(fsck["stray"])
for problem in fsck["missing"] + fsck["corrupt"]:
    print(f"FSCK {problem['sha256']}: {problem['detail']} ({problem['packages']})")
p.send_signal(signal.SIGTERM); p.wait()
print(json.dumps({"rounds": ROUNDS, "acknowledged_uploads": len(acked), "acknowledged_moves": stats["moves"],
                  "acknowledged_bulk_promotions": stats["bulk"], "packages_in_bulk_promotions": stats["bulk_packages"],
                  "responses_5xx": stats["5xx"], "lost": lost, "corrupt": corrupt + extra_bad, "in_two_places": doubled,
                  "misplaced": misplaced, "fsck_blobs_checked": fsck["checked"],
                  "fsck_missing_or_damaged": fsck_bad, "fsck_unreferenced": len(fsck["unreferenced"]),
                  "status_codes": {f"{k[0]} {k[1]}": v for k, v in sorted(codes.items())}}))
sys.exit(1 if lost or corrupt or doubled or misplaced or extra_bad or fsck_bad else 0)
PY
