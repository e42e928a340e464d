#!/usr/bin/env python3
"""Helpers of bench/cargo_index.sh: builds .crate files and publishes them through the cargo
publish API (the framing cargo uses), on keep-alive connections. Latency is measured with
bench/python_index.py's `latency` command."""

import argparse
import gzip
import http.client
import io
import json
import os
import queue
import sys
import tarfile
import threading
import time
import urllib.parse

MANIFEST = """[package]
name = "{name}"
version = "{version}"
edition = "2021"
description = "benchmark crate"
license = "MIT"
rust-version = "1.70"

[dependencies]
serde = {{ version = "1", features = ["derive"], optional = true }}
itoa = "1"

[target.'cfg(unix)'.dependencies]
libc = "0.2"

[dev-dependencies]
tempfile = "3"

[build-dependencies]
cc = "1"

[features]
default = ["std"]
std = []
full = ["dep:serde", "std"]
"""


def meta(name, version):
    dep = lambda n, req, kind="normal", target=None, optional=False, features=(): {
        "name": n, "version_req": req, "features": list(features), "optional": optional,
        "default_features": True, "target": target, "kind": kind, "registry": None,
        "explicit_name_in_toml": None,
    }
    return {
        "name": name, "vers": version,
        "deps": [dep("serde", "^1", optional=True, features=["derive"]), dep("itoa", "^1"),
                 dep("libc", "^0.2", target="cfg(unix)"), dep("tempfile", "^3", "dev"),
                 dep("cc", "^1", "build")],
        "features": {"default": ["std"], "std": [], "full": ["dep:serde", "std"]},
        "links": None, "description": "benchmark crate", "license": "MIT",
        "authors": [], "keywords": [], "categories": [], "badges": {},
    }


def crate_bytes(name, version):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, body in [("Cargo.toml", MANIFEST.format(name=name, version=version)),
                           ("src/lib.rs", "pub fn f() {}\n")]:
            data = body.encode()
            info = tarfile.TarInfo(f"{name}-{version}/{path}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), compresslevel=6, mtime=0)


def cmd_publish(args):
    base = urllib.parse.urlsplit(args.url)
    path = f"/{args.owner}/{args.repo}/cargo/api/v1/crates/new"
    work = queue.Queue()
    for i in range(args.count):
        work.put(f"{args.version_prefix}{i}")
    errors = []

    def worker():
        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
        while True:
            try:
                version = work.get_nowait()
            except queue.Empty:
                return
            m = json.dumps(meta(args.name, version)).encode()
            c = crate_bytes(args.name, version)
            body = len(m).to_bytes(4, "little") + m + len(c).to_bytes(4, "little") + c
            conn.request("PUT", path, body=body, headers={"Authorization": args.token})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                errors.append(f"{version}: {resp.status} {data[:200]!r}")
                conn.close()
                conn = http.client.HTTPConnection(base.hostname, base.port, timeout=60)

    t = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.perf_counter() - t
    if errors:
        raise SystemExit("publish failed: " + "; ".join(errors[:5]))
    print(json.dumps({"published": args.count, "seconds": round(seconds, 2),
                      "per_second": round(args.count / seconds, 1)}))


def cmd_rerender(args):
    """Times the first index-file request after each change: yanks and un-yanks one version
    in turn (through the cargo API), then GETs the file; each GET renders it anew."""
    base = urllib.parse.urlsplit(args.url)
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
    api = f"/{args.owner}/{args.repo}/cargo/api/v1/crates/{args.name}/{args.version}"
    index = f"/{args.owner}/{args.repo}/cargo/index/{args.path}"
    times = []
    for i in range(args.requests):
        method, action = ("DELETE", "yank") if i % 2 == 0 else ("PUT", "unyank")
        conn.request(method, f"{api}/{action}", headers={"Authorization": args.token})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise SystemExit(f"{action} failed: {resp.status}")
        t = time.perf_counter()
        conn.request("GET", index, headers={"Authorization": args.token})
        resp = conn.getresponse()
        data = resp.read()
        times.append((time.perf_counter() - t) * 1000)
        if resp.status != 200:
            raise SystemExit(f"index failed: {resp.status}")
    times.sort()
    pick = lambda q: round(times[min(len(times) - 1, int(q * len(times)))], 3)
    print(json.dumps({"n": len(times), "bytes": len(data), "p50_ms": pick(0.5),
                      "p90_ms": pick(0.9), "p99_ms": pick(0.99), "max_ms": round(times[-1], 3)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("publish")
    sp.add_argument("--url", required=True)
    sp.add_argument("--token", required=True)
    sp.add_argument("--owner", required=True)
    sp.add_argument("--repo", required=True)
    sp.add_argument("--name", default="benchcrate")
    sp.add_argument("--count", type=int, default=2000)
    sp.add_argument("--version-prefix", default="1.0.")
    sp.add_argument("--concurrency", type=int, default=4)
    sp.set_defaults(func=cmd_publish)
    sp = sub.add_parser("rerender")
    sp.add_argument("--url", required=True)
    sp.add_argument("--token", required=True)
    sp.add_argument("--owner", required=True)
    sp.add_argument("--repo", required=True)
    sp.add_argument("--name", default="benchcrate")
    sp.add_argument("--version", default="1.0.0")
    sp.add_argument("--path", default="be/nc/benchcrate")
    sp.add_argument("--requests", type=int, default=200)
    sp.set_defaults(func=cmd_rerender)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
