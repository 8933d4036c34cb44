#!/usr/bin/env python3
"""Cassandra's CPU for casselastic's C->E scan against a bare paged SELECT * (by hand, not in
CI; docs/performance.md "Where the time goes" reports what it showed).

  build/venv/bin/python bench/suite/scan_cost.py --ks p14 --table r200k [--rounds 3]
      [--build build/ci] [--variant NAME=JSON ...] [--scan NAME=RANGES:COLUMNS ...]
      [--cass-host 127.0.0.14] [--before OTHER_BUILD]

Per round, alternating: `cql_bench decode` (a bare SELECT *, 5000-row pages, our client) and
`casselastic once` (C->E initial load, read_mode full_scan) once per variant (JSON: extra
keys of the sync, e.g. '{"scan_ranges": 8}'; the index is deleted before each) and once per
scan (`cql_bench scan`: the engine's prepared query shape without the engine, e.g.
'wt128=128:id,name,WRITETIME(name)'), so a query's shape is measured apart. Each step's
Cassandra CPU is utime+stime of the bed's Cassandra JVMs (measure.py) minus their idle rate
(measured for 3 s before the round) times the step's wall time, since other clients of a
shared bed and the servers' own background work run meanwhile. Prints one line per step and
the medians of ours / bare per variant.
"""
import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import measure  # noqa: E402

def _load_sync_bench():
    import importlib.util
    spec = importlib.util.spec_from_file_location("sync_bench", HERE.parents[1] / "bench" / "sync" / "bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sb = _load_sync_bench()


def idle_rate(pids, secs=3.0):
    c0 = measure.servers_cpu(pids)["cass"]
    time.sleep(secs)
    return (measure.servers_cpu(pids)["cass"] - c0) / secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ks", default="p14")
    ap.add_argument("--table", default="r200k")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", default="build/ci")
    ap.add_argument("--variant", action="append", default=[], help="NAME=JSON of extra sync keys")
    ap.add_argument("--before", help="another build folder whose casselastic runs as the variant `before`")
    ap.add_argument("--scan", action="append", default=[], help="NAME=RANGES:COLUMNS for cql_bench scan")
    ap.add_argument("--out", default="build/scan_cost")
    ap.add_argument("--cass-host", help="a Cassandra node of one's own (e.g. a quiet private node) in place of the bed's")
    a = ap.parse_args()
    variants = [v.split("=", 1) + [a.build] for v in a.variant]
    if a.before:
        variants.insert(0, ["before", "{}", a.before])
    scans = [v.split("=", 1) for v in a.scan]
    if not variants and not scans:
        variants = [["default", "{}", a.build]]
    e = sb.env()
    osc = sb.opensearch(e)
    if a.cass_host:
        e["CE_CASSANDRA_HOST"] = a.cass_host
        measure.SERVERS["cass"] = (a.cass_host + ":9042",)
    pids = measure.server_pids()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    ratios = {v[0]: [] for v in variants + scans}
    idx = "p14_scan_cost"
    for rnd in range(a.rounds):
        idle = idle_rate(pids)
        bare = measure.Step(pids).run([Path(a.build) / "cql_bench", "--host", e["CE_CASSANDRA_HOST"], "decode",
                                       a.ks, a.table, 5000])
        bare_cpu = bare.cpu["cass"] - idle * bare.wall_s
        print("round %d idle %.2f CPU-s/s  bare %.2f s wall, Cassandra %.2f CPU-s (raw %.2f)" % (
            rnd, idle, bare.wall_s, bare_cpu, bare.cpu["cass"]), flush=True)
        for name, spec in scans:
            nr, cols = spec.split(":", 1)
            idle = idle_rate(pids, 2.0)
            st = measure.Step(pids).run([Path(a.build) / "cql_bench", "--host", e["CE_CASSANDRA_HOST"], "scan",
                                         a.ks, a.table, 5000, nr, cols])
            ours = st.cpu["cass"] - idle * st.wall_s
            ratios[name].append(ours / bare_cpu)
            print("round %d %-12s %.2f s wall, Cassandra %.2f CPU-s (raw %.2f, idle %.2f/s): %.2fx bare" % (
                rnd, name, st.wall_s, ours, st.cpu["cass"], idle, ours / bare_cpu), flush=True)
        for name, extra, build in variants:
            idle = idle_rate(pids, 2.0)
            osc.indices.delete(index=idx, ignore=[404])
            folder = out / ("%s_%d" % (name, rnd))
            shutil.rmtree(folder, ignore_errors=True)  # no checkpoint: an initial load
            folder.mkdir()
            sync = sb.sdef("c2e", a.table, idx, ks=a.ks, read_mode="full_scan", direction="to_es",
                           **json.loads(extra))
            cfg = sb.write_cfg(folder, e, [sync])
            st = measure.Step(pids).run([Path(build) / "casselastic", "once", "-c", cfg])
            ours = st.cpu["cass"] - idle * st.wall_s
            ratios[name].append(ours / bare_cpu)
            print("round %d %-12s %.2f s wall, own %.2f CPU-s, Cassandra %.2f CPU-s (raw %.2f): %.2fx bare" % (
                rnd, name, st.wall_s, st.client_cpu_s, ours, st.cpu["cass"], ours / bare_cpu), flush=True)
    osc.indices.delete(index=idx, ignore=[404])
    for name, r in ratios.items():
        print("%-12s ours / bare: median %.2f (%s)" % (name, statistics.median(r), " ".join("%.2f" % x for x in r)))


if __name__ == "__main__":
    main()
