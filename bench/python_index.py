#!/usr/bin/env python3
"""Helpers for bench/python_index.sh and bench/scan.sh (python3 stdlib only).

Builds minimal valid wheels, uploads them through the legacy upload API over keep-alive
connections, and measures request latency. Every subcommand prints one JSON object on stdout
and progress on stderr. Requests only ever go to 127.0.0.1 (anything else is refused).
"""

import argparse
import base64
import hashlib
import http.client
import io
import json
import os
import queue
import socket
import statistics
import sys
import threading
import time
import urllib.parse
import zipfile


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- HTTP

class Client:
    """One keep-alive HTTP/1.1 connection to a loopback server."""

    def __init__(self, url, auth=None, timeout=120):
        parts = urllib.parse.urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"refusing to send requests to {parts.hostname}: loopback only")
        self.host, self.port = parts.hostname, parts.port or 80
        self.auth = auth  # a full Authorization header value, or None
        self.timeout = timeout
        self.conn = None
        self.connections = 0

    def request(self, method, path, body=None, headers=None):
        """(status, body bytes, response); reconnects once if the server closed the
        idle connection."""
        hdrs = {}
        if self.auth:
            hdrs["Authorization"] = self.auth
        if headers:
            hdrs.update(headers)
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.connections += 1
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("connection", "").lower() == "close" or resp.will_close:
                    self.conn.close()
                    self.conn = None
                return resp.status, data, resp
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    def json(self, method, path, payload=None, expect=(200, 201, 202)):
        body = None if payload is None else json.dumps(payload).encode()
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        status, data, _ = self.request(method, path, body, hdrs)
        if status not in expect:
            raise SystemExit(f"{method} {path}: HTTP {status}: {data[:500]!r}")
        return json.loads(data) if data else None


def bearer(token):
    return f"Bearer {token}" if token else None


def basic_token(token):
    return "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode()


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summarize(samples_ms):
    s = sorted(samples_ms)
    if not s:
        return {"n": 0}
    return {
        "n": len(s),
        "p50_ms": round(percentile(s, 50), 3),
        "p90_ms": round(percentile(s, 90), 3),
        "p99_ms": round(percentile(s, 99), 3),
        "max_ms": round(s[-1], 3),
        "mean_ms": round(statistics.fmean(s), 3),
    }


# --------------------------------------------------------------------------- other CPU load

def _proc_table():
    """{pid: (ppid, comm, cpu seconds)}."""
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
    """CPU used by processes other than the benchmark's own (servers given as roots, this
    process, its parent and their children) between construction and result()."""

    def __init__(self, own_pids):
        self.roots = [p for p in own_pids if p]
        self.start = _proc_table()
        self.t0 = time.monotonic()

    def result(self):
        end = _proc_table()
        own = _own(end, self.roots) | _own(self.start, self.roots)
        by_comm = {}
        for pid, (_, comm, cpu) in end.items():
            if pid in own:
                continue
            before = self.start.get(pid)
            used = cpu - before[2] if before else cpu
            if comm.startswith("kworker"):
                comm = "kworker"
            if used > 0:
                by_comm[comm] = by_comm.get(comm, 0.0) + used
        wall = time.monotonic() - self.t0
        total = sum(by_comm.values())
        top = sorted(by_comm.items(), key=lambda kv: -kv[1])[:3]
        return {
            "other_cpu_cores": round(total / wall, 2) if wall > 0 else 0.0,
            "other_top": ", ".join(f"{c} {v:.1f}s" for c, v in top),
        }


def pids_arg(text):
    return [int(p) for p in (text or "").split(",") if p.strip()]


def cmd_wait_quiet(args):
    """Waits until other processes use under --threshold of a core (at most --max-wait s)."""
    if args.max_wait <= 0:
        print(json.dumps({"quiet": None}))
        return
    deadline = time.monotonic() + args.max_wait
    waited = time.monotonic()
    while True:
        probe = OtherLoad(pids_arg(args.own_pids))
        time.sleep(args.window)
        r = probe.result()
        if r["other_cpu_cores"] < args.threshold:
            print(json.dumps({"quiet": True, "waited_s": round(time.monotonic() - waited, 1), **r}))
            return
        if time.monotonic() > deadline:
            log(f"  machine still busy after {args.max_wait} s ({r['other_cpu_cores']} cores: {r['other_top']}); measuring anyway")
            print(json.dumps({"quiet": False, "waited_s": round(time.monotonic() - waited, 1), **r}))
            return
        log(f"  waiting for other work to leave the CPU ({r['other_cpu_cores']} cores: {r['other_top']})")


# --------------------------------------------------------------------------- wheels

def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def dist_name(name):
    """The distribution part of a wheel filename (PEP 427 escaping of the project name)."""
    out = []
    for c in name:
        out.append(c if c.isalnum() else "_")
    s = "".join(out)
    while "__" in s:
        s = s.replace("__", "_")
    return s


def make_wheel(name, version, pad=0, seed=b""):
    """(filename, bytes) of a minimal valid wheel of `name` `version`. `pad` adds that many
    incompressible bytes in pkg/data.bin."""
    dn = dist_name(name)
    distinfo = f"{dn}-{version}.dist-info"
    files = [
        (f"{dn.lower()}/__init__.py", f'__version__ = "{version}"\n'.encode()),
        (f"{distinfo}/METADATA",
         f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: Gantry benchmark package\n"
         f"Requires-Python: >=3.8\n\n".encode()),
        (f"{distinfo}/WHEEL",
         b"Wheel-Version: 1.0\nGenerator: gantry-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    if pad:
        # Deterministic, incompressible bytes: a SHA-256 stream.
        chunks, h, n = [], hashlib.sha256(seed + name.encode() + version.encode()).digest(), 0
        while n < pad:
            h = hashlib.sha256(h).digest()
            chunks.append(h)
            n += len(h)
        files.append((f"{dn.lower()}/data.bin", b"".join(chunks)[:pad]))
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in files) + f"{distinfo}/RECORD,,\n"
    files.append((f"{distinfo}/RECORD", record.encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if path.endswith(".bin") else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return f"{dn}-{version}-py3-none-any.whl", buf.getvalue()


def cmd_wheels(args):
    """Writes wheels to --out: --name with --count versions (PREFIX0 … PREFIX{count-1}), or
    one wheel per line `name version` of --spec."""
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    if args.spec:
        with open(args.spec) as f:
            pairs = [line.split() for line in f if line.strip()]
    else:
        pairs = [(args.name, f"{args.version_prefix}{i}") for i in range(args.count)]
    total = 0
    names = []
    for name, version in pairs:
        filename, data = make_wheel(name, version, pad=args.pad)
        with open(os.path.join(args.out, filename), "wb") as f:
            f.write(data)
        total += len(data)
        names.append(filename)
    secs = time.perf_counter() - t0
    print(json.dumps({"wheels": len(names), "bytes": total, "mean_bytes": round(total / max(1, len(names))),
                      "seconds": round(secs, 2), "first": names[0] if names else None}))


# --------------------------------------------------------------------------- upload

def multipart(fields, filename, content):
    boundary = "gantrybench" + hashlib.sha1(content[:64] + filename.encode()).hexdigest()
    parts = []
    for k, v in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode())
    parts.append(content)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def wheel_name_version(filename):
    """(name, version) from `dist-version-py3-none-any.whl`."""
    parts = filename[:-len(".whl")].split("-")
    return parts[0], parts[1]


def upload_files(url, token, owner, repo, paths, concurrency):
    """Uploads wheels through the legacy API; returns (seconds, latencies ms, slugs, errors)."""
    work = queue.Queue()
    for p in paths:
        work.put(p)
    lat, slugs, errors = [], {}, []
    lock = threading.Lock()
    path = f"/{owner}/{repo}/python/"

    def worker():
        client = Client(url, basic_token(token))
        while True:
            try:
                p = work.get_nowait()
            except queue.Empty:
                return
            fn = os.path.basename(p)
            with open(p, "rb") as f:
                content = f.read()
            name, version = wheel_name_version(fn)
            ctype, body = multipart([
                (":action", "file_upload"), ("protocol_version", "1"), ("metadata_version", "2.1"),
                ("name", name), ("version", version), ("filetype", "bdist_wheel"),
                ("pyversion", "py3"), ("sha256_digest", hashlib.sha256(content).hexdigest()),
            ], fn, content)
            t = time.perf_counter()
            try:
                status, data, _ = client.request("POST", path, body, {"Content-Type": ctype})
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                status, data = 0, str(e).encode()
            ms = (time.perf_counter() - t) * 1000
            with lock:
                if status == 200:
                    lat.append(ms)
                    try:
                        slugs[fn] = json.loads(data)["slug_perm"]
                    except (ValueError, KeyError):
                        pass
                else:
                    errors.append(f"{fn}: HTTP {status}: {data[:200]!r}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, lat, slugs, errors


def cmd_upload(args):
    paths = sorted(os.path.join(args.dir, f) for f in os.listdir(args.dir) if f.endswith(".whl"))
    if args.limit:
        paths = paths[:args.limit]
    log(f"  uploading {len(paths)} wheels over {args.concurrency} keep-alive connections")
    load = OtherLoad(pids_arg(args.own_pids))
    secs, lat, slugs, errors = upload_files(args.url, args.token, args.owner, args.repo, paths, args.concurrency)
    if args.slugs_out:
        with open(args.slugs_out, "w") as f:
            json.dump(slugs, f)
    out = {"files": len(paths), "ok": len(lat), "errors": len(errors), "error_examples": errors[:5],
           "seconds": round(secs, 2), "per_second": round(len(lat) / secs, 1) if secs else None,
           "concurrency": args.concurrency, "request_latency": summarize(lat), **load.result()}
    print(json.dumps(out))
    if errors:
        log(f"  {len(errors)} uploads failed, e.g. {errors[0]}")
        sys.exit(1)


# --------------------------------------------------------------------------- latency

def measure(url, auth, path, accept, requests, warmup, max_seconds, own_pids, new_connection=False):
    client = Client(url, auth)
    headers = {"Accept": accept} if accept else {}
    size = None
    for _ in range(warmup):
        status, data, _ = client.request("GET", path, None, headers)
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status}: {data[:300]!r}")
        size = len(data)
    load = OtherLoad(own_pids)
    samples = []
    ctype = None
    t_end = time.monotonic() + max_seconds
    for _ in range(requests):
        if new_connection and client.conn is not None:
            client.conn.close()
            client.conn = None
        t = time.perf_counter()
        status, data, resp = client.request("GET", path, None, headers)
        samples.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status}: {data[:300]!r}")
        size = len(data)
        ctype = resp.getheader("content-type")
        if time.monotonic() > t_end:
            log(f"  stopped after {len(samples)} requests: the {max_seconds} s budget is spent")
            break
    return {"path": path, "accept": accept, "new_connection_each": new_connection, "bytes": size,
            "content_type": ctype, "connections": client.connections, **summarize(samples), **load.result()}


def cmd_latency(args):
    auth = bearer(args.token) if args.token else None
    r = measure(args.url, auth, args.path, args.accept, args.requests, args.warmup, args.max_seconds,
                pids_arg(args.own_pids), args.new_connection)
    r["label"] = args.label
    log(f"  {args.label}: n={r['n']} p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, {r['bytes']} bytes "
        f"(other load {r['other_cpu_cores']} cores)")
    print(json.dumps(r))


# --------------------------------------------------------------------------- misc

def cmd_free_port(_args):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_wait_http(args):
    """Waits until GET url answers 200 (a server starting, a cached package appearing)."""
    deadline = time.monotonic() + args.timeout
    auth = bearer(args.token) if args.token else None
    u = urllib.parse.urlsplit(args.url)
    target = u.path + (f"?{u.query}" if u.query else "")
    while True:
        try:
            status, data, _ = Client(args.url, auth, timeout=5).request("GET", target)
            if status == 200 and (not args.contains or args.contains.encode() in data):
                print(json.dumps({"ready": True}))
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{args.url} not ready within {args.timeout} s")
        time.sleep(0.1)


def cmd_fetch(args):
    """One timed GET; prints status, bytes and milliseconds."""
    auth = bearer(args.token) if args.token else None
    u = urllib.parse.urlsplit(args.url)
    client = Client(args.url, auth)
    t = time.perf_counter()
    status, data, _ = client.request("GET", u.path)
    ms = (time.perf_counter() - t) * 1000
    print(json.dumps({"status": status, "bytes": len(data), "ms": round(ms, 2),
                      "sha256": hashlib.sha256(data).hexdigest()}))
    if status != 200:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    sp = sub.add_parser("wheels")
    sp.add_argument("--out", required=True)
    sp.add_argument("--name")
    sp.add_argument("--count", type=int, default=0)
    sp.add_argument("--version-prefix", default="1.0.")
    sp.add_argument("--spec", help="file of 'name version' lines")
    sp.add_argument("--pad", type=int, default=0)
    sp.set_defaults(fn=cmd_wheels)

    sp = sub.add_parser("upload")
    sp.add_argument("--url", required=True)
    sp.add_argument("--token", required=True)
    sp.add_argument("--owner", required=True)
    sp.add_argument("--repo", required=True)
    sp.add_argument("--dir", required=True)
    sp.add_argument("--limit", type=int, default=0)
    sp.add_argument("--concurrency", type=int, default=4)
    sp.add_argument("--slugs-out")
    sp.add_argument("--own-pids", default="")
    sp.set_defaults(fn=cmd_upload)

    sp = sub.add_parser("latency")
    sp.add_argument("--url", required=True)
    sp.add_argument("--path", required=True)
    sp.add_argument("--token")
    sp.add_argument("--accept")
    sp.add_argument("--label", default="")
    sp.add_argument("--requests", type=int, default=1000)
    sp.add_argument("--warmup", type=int, default=20)
    sp.add_argument("--max-seconds", type=float, default=120)
    sp.add_argument("--own-pids", default="")
    sp.add_argument("--new-connection", action="store_true",
                    help="open a new connection for every request (connect time included)")
    sp.set_defaults(fn=cmd_latency)

    sp = sub.add_parser("wait-quiet")
    sp.add_argument("--own-pids", default="")
    sp.add_argument("--max-wait", type=float, default=120)
    sp.add_argument("--window", type=float, default=3)
    sp.add_argument("--threshold", type=float, default=0.1)
    sp.set_defaults(fn=cmd_wait_quiet)

    sp = sub.add_parser("free-port")
    sp.set_defaults(fn=cmd_free_port)

    sp = sub.add_parser("wait-http")
    sp.add_argument("--url", required=True)
    sp.add_argument("--token")
    sp.add_argument("--contains")
    sp.add_argument("--timeout", type=float, default=30)
    sp.set_defaults(fn=cmd_wait_http)

    sp = sub.add_parser("fetch")
    sp.add_argument("--url", required=True)
    sp.add_argument("--token")
    sp.set_defaults(fn=cmd_fetch)

    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
