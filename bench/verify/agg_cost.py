#!/usr/bin/env python3
"""Cassandra's CPU for per-range summary queries, by expression, page size and range count
(by hand, not in CI; docs/verify.md "Session 6 checked the Cassandra side" reports it).

  build/venv/bin/python bench/verify/agg_cost.py KEYSPACE TABLE [--ranges 1024]
      [--fetch 5000] [--only full,cnt_sum,count_star] [--rounds 2]

TABLE needs `id int` as its partition key and `version bigint` (bench/sync's shape, e.g.
filled by `cql_bench rows`). The ring is split evenly into --ranges ranges, read 8 at a
time with the Python driver; each query's Cassandra CPU (every node of the bed, utime +
stime of the JVMs from /proc) is measured after the servers went quiet."""
import argparse
import sys
import time
from pathlib import Path

from cassandra import ConsistencyLevel
from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "suite"))
import measure  # noqa: E402

P = 2147483647  # verify's mix modulus (VERIFY_MIX_P)
EXPR = {
    "full": "count(version), sum(version), sum(token(id) %% %d * (version %% %d) %% %d)" % (P, P, P),
    "cnt_sum": "count(version), sum(version)",
    "count_star": "count(*)",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("keyspace")
    ap.add_argument("table")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--ranges", type=int, default=1024)
    ap.add_argument("--fetch", type=int, default=5000)
    ap.add_argument("--only", default=",".join(EXPR))
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    s = Cluster([a.host]).connect()
    lo, hi = -2 ** 63, 2 ** 63 - 1
    step = (hi - lo) // a.ranges
    bounds = [(lo + k * step, lo + (k + 1) * step if k < a.ranges - 1 else hi) for k in range(a.ranges)]
    pids = measure.server_pids()
    for _ in range(a.rounds):
        for name in a.only.split(","):
            q = s.prepare("SELECT %s FROM %s.%s WHERE token(id) > ? AND token(id) <= ?"
                          % (EXPR[name], a.keyspace, a.table))
            q.consistency_level = ConsistencyLevel.ONE
            q.fetch_size = a.fetch
            measure.wait_idle(pids)
            c0, t0 = measure.servers_cpu(pids)["cass"], time.time()
            rows = 0
            for ok, r in execute_concurrent_with_args(s, q, bounds, concurrency=8):
                assert ok, r
                rows += r.one()[0]
            wall, cpu = time.time() - t0, measure.servers_cpu(pids)["cass"] - c0
            print("%-12s ranges %5d fetch %6d rows %9d wall %6.2f s Cassandra %6.2f CPU-s"
                  % (name, a.ranges, a.fetch, rows, wall, cpu), flush=True)


if __name__ == "__main__":
    main()
