#!/usr/bin/env python3
"""Helpers for bench/npm_packument.sh (python3 stdlib only).

Generates the versions of one npm package (a realistic package.json of about 1 KiB each and a
tiny tarball), publishes them to Gantry with the publish document `npm publish` sends, and
writes the same versions as verdaccio's on-disk storage. Latency is measured with
bench/python_index.py. Requests only ever go to 127.0.0.1.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_index import Client, bearer, log  # noqa: E402


def manifest(name, version, i):
    return {
        "name": name,
        "version": version,
        "description": f"A benchmark package, release {i}, with a description of typical length.",
        "main": "index.js",
        "license": "MIT",
        "author": "Bench Author <bench@example.invalid>",
        "keywords": ["bench", "npm", "packument", "gantry"],
        "repository": {"type": "git", "url": "git+https://example.invalid/bench/benchpkg.git"},
        "homepage": "https://example.invalid/bench/benchpkg#readme",
        "bugs": {"url": "https://example.invalid/bench/benchpkg/issues"},
        "engines": {"node": ">=14"},
        "files": ["index.js", "lib/"],
        "scripts": {"test": "node test.js", "lint": "eslint ."},
        "dependencies": {
            "left-pad": "^1.3.0", "debug": "^4.3.4", "ms": "^2.1.3",
            "semver": "^7.5.4", "chalk": "^4.1.2",
        },
        "devDependencies": {"eslint": "^8.50.0", "mocha": "^10.2.0"},
        "peerDependencies": {"react": ">=16"},
    }


def tarball(doc):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as tar:
        for path, body in (("package/package.json", json.dumps(doc, indent=2).encode()),
                           ("package/index.js", f"module.exports = {json.dumps(doc['version'])};\n".encode())):
            info = tarfile.TarInfo(path)
            info.size = len(body)
            info.mtime = 499162500
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def versions(name, count):
    for i in range(count):
        version = f"1.{i // 100}.{i % 100}"
        doc = manifest(name, version, i)
        tgz = tarball(doc)
        yield version, doc, tgz


def dist(tgz):
    return {
        "shasum": hashlib.sha1(tgz).hexdigest(),
        "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode(),
    }


def cmd_publish(args):
    """PUTs each version as `npm publish` does, on one keep-alive connection."""
    client = Client(args.url, bearer(args.token))
    path = f"{args.prefix.rstrip('/')}/{args.name}"
    t0 = time.perf_counter()
    n = 0
    for version, doc, tgz in versions(args.name, args.count):
        vdoc = dict(doc, dist=dist(tgz))
        body = {
            "_id": args.name, "name": args.name, "description": doc["description"],
            "dist-tags": {"latest": version}, "versions": {version: vdoc}, "access": None,
            "_attachments": {f"{args.name}-{version}.tgz": {
                "content_type": "application/octet-stream",
                "data": base64.b64encode(tgz).decode(), "length": len(tgz)}},
        }
        client.json("PUT", path, body, expect=(200, 201))
        n += 1
        if n % 250 == 0:
            log(f"  published {n}/{args.count}")
    secs = time.perf_counter() - t0
    print(json.dumps({"published": n, "seconds": round(secs, 1), "per_second": round(n / secs, 1)}))


def cmd_cold(args):
    """Times packument renders that cannot come from Gantry's render cache: before each GET a
    dist-tag moves (alternating between two versions), which changes the packument."""
    from python_index import summarize
    client = Client(args.url, bearer(args.token))
    path = f"{args.prefix.rstrip('/')}/{args.name}"
    tag_path = f"{args.prefix.rstrip('/')}/-/package/{args.name}/dist-tags/bench"
    headers = {"Accept": args.accept}
    samples = []
    size = 0
    for i in range(args.requests):
        body = json.dumps(["1.0.0", "1.0.1"][i % 2]).encode()
        status, data, _ = client.request("PUT", tag_path, body, {"Content-Type": "application/json"})
        if status not in (200, 201):
            raise SystemExit(f"PUT {tag_path}: HTTP {status}: {data[:300]!r}")
        t = time.perf_counter()
        status, data, _ = client.request("GET", path, None, headers)
        samples.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status}")
        size = len(data)
    r = summarize(samples)
    r.update({"label": args.label, "bytes": size, "accept": args.accept})
    log(f"  {args.label}: n={r['n']} p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
    print(json.dumps(r))


def cmd_verdaccio_storage(args):
    """Writes the versions as verdaccio's local storage (`<storage>/<name>/package.json` and
    the tarballs), which is what its publish endpoint would have left there."""
    pkg_dir = os.path.join(args.storage, args.name)
    os.makedirs(pkg_dir, exist_ok=True)
    now = "2026-11-27T00:00:00.000Z"
    all_versions, time_map, attachments = {}, {"created": now, "modified": now}, {}
    latest = None
    for version, doc, tgz in versions(args.name, args.count):
        filename = f"{args.name}-{version}.tgz"
        with open(os.path.join(pkg_dir, filename), "wb") as f:
            f.write(tgz)
        d = dist(tgz)
        d["tarball"] = f"http://127.0.0.1/{args.name}/-/{filename}"
        all_versions[version] = dict(doc, _id=f"{args.name}@{version}", dist=d, readme="", readmeFilename="")
        time_map[version] = now
        attachments[filename] = {"shasum": d["shasum"], "version": version}
        latest = version
    packument = {
        "name": args.name, "versions": all_versions, "time": time_map, "users": {},
        "dist-tags": {"latest": latest}, "_uplinks": {}, "_distfiles": {},
        "_attachments": attachments, "_rev": f"{args.count}-0000000000000000", "_id": args.name,
        "readme": "",
    }
    with open(os.path.join(pkg_dir, "package.json"), "w") as f:
        json.dump(packument, f)
    print(json.dumps({"versions": args.count, "bytes": os.path.getsize(os.path.join(pkg_dir, "package.json"))}))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("publish")
    sp.add_argument("--url", required=True)
    sp.add_argument("--token")
    sp.add_argument("--prefix", required=True, help="the registry path, e.g. /acme/dev/npm")
    sp.add_argument("--name", default="benchpkg")
    sp.add_argument("--count", type=int, required=True)
    sp.set_defaults(func=cmd_publish)
    sp = sub.add_parser("cold")
    sp.add_argument("--url", required=True)
    sp.add_argument("--token")
    sp.add_argument("--prefix", required=True)
    sp.add_argument("--name", default="benchpkg")
    sp.add_argument("--accept", default="application/json")
    sp.add_argument("--label", default="cold")
    sp.add_argument("--requests", type=int, default=200)
    sp.set_defaults(func=cmd_cold)
    sp = sub.add_parser("verdaccio-storage")
    sp.add_argument("--storage", required=True)
    sp.add_argument("--name", default="benchpkg")
    sp.add_argument("--count", type=int, required=True)
    sp.set_defaults(func=cmd_verdaccio_storage)
    args = ap.parse_args()
    u = getattr(args, "url", None)
    if u and urllib.parse.urlsplit(u).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback only")
    args.func(args)


if __name__ == "__main__":
    main()
