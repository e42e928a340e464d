#!/usr/bin/env python3
"""HTTP load and measurement helpers for the Gantry benchmark scripts (python3 stdlib only).

Used by bench/rss.sh, bench/listing.sh and bench/promote.sh; each subcommand prints a JSON
object on stdout and progress on stderr. Every request goes to the URL given, which the
scripts only ever set to a server they started on 127.0.0.1.
"""

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
import urllib.parse


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Client:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, url, token, timeout=120):
        parts = urllib.parse.urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"refusing to send load to {parts.hostname}: loopback only")
        self.host, self.port = parts.hostname, parts.port or 80
        self.token = token
        self.timeout = timeout
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def request(self, method, path, body=None, headers=None):
        """Returns (status, body bytes, response headers); reconnects once if the server
        closed the idle connection."""
        hdrs = {"Authorization": f"Bearer {self.token}"}
        if headers:
            hdrs.update(headers)
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, data, resp
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def wait_sync(self, owner, repo, slug, timeout=600.0):
        """Polls a package's sync status until completed (uploads are synced by a job)."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.json("GET", f"/api/v1/packages/{owner}/{repo}/{slug}/status")
            if st.get("is_sync_completed") or st.get("sync_status") == "completed":
                return
            if st.get("is_sync_failed"):
                raise SystemExit(f"sync of {slug} failed: {st.get('status_reason')}")
            if time.monotonic() > deadline:
                raise SystemExit(f"sync of {slug} not finished after {timeout} s: {st}")
            time.sleep(0.05)

    def pending_jobs(self):
        """Queued + running jobs from /metrics (0 for servers without a job queue)."""
        status, data, _ = self.request("GET", "/metrics")
        if status != 200:
            raise SystemExit(f"GET /metrics -> {status}")
        n = 0
        for line in data.decode().splitlines():
            if line.startswith("gantry_jobs{") and ('state="queued"' in line or 'state="running"' in line):
                n += int(float(line.rsplit(" ", 1)[1]))
        return n

    def json(self, method, path, payload=None, expect=(200, 201)):
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if body is not None else None
        status, data, _ = self.request(method, path, body, headers)
        if status not in expect:
            raise SystemExit(f"{method} {path} -> {status}: {data[:500]!r}")
        return json.loads(data) if data else None


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summarize(samples_ms):
    s = sorted(samples_ms)
    return {
        "n": len(s),
        "p50_ms": round(percentile(s, 50), 3),
        "p90_ms": round(percentile(s, 90), 3),
        "p99_ms": round(percentile(s, 99), 3),
        "max_ms": round(s[-1], 3),
        "mean_ms": round(statistics.fmean(s), 3),
    }


# --------------------------------------------------------------------------- other load

def _proc_table():
    """{pid: (ppid, comm, cpu seconds)} for every process we may read."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        table[int(entry)] = (int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / tick)
    return table


def _own(table, roots):
    """The given pids, this process and all their descendants."""
    own = set(roots) | {os.getpid(), os.getppid()}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _, _) in table.items():
            if ppid in own and pid not in own:
                own.add(pid)
                changed = True
    return own


class OtherLoad:
    """CPU time used by processes outside the benchmark (e.g. a compiler) over a window."""

    def __init__(self, own_pids, start=None, t0=None):
        self.roots = [p for p in own_pids if p]
        self.start = _proc_table() if start is None else start
        self.t0 = time.monotonic() if t0 is None else t0

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"t0": self.t0, "table": {str(k): v for k, v in self.start.items()}}, f)

    @classmethod
    def load(cls, path, own_pids):
        with open(path) as f:
            d = json.load(f)
        return cls(own_pids, {int(k): tuple(v) for k, v in d["table"].items()}, d["t0"])

    def result(self):
        end = _proc_table()
        own = _own(end, self.roots) | _own(self.start, self.roots)
        by_comm = {}
        for pid, (_, comm, cpu) in end.items():
            if pid in own:
                continue
            before = self.start.get(pid)
            used = cpu - before[2] if before else cpu
            comm = comm.split("/")[0] if comm.startswith("kworker") else comm
            if used > 0:
                by_comm[comm] = by_comm.get(comm, 0.0) + used
        wall = time.monotonic() - self.t0
        total = sum(by_comm.values())
        top = sorted(by_comm.items(), key=lambda kv: -kv[1])[:3]
        return {
            "other_cpu_cores": round(total / wall, 2) if wall > 0 else 0.0,
            "top": ", ".join(f"{c} {v:.1f}s" for c, v in top),
        }


def own_pids_arg(text):
    return [int(p) for p in text.split(",") if p.strip()] if text else []


def cmd_other_load(args):
    """`--start FILE` records a snapshot; `--since FILE` prints the other load since then."""
    if args.start:
        OtherLoad([]).save(args.start)
    else:
        print(json.dumps(OtherLoad.load(args.since, own_pids_arg(args.own_pids)).result()))


def cmd_wait_quiet(args):
    """Waits until processes outside the benchmark use under --threshold of a core."""
    deadline = time.monotonic() + args.max_wait
    while True:
        probe = OtherLoad(own_pids_arg(args.own_pids))
        time.sleep(args.window)
        r = probe.result()
        if r["other_cpu_cores"] < args.threshold:
            print(json.dumps({"quiet": True, **r}))
            return
        if time.monotonic() > deadline:
            log(f"  machine still busy after {args.max_wait} s ({r['other_cpu_cores']} cores: {r['top']})")
            print(json.dumps({"quiet": False, **r}))
            return
        log(f"  waiting for other work to finish ({r['other_cpu_cores']} cores: {r['top']})")


# --------------------------------------------------------------------------- populate

def cmd_populate(args):
    owner, repo = args.owner, args.repo
    total = args.count
    next_index = [0]
    lock = threading.Lock()
    slugs = []
    errors = []
    done = [0]
    started = time.perf_counter()

    def worker():
        client = Client(args.url, args.token)
        local_slugs = []
        while True:
            with lock:
                i = next_index[0]
                if i >= total or errors:
                    break
                next_index[0] += 1
            name = f"pkg{i:06d}"
            query = urllib.parse.urlencode(
                {"name": name, "version": "1.0.0", "filename": f"{name}-1.0.0.bin"})
            body = f"benchmark package {i}\n".encode()
            try:
                status, data, _ = client.request(
                    "POST", f"/api/v1/packages/{owner}/{repo}/upload/raw?{query}", body,
                    {"Content-Type": "application/octet-stream"})
            except OSError as e:
                with lock:
                    errors.append(f"upload {i}: {e}")
                break
            if status != 201:
                with lock:
                    errors.append(f"upload {i} -> {status}: {data[:300]!r}")
                break
            local_slugs.append(json.loads(data)["slug_perm"])
            with lock:
                done[0] += 1
                n = done[0]
            if n % args.progress == 0:
                el = time.perf_counter() - started
                log(f"  {n}/{total} uploaded, {el:.1f} s, {n / el:.0f}/s")
        with lock:
            slugs.extend(local_slugs)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = time.perf_counter() - started
    if errors or len(slugs) != total:
        raise SystemExit("populate failed: " + (errors[0] if errors else f"{len(slugs)} of {total}"))
    if args.wait_jobs:
        # Uploads are synced by background jobs: done means the queue is empty.
        client = Client(args.url, args.token)
        last_log = 0.0
        while (pending := client.pending_jobs()) > 0:
            now = time.perf_counter()
            if now - last_log > 10:
                log(f"  waiting for {pending} sync jobs")
                last_log = now
            time.sleep(0.2)
    elapsed = time.perf_counter() - started
    rng = random.Random(42)
    sample = rng.sample(slugs, min(args.sample, len(slugs)))
    with open(args.slugs_out, "w") as f:
        f.write("\n".join(sample) + "\n")
    print(json.dumps({
        "packages": len(slugs),
        "concurrency": args.concurrency,
        "accepted_seconds": round(accepted, 2),
        "seconds": round(elapsed, 2),
        "uploads_per_second": round(len(slugs) / elapsed, 1),
    }))


# --------------------------------------------------------------------------- latency

def measure(client, paths, requests, warmup):
    """Sequential requests on one keep-alive connection; `paths` is cycled."""
    for i in range(warmup):
        status, data, _ = client.request("GET", paths[i % len(paths)])
        if status != 200:
            raise SystemExit(f"GET {paths[i % len(paths)]} -> {status}: {data[:300]!r}")
    samples = []
    for i in range(requests):
        path = paths[i % len(paths)]
        t0 = time.perf_counter_ns()
        status, data, _ = client.request("GET", path)
        t1 = time.perf_counter_ns()
        if status != 200 or not data:
            raise SystemExit(f"GET {path} -> {status}: {data[:300]!r}")
        samples.append((t1 - t0) / 1e6)
    return samples


def cmd_latency(args):
    client = Client(args.url, args.token)
    base = f"/api/v1/packages/{args.owner}/{args.repo}"
    # The listing must hold what we think it holds.
    status, data, resp = client.request("GET", f"{base}?page=1&page_size=1")
    count = int(resp.getheader("x-pagination-count") or -1)
    if status != 200 or count < args.expect_count:
        raise SystemExit(f"listing reports {count} packages, expected {args.expect_count}")
    with open(args.slugs) as f:
        slugs = [line.strip() for line in f if line.strip()]
    random.Random(7).shuffle(slugs)
    last_page = (count + 29) // 30
    cases = [
        ("GET /healthz (HTTP + client floor)", ["/healthz"], args.requests),
        ("list page 1 (page_size=30)", [f"{base}?page=1&page_size=30"], args.requests),
        (f"list page {args.deep_page} (page_size=30)",
         [f"{base}?page={args.deep_page}&page_size=30"], args.requests),
        ("get package by slug_perm", [f"{base}/{s}" for s in slugs], args.requests),
        (f"list last page {last_page} (page_size=30)",
         [f"{base}?page={last_page}&page_size=30"], args.last_page_requests),
    ]
    results = []
    for label, paths, n in cases:
        if n <= 0:
            continue
        other = OtherLoad(own_pids_arg(args.own_pids))
        t0 = time.perf_counter()
        samples = measure(client, paths, n, args.warmup)
        wall = time.perf_counter() - t0
        r = {"case": label, **summarize(samples), "seconds": round(wall, 2), **other.result()}
        log(f"  {label}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms; "
            f"other processes used {r['other_cpu_cores']} cores ({r['top'] or 'nothing'})")
        results.append(r)
    print(json.dumps({"packages": count, "results": results}))


# --------------------------------------------------------------------------- promote

def human_size(n):
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= factor:
            return f"{n / factor:g} {unit}"
    return f"{n} B"


def cmd_promote(args):
    client = Client(args.url, args.token)
    owner = args.owner
    packages = {"small": args.small_slug, "big": args.big_slug}
    reps = args.reps
    for i in range(reps):
        for kind in packages:
            client.json("POST", f"/api/v1/repos/{owner}", {"name": f"copy-{kind}-{i}", "private": True})
    client.json("POST", f"/api/v1/repos/{owner}", {"name": "staging", "private": True})
    results = []

    def timed(method, path, payload, expect):
        body = json.dumps(payload).encode()
        t0 = time.perf_counter_ns()
        status, data, _ = client.request(method, path, body, {"Content-Type": "application/json"})
        t1 = time.perf_counter_ns()
        if status != expect:
            raise SystemExit(f"{method} {path} -> {status}: {data[:300]!r}")
        return (t1 - t0) / 1e6, json.loads(data)

    sources = {kind: client.json("GET", f"/api/v1/packages/{owner}/dev/{slug}")
               for kind, slug in packages.items()}
    samples = {(op, kind): [] for op in ("copy", "move") for kind in packages}
    where = {kind: "dev" for kind in packages}
    # Small and big alternate, so that background work (e.g. page-cache writeback of the
    # big upload) hits both alike.
    for i in range(reps):
        for kind, slug in packages.items():
            ms, pkg = timed("POST", f"/api/v1/packages/{owner}/dev/{slug}/copy",
                            {"destination": f"copy-{kind}-{i}"}, 201)
            src = sources[kind]
            if pkg["checksum_sha256"] != src["checksum_sha256"] or pkg["size"] != src["size"]:
                raise SystemExit(f"copy of {slug} has other content than its source")
            samples[("copy", kind)].append(ms)
    for i in range(reps):
        for kind, slug in packages.items():
            dest = "staging" if where[kind] == "dev" else "dev"
            ms, pkg = timed("POST", f"/api/v1/packages/{owner}/{where[kind]}/{slug}/move",
                            {"destination": dest}, 200)
            if pkg["slug_perm"] != slug or pkg["repository"] != f"{owner}/{dest}":
                raise SystemExit(f"move of {slug} landed at {pkg['repository']}/{pkg['slug_perm']}")
            samples[("move", kind)].append(ms)
            where[kind] = dest
    for (op, kind), values in samples.items():
        s = sorted(values)
        label = human_size(sources[kind]["size"])
        results.append({
            "operation": op, "package": label, "size": sources[kind]["size"], "n": len(s),
            "median_ms": round(statistics.median(s), 3), "min_ms": round(s[0], 3),
            "max_ms": round(s[-1], 3),
        })
        log(f"  {op} {label}: median {statistics.median(s):.2f} ms "
            f"(min {s[0]:.2f}, max {s[-1]:.2f}, n={len(s)})")
    print(json.dumps({"results": results}))


# --------------------------------------------------------------------------- rss

def read_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def read_cpu_seconds(pid):
    """utime + stime of the process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cmd_sync_rate(args):
    """Jobs finished per second over a window, from the queue gauge in /metrics."""
    client = Client(args.url, args.token)
    if args.started_at:
        # Workers start with the server: count from its start, with the queue it found.
        start = args.initial
        t0 = time.perf_counter() - (time.time() - args.started_at)
    else:
        start = client.pending_jobs()
        t0 = time.perf_counter()
    samples = [(0.0, start)]
    while time.perf_counter() - t0 < args.seconds:
        time.sleep(min(5.0, args.seconds))
        samples.append((time.perf_counter() - t0, client.pending_jobs()))
        if samples[-1][1] == 0:
            break
    wall, end = samples[-1]
    done = start - end
    rate = done / wall if wall > 0 else 0.0
    log(f"  sync jobs: {start} queued, {done} done in {wall:.1f} s ({rate:.0f}/s)")
    print(json.dumps({"queued_at_start": start, "done": done, "seconds": round(wall, 1),
                      "jobs_per_second": round(rate, 1),
                      "samples": [(round(t, 1), n) for t, n in samples]}))


def cmd_wait_sync(args):
    Client(args.url, args.token).wait_sync(args.owner, args.repo, args.slug, args.timeout)


def cmd_rss_sample(args):
    stop = [False]

    def on_term(*_):
        stop[0] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    with open(args.out, "w") as out:
        while not stop[0]:
            try:
                rss = read_rss_kb(args.pid)
                cpu = read_cpu_seconds(args.pid)
            except (FileNotFoundError, ProcessLookupError):
                break
            out.write(f"{time.time():.3f} {rss} {cpu:.2f}\n")
            out.flush()
            time.sleep(args.interval)


def cmd_rss_report(args):
    samples = []
    cpu = []
    with open(args.samples) as f:
        for line in f:
            t, kb, cpu_s = line.split()
            if kb != "None":
                samples.append((float(t), int(kb)))
                cpu.append((float(t), float(cpu_s)))
    marks = {}
    with open(args.marks) as f:
        for line in f:
            name, t = line.split()
            marks[name] = float(t)

    def window(a, b):
        return [kb for t, kb in samples if marks[a] <= t <= marks[b]]

    mib = lambda kb: round(kb / 1024, 1)

    def cpu_percent(a, b):
        """Server CPU time over wall time between two marks (100 = one core busy)."""
        inside = [(t, c) for t, c in cpu if marks[a] <= t <= marks[b]]
        if len(inside) < 2:
            return None
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        return round(100 * (c1 - c0) / (t1 - t0)) if t1 > t0 else None
    idle0 = window("start", "upload_start")
    upload = window("upload_start", "upload_end")
    sync = window("upload_end", "sync_end")
    idle1 = window("sync_end", "download_start")
    download = window("download_start", "download_end")
    idle2 = window("download_end", "end")
    base_up = statistics.median(idle0)
    base_down = statistics.median(idle1)
    curl_up = json.load(open(args.curl_upload))
    curl_down = json.load(open(args.curl_download))
    report = {
        "size_bytes": args.size,
        "samples": len(samples),
        "interval_ms": args.interval_ms,
        "upload": {
            "baseline_mib": mib(base_up), "peak_mib": mib(max(upload)),
            "peak_minus_baseline_mib": mib(max(upload) - base_up),
            "seconds": round(curl_up["time_total"], 2),
            "mib_per_s": round(args.size / curl_up["time_total"] / 2**20, 1),
            "server_cpu_percent": cpu_percent("upload_start", "upload_end"),
            "other_cpu_cores": json.load(open(args.other_upload))["other_cpu_cores"] if args.other_upload else None,
            "other_top": json.load(open(args.other_upload))["top"] if args.other_upload else None,
            "samples": len(upload),
        },
        "sync": {
            "seconds": round(marks["sync_end"] - marks["upload_end"], 2),
            "peak_mib": mib(max(sync)) if sync else None,
            "peak_minus_baseline_mib": mib(max(sync) - base_up) if sync else None,
        },
        "after_upload_mib": mib(statistics.median(idle1)),
        "download": {
            "baseline_mib": mib(base_down), "peak_mib": mib(max(download)),
            "peak_minus_baseline_mib": mib(max(download) - base_down),
            "peak_minus_start_baseline_mib": mib(max(download) - base_up),
            "seconds": round(curl_down["time_total"], 2),
            "mib_per_s": round(args.size / curl_down["time_total"] / 2**20, 1),
            "server_cpu_percent": cpu_percent("download_start", "download_end"),
            "other_cpu_cores": json.load(open(args.other_download))["other_cpu_cores"] if args.other_download else None,
            "other_top": json.load(open(args.other_download))["top"] if args.other_download else None,
            "samples": len(download),
        },
        "after_download_mib": mib(statistics.median(idle2)) if idle2 else None,
    }
    print(json.dumps(report))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp):
        sp.add_argument("--url", required=True)
        sp.add_argument("--token", default=os.environ.get("BENCH_TOKEN", ""))
        sp.add_argument("--owner", default="bench")

    sp = sub.add_parser("populate")
    common(sp)
    sp.add_argument("--repo", default="dev")
    sp.add_argument("--count", type=int, default=100_000)
    sp.add_argument("--concurrency", type=int, default=8)
    sp.add_argument("--sample", type=int, default=2000, help="slugs kept for GET requests")
    sp.add_argument("--slugs-out", required=True)
    sp.add_argument("--progress", type=int, default=10_000)
    sp.add_argument("--wait-jobs", action="store_true",
                    help="after uploading, wait until the server's job queue is empty")
    sp.set_defaults(func=cmd_populate)

    sp = sub.add_parser("sync-rate")
    common(sp)
    sp.add_argument("--seconds", type=float, default=30.0)
    sp.add_argument("--started-at", type=float, help="unix time the server was started")
    sp.add_argument("--initial", type=int, help="jobs queued when the server was started")
    sp.set_defaults(func=cmd_sync_rate)

    sp = sub.add_parser("latency")
    common(sp)
    sp.add_argument("--repo", default="dev")
    sp.add_argument("--slugs", required=True)
    sp.add_argument("--requests", type=int, default=2000)
    sp.add_argument("--warmup", type=int, default=50)
    sp.add_argument("--deep-page", type=int, default=1000)
    sp.add_argument("--last-page-requests", type=int, default=200)
    sp.add_argument("--expect-count", type=int, default=0)
    sp.add_argument("--own-pids", default="", help="server/postmaster pids (comma-separated) "
                    "whose process trees do not count as other load")
    sp.set_defaults(func=cmd_latency)

    sp = sub.add_parser("other-load")
    sp.add_argument("--start")
    sp.add_argument("--since")
    sp.add_argument("--own-pids", default="")
    sp.set_defaults(func=cmd_other_load)

    sp = sub.add_parser("wait-quiet")
    sp.add_argument("--own-pids", default="")
    sp.add_argument("--threshold", type=float, default=0.1, help="cores")
    sp.add_argument("--window", type=float, default=3.0, help="seconds per probe")
    sp.add_argument("--max-wait", type=float, default=300.0)
    sp.set_defaults(func=cmd_wait_quiet)

    sp = sub.add_parser("promote")
    common(sp)
    sp.add_argument("--small-slug", required=True)
    sp.add_argument("--big-slug", required=True)
    sp.add_argument("--reps", type=int, default=15)
    sp.set_defaults(func=cmd_promote)

    sp = sub.add_parser("wait-sync")
    common(sp)
    sp.add_argument("--repo", default="dev")
    sp.add_argument("--slug", required=True)
    sp.add_argument("--timeout", type=float, default=600.0)
    sp.set_defaults(func=cmd_wait_sync)

    sp = sub.add_parser("rss-sample")
    sp.add_argument("--pid", type=int, required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--interval", type=float, default=0.1)
    sp.set_defaults(func=cmd_rss_sample)

    sp = sub.add_parser("rss-report")
    sp.add_argument("--samples", required=True)
    sp.add_argument("--marks", required=True)
    sp.add_argument("--size", type=int, required=True)
    sp.add_argument("--interval-ms", type=int, default=100)
    sp.add_argument("--curl-upload", required=True)
    sp.add_argument("--curl-download", required=True)
    sp.add_argument("--other-upload")
    sp.add_argument("--other-download")
    sp.set_defaults(func=cmd_rss_report)

    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
