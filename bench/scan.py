#!/usr/bin/env python3
"""Helpers for bench/scan.sh (python3 stdlib only; shares the HTTP and wheel code of
bench/python_index.py). Each subcommand prints one JSON object on stdout, progress on stderr.
Requests only ever go to 127.0.0.1.
"""

import argparse
import collections
import json
import os
import random
import re
import sys
import time
import zipfile
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_index as common  # noqa: E402

log = common.log


def parse_ms(text):
    """Unix milliseconds of an RFC 3339 timestamp such as 2024-01-01T00:00:00.123Z."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def advisory_names(zip_path):
    """Counter of PyPI package names (as written in the advisories) over all records."""
    names = collections.Counter()
    with zipfile.ZipFile(zip_path) as z:
        for entry in z.namelist():
            if not entry.endswith(".json"):
                continue
            record = json.loads(z.read(entry))
            seen = set()
            for affected in record.get("affected", []):
                pkg = affected.get("package", {})
                if pkg.get("ecosystem", "").split(":")[0] == "PyPI" and pkg.get("name"):
                    seen.add(pkg["name"])
            for n in seen:
                names[n] += 1
    return names


def cmd_spec(args):
    """`name version` lines: every PyPI name of the advisories in turn, versions 0.0.1, 0.0.2, …
    until --count packages (so most of them fall in an `introduced: 0` range)."""
    names = advisory_names(args.zip)
    ordered = sorted(names)  # stable, independent of zip order
    lines = []
    i = 0
    while len(lines) < args.count and ordered:
        round_, idx = divmod(i, len(ordered))
        lines.append(f"{ordered[idx]} 0.0.{round_ + 1}")
        i += 1
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    per_pkg = [names[line.split()[0]] for line in lines]
    print(json.dumps({
        "advisory_names": len(names), "packages": len(lines),
        "advisories_per_package_mean": round(sum(per_pkg) / max(1, len(per_pkg)), 1),
        "advisories_per_package_max": max(per_pkg) if per_pkg else 0,
        "top_names": names.most_common(5),
    }))


def summary(client, owner, repo):
    return client.json("GET", f"/api/v1/security/{owner}/{repo}/summary")


FINAL = ("no_vulnerabilities", "vulnerabilities_found", "indeterminate", "not_supported", "scan_failed")


PERIODIC_JOBS = {"web.sessions_sweep"}
JOBS_LINE = re.compile(r'jobs\{state="(queued|running)"\} (\d+)')


def pending_jobs(client):
    """Queued + running jobs from /metrics (two COUNTs; cheap next to the summary, which reads
    every package row of the repository)."""
    status, data, _ = client.request("GET", "/metrics")
    if status != 200:
        raise SystemExit(f"GET /metrics: HTTP {status}")
    pending = sum(int(n) for _, n in JOBS_LINE.findall(data.decode()))
    if 0 < pending <= 10:
        # Every server keeps its periodic jobs queued (they are not scans): count the rest.
        status, data, _ = client.request("GET", "/api/v1/admin/jobs?state=queued,running")
        if status == 200:
            pending = sum(1 for j in json.loads(data) if j.get("kind") not in PERIODIC_JOBS)
    return pending


def cmd_wait_scanned(args):
    """Waits until --expect packages of the repository have a final scan status and reports
    when that was seen, relative to --since (Unix seconds, e.g. when the server started).
    While jobs are pending it polls the queue length in /metrics every --interval s; the
    repository summary (a read of every package row: ~160 ms at 100,000 packages, on the
    one SQLite connection the scans need too) is read only once the queue is empty. The exact
    scan times come from `scan-times`, not from this poll."""
    client = common.Client(args.url, common.bearer(args.token))
    since = args.since or time.time()
    deadline = time.monotonic() + args.timeout
    load = common.OtherLoad(common.pids_arg(args.own_pids))
    last_log = 0.0
    while True:
        pending = pending_jobs(client)
        now = time.time()
        if now - last_log >= 10:
            log(f"  {pending} jobs pending ({now - since:.1f} s)")
            last_log = now
        if pending == 0:
            s = summary(client, args.owner, args.repo)
            done = sum(s["by_status"].get(k, 0) for k in FINAL)
            if done >= args.expect:
                print(json.dumps({"scanned": done, "seen_after_s": round(time.time() - since, 2),
                                  "by_status": {k: v for k, v in s["by_status"].items() if v},
                                  **load.result()}))
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"not every package was scanned within {args.timeout} s")
        time.sleep(args.interval)


def cmd_scan_times(args):
    """Reads every package's scan result (its /vulnerabilities) and reports the scan rate from
    the server's own `scanned_at` times."""
    with open(args.slugs) as f:
        slugs = json.load(f)
    client = common.Client(args.url, common.bearer(args.token))
    times, statuses, vulns = [], collections.Counter(), []
    for slug in slugs.values():
        r = client.json("GET", f"/api/v1/packages/{args.owner}/{args.repo}/{slug}/vulnerabilities")
        statuses[r["security_scan_status"]] += 1
        if r.get("scanned_at"):
            times.append(parse_ms(r["scanned_at"]))
        vulns.append(r["num_vulnerabilities"])
    times.sort()
    span = (times[-1] - times[0]) / 1000 if len(times) > 1 else 0
    out = {
        "packages": len(slugs), "statuses": dict(statuses),
        "findings_total": sum(vulns), "findings_per_package_mean": round(sum(vulns) / max(1, len(vulns)), 1),
        "first_to_last_scan_s": round(span, 2),
        "scans_per_second_first_to_last": round((len(times) - 1) / span, 1) if span else None,
    }
    if args.since:
        since_ms = args.since * 1000
        out["last_scan_after_start_s"] = round((times[-1] - since_ms) / 1000, 2)
        out["first_scan_after_start_s"] = round((times[0] - since_ms) / 1000, 2)
        out["scans_per_second_since_start"] = round(len(times) / ((times[-1] - since_ms) / 1000), 1)
    print(json.dumps(out))


def cmd_scan_latency(args):
    """POST …/{slug}/scan then poll the package until its scan is final, --count times in a
    row on one keep-alive connection (packages drawn at random with --seed, or named with
    --name). Two figures per scan: as seen by the poller (every --interval s), and from the
    server's `scanned_at` (ms resolution) minus the wall clock just before the POST."""
    with open(args.slugs) as f:
        slugs = json.load(f)
    items = sorted(slugs.items())
    if args.name:
        items = [kv for kv in items if kv[0].split("-")[0] == args.name]
    rng = random.Random(args.seed)
    picks = [rng.choice(items) for _ in range(args.count)] if items else []
    client = common.Client(args.url, common.bearer(args.token))
    load = common.OtherLoad(common.pids_arg(args.own_pids))
    polled, server, findings = [], [], []
    base = f"/api/v1/packages/{args.owner}/{args.repo}"
    for filename, slug in picks:
        t_wall = time.time()
        t0 = time.perf_counter()
        r = client.json("POST", f"{base}/{slug}/scan")
        if r["security_scan_status"] != "awaiting_scan":
            raise SystemExit(f"unexpected status after POST /scan: {r['security_scan_status']}")
        deadline = time.monotonic() + 60
        while True:
            v = client.json("GET", f"{base}/{slug}/vulnerabilities")
            if v["security_scan_status"] in FINAL:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{filename}: scan not final after 60 s ({v['security_scan_status']})")
            time.sleep(args.interval)
        polled.append((time.perf_counter() - t0) * 1000)
        server.append(parse_ms(v["scanned_at"]) - t_wall * 1000)
        findings.append(v["num_vulnerabilities"])
    out = {"label": args.label, "scans": len(picks), "name": args.name,
           "polled": common.summarize(polled),
           "server_scanned_at_minus_request": common.summarize(server),
           "findings_per_scan_mean": round(sum(findings) / max(1, len(findings)), 1),
           **load.result()}
    log(f"  {args.label}: {len(picks)} scans, polled p50 {out['polled'].get('p50_ms')} ms, "
        f"p99 {out['polled'].get('p99_ms')} ms")
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    sp = sub.add_parser("spec")
    sp.add_argument("--zip", required=True)
    sp.add_argument("--count", type=int, required=True)
    sp.add_argument("--out", required=True)
    sp.set_defaults(fn=cmd_spec)

    def server(sp):
        sp.add_argument("--url", required=True)
        sp.add_argument("--token", required=True)
        sp.add_argument("--owner", required=True)
        sp.add_argument("--repo", required=True)

    sp = sub.add_parser("wait-scanned")
    server(sp)
    sp.add_argument("--expect", type=int, required=True)
    sp.add_argument("--since", type=float)
    sp.add_argument("--timeout", type=float, default=600)
    sp.add_argument("--interval", type=float, default=0.25)
    sp.add_argument("--own-pids", default="")
    sp.set_defaults(fn=cmd_wait_scanned)

    sp = sub.add_parser("scan-times")
    server(sp)
    sp.add_argument("--slugs", required=True)
    sp.add_argument("--since", type=float)
    sp.set_defaults(fn=cmd_scan_times)

    sp = sub.add_parser("scan-latency")
    server(sp)
    sp.add_argument("--slugs", required=True)
    sp.add_argument("--count", type=int, default=100)
    sp.add_argument("--seed", type=int, default=1)
    sp.add_argument("--name", help="only packages of this wheel distribution name (as in the "
                    "filename: tensorflow_cpu)")
    sp.add_argument("--label", default="scan-latency")
    sp.add_argument("--interval", type=float, default=0.002)
    sp.add_argument("--own-pids", default="")
    sp.set_defaults(fn=cmd_scan_latency)

    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
