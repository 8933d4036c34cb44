#!/usr/bin/env python3
"""Cassandra's CPU for casselastic's E->C writes against plain pipelined prepared INSERTs of
the same rows, and casselastic's own CPU (by hand, not in CI; docs/performance.md "Where the
time goes" reports what it showed).

  build/venv/bin/python bench/suite/write_cost.py --cass-host 127.0.0.15 [--rows 200000]
      [--rounds 3] [--build build/ci] [--variant NAME=JSON ...] [--before OTHER_BUILD]
      [--prepare] [--bare-paced CONC ...]

--prepare (once): keyspace KS (RF 1) on the node, table src filled by `cql_bench rows`, and
its documents loaded into the index SRC_INDEX by `casselastic once` (C->E). Then per round,
alternating: `cql_bench rows` into a fresh table (the bare INSERTs), then `casselastic once`
E->C from the index into a fresh table once per variant (JSON: extra keys of the sync, e.g.
'{"write_batch_rows": 1}'). Each step's Cassandra CPU is utime+stime of the node's JVM minus
its idle rate (measured just before) times the step's wall time. Prints one line per step
and the medians per variant: ours / bare INSERTs, own CPU-s per million rows, and the
ratio of the machine bound (OpenSearch's CPU for a bare scroll of the index + Cassandra's for
the bare INSERTs + ours, over the cores) to our wall time (1.0: as fast as the machine allows).
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
from scan_cost import idle_rate, sb  # noqa: E402

KS = "e2cp"
SRC_INDEX = "e2cp_src"


def bare_scroll(osc, size=5000):
    """Every document of the source index by a plain scroll in _doc order (as run.py's)."""
    r = osc.search(index=SRC_INDEX, scroll="2m", body={"size": size, "sort": ["_doc"]})
    n, sid = 0, r["_scroll_id"]
    while r["hits"]["hits"]:
        n += len(r["hits"]["hits"])
        r = osc.scroll(scroll_id=sid, scroll="2m")
        sid = r["_scroll_id"]
    osc.clear_scroll(scroll_id=sid)
    return n


def fresh_table(s, name, pids=None):
    """An empty table `name`; with pids, waits (up to 15 s) for the node to go quiet after the
    drop (its memtable flush and snapshot would land in the idle rate)."""
    s.execute("DROP TABLE IF EXISTS %s.%s" % (KS, name), timeout=300)
    sb.create_table(s, KS, name)
    for _ in range(15 if pids else 0):
        if idle_rate(pids, 1.0) < 0.1:
            break


def prepare(a, e, s, osc, pids):
    s.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', "
              "'replication_factor': 1}" % KS)
    fresh_table(s, "src")
    measure.Step(pids).run([Path(a.build) / "cql_bench", "--host", a.cass_host, "rows", KS, "src", a.rows,
                            1024, 150])
    osc.indices.delete(index=SRC_INDEX, ignore=[404])
    folder = Path(a.out) / "prepare"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    cfg = sb.write_cfg(folder, e, [sb.sdef("src", "src", SRC_INDEX, ks=KS, read_mode="full_scan",
                                           direction="to_es")])
    measure.Step(pids).run([Path(a.build) / "casselastic", "once", "-c", cfg])
    osc.indices.refresh(index=SRC_INDEX)
    print("prepared: %d documents" % osc.count(index=SRC_INDEX)["count"], flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", default="build/ci")
    ap.add_argument("--variant", action="append", default=[], help="NAME=JSON of extra sync keys")
    ap.add_argument("--before", help="another build folder whose casselastic runs as the variant `before`")
    ap.add_argument("--out", default="build/write_cost")
    ap.add_argument("--cass-host", required=True, help="a quiet Cassandra node of one's own")
    ap.add_argument("--prepare", action="store_true")
    ap.add_argument("--no-bare", action="store_true", help="skip the bare INSERTs")
    ap.add_argument("--bare-paced", action="append", default=[], type=int,
                    help="also bare INSERTs with this many in flight (a slower client), per round")
    a = ap.parse_args()
    variants = [v.split("=", 1) + [a.build] for v in a.variant]
    if a.before:
        variants.insert(0, ["before", "{}", a.before])
    if not variants:
        variants = [["default", "{}", a.build]]
    e = sb.env()
    e["CE_CASSANDRA_HOST"] = a.cass_host
    measure.SERVERS["cass"] = (a.cass_host + ":9042",)
    pids = measure.server_pids()
    osc = sb.opensearch(e)
    cluster, s = sb.session(e)
    if a.prepare:
        prepare(a, e, s, osc, pids)
    ratios = {v[0]: [] for v in variants}
    own = {v[0]: [] for v in variants}
    bare_cpu = None
    bound_ratio = {v[0]: [] for v in variants}
    for rnd in range(a.rounds):
        idle = idle_rate(pids, 2.0)
        with measure.Step(pids) as sc:
            got = bare_scroll(osc)
        scroll_os = sc.cpu["os"]
        print("round %d bare scroll  %.2f s wall, OpenSearch %.2f CPU-s, %d documents" % (
            rnd, sc.wall_s, scroll_os, got), flush=True)
        if not a.no_bare:
            fresh_table(s, "bare", pids)
            idle = idle_rate(pids, 2.0)
            st = measure.Step(pids).run([Path(a.build) / "cql_bench", "--host", a.cass_host, "rows", KS, "bare",
                                         a.rows, 1024, 150])
            bare_cpu = st.cpu["cass"] - idle * st.wall_s
            print("round %d bare INSERTs  %.2f s wall, own %.2f CPU-s, Cassandra %.2f CPU-s (raw %.2f, idle %.2f/s)" % (
                rnd, st.wall_s, st.client_cpu_s, bare_cpu, st.cpu["cass"], idle), flush=True)
        for conc in a.bare_paced:
            fresh_table(s, "bare", pids)
            idle = idle_rate(pids, 2.0)
            st = measure.Step(pids).run([Path(a.build) / "cql_bench", "--host", a.cass_host, "rows", KS, "bare",
                                         a.rows, conc, 150])
            cpu = st.cpu["cass"] - idle * st.wall_s
            print("round %d bare, %4d in flight %.2f s wall, Cassandra %.2f CPU-s: %.2fx bare" % (
                rnd, conc, st.wall_s, cpu, cpu / bare_cpu if bare_cpu else float("nan")), flush=True)
        for name, extra, build in variants:
            fresh_table(s, "back", pids)
            folder = Path(a.out) / ("%s_%d" % (name, rnd))
            shutil.rmtree(folder, ignore_errors=True)  # no checkpoint: an initial load
            folder.mkdir(parents=True)
            sync = sb.sdef("e2c", "back", SRC_INDEX, ks=KS, direction="to_cassandra", ignore_same_source=False,
                           alter_table=False, **json.loads(extra))
            cfg = sb.write_cfg(folder, e, [sync])
            idle = idle_rate(pids, 2.0)
            st = measure.Step(pids).run([Path(build) / "casselastic", "once", "-c", cfg])
            ours = st.cpu["cass"] - idle * st.wall_s
            got = s.execute("SELECT count(*) FROM %s.back" % KS, timeout=300).one()[0]
            own[name].append(st.client_cpu_s / a.rows * 1e6)
            r = ours / bare_cpu if bare_cpu else float("nan")
            ratios[name].append(r)
            # the machine bound: the servers' CPU for the work done bare, plus ours, over the cores
            bound_s = (scroll_os + (bare_cpu or 0) + st.client_cpu_s) / measure.NCORES
            bound_ratio[name].append(bound_s / st.wall_s)
            print("round %d %-12s %.2f s wall, own %.2f CPU-s, Cassandra %.2f CPU-s, OpenSearch %.2f CPU-s, "
                  "rows %d, idle %.2f/s: %.2fx bare" % (rnd, name, st.wall_s, st.client_cpu_s, ours, st.cpu["os"], got,
                                                       idle, r),
                  flush=True)
    for name in ratios:
        print("%-12s Cassandra ours / bare: median %.2f (%s); own CPU-s per million rows: median %.1f (%s)" % (
            name, statistics.median(ratios[name]), " ".join("%.2f" % x for x in ratios[name]),
            statistics.median(own[name]), " ".join("%.1f" % x for x in own[name])))
        print("%-12s wall / machine bound: median %.2f (%s)" % (
            name, statistics.median(bound_ratio[name]), " ".join("%.2f" % x for x in bound_ratio[name])))
    cluster.shutdown()


if __name__ == "__main__":
    main()
