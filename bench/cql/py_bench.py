#!/usr/bin/env python3
"""Compare the casselastic CQL client (bench/cql/cql_bench) with the Python driver in one run.

  build/venv/bin/python bench/cql/py_bench.py [--host 127.0.0.1] [--rows 200000]
        [--bench build/<dir>/cql_bench] [--concurrency 1024] [--py-concurrency 100] [--keep]

1. creates a fresh keyspace (RF1) with tables src and dst (id int PK, a text, b bigint, c double)
2. Python driver: execute_concurrent_with_args of N prepared INSERTs into src (rows/s)
3. Python driver: reads src in 5000-row pages, every value decoded (rows per CPU-second)
4. cql_bench read: the same pages, every cell converted to JSON (rows per CPU-second), and
   cql_bench decode: the same pages, cells located in place without JSON
5. cql_bench insert: N pipelined prepared INSERTs into dst (rows/s)
and prints both sides and the ratios (targets: read CPU/row <= 1/20 of Python's, inserts >= 3x).
Run by hand on a quiet machine; it is not part of the test suite.
"""
import argparse
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

from cassandra import ConsistencyLevel
from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import SimpleStatement


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--bench", default=str(Path(__file__).resolve().parents[2] / "build" / "ci" / "cql_bench"))
    ap.add_argument("--concurrency", type=int, default=1024)
    ap.add_argument("--py-concurrency", type=int, default=100)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    cluster = Cluster([a.host], protocol_version=5)
    s = cluster.connect()
    ks = "cqlbench_%s" % secrets.token_hex(3)
    s.execute("CREATE KEYSPACE %s WITH replication = {'class':'SimpleStrategy','replication_factor':1}" % ks,
              timeout=60)
    for t in ("src", "dst"):
        s.execute("CREATE TABLE %s.%s (id int PRIMARY KEY, a text, b bigint, c double)" % (ks, t), timeout=60)
    try:
        ins = s.prepare("INSERT INTO %s.src (id, a, b, c) VALUES (?, ?, ?, ?)" % ks)
        ins.consistency_level = ConsistencyLevel.ONE
        params = [(i, "name-%d" % i, i * 1000, i / 7.0) for i in range(a.rows)]
        t0 = time.monotonic()
        res = execute_concurrent_with_args(s, ins, params, concurrency=a.py_concurrency, raise_on_first_error=True)
        py_ins_wall = time.monotonic() - t0
        assert all(ok for ok, _ in res)
        py_ins = a.rows / py_ins_wall

        q = SimpleStatement("SELECT * FROM %s.src" % ks, fetch_size=5000, consistency_level=ConsistencyLevel.ONE)
        c0, w0 = time.process_time(), time.monotonic()
        n = 0
        for row in s.execute(q, timeout=120):
            _ = (row.id, row.a, row.b, row.c)
            n += 1
        py_read_cpu, py_read_wall = time.process_time() - c0, time.monotonic() - w0
        assert n == a.rows, n
        py_read = n / py_read_cpu

        def bench(*args):
            out = subprocess.run([a.bench, "--host", a.host] + [str(x) for x in args], check=True,
                                 capture_output=True, text=True).stdout
            return json.loads(out.strip().splitlines()[-1])

        r = bench("read", ks, "src", 5000)
        assert r["rows"] == a.rows, r
        d = bench("decode", ks, "src", 5000)
        assert d["rows"] == a.rows, d
        w = bench("insert", ks, "dst", a.rows, a.concurrency)
        got = s.execute("SELECT count(*) FROM %s.dst" % ks, timeout=120).one()[0]
        assert got == a.rows, got

        print("rows: %d" % a.rows)
        print("read   python driver: %9.0f rows/CPU-s  (%.2f CPU-s, %.2f s wall)" % (py_read, py_read_cpu, py_read_wall))
        print("read   cql_bench    : %9.0f rows/CPU-s  (%.2f CPU-s, %.2f s wall, every cell to JSON)"
              % (r["rows_per_cpu_s"], r["cpu_s"], r["wall_s"]))
        print("decode cql_bench    : %9.0f rows/CPU-s  (%.2f CPU-s, cells located in place, no JSON)"
              % (d["rows_per_cpu_s"], d["cpu_s"]))
        print("read   CPU per row  : ours = 1/%.1f of the Python driver's with JSON, 1/%.1f decode only"
              " (target: <= 1/20)" % (r["rows_per_cpu_s"] / py_read, d["rows_per_cpu_s"] / py_read))
        print("insert python driver: %9.0f rows/s (execute_concurrent, concurrency %d)" % (py_ins, a.py_concurrency))
        print("insert cql_bench    : %9.0f rows/s (pipelined, %d in flight, %.2f CPU-s)"
              % (w["rows_per_s"], a.concurrency, w["cpu_s"]))
        print("insert ratio        : %.1fx (target: >= 3x)" % (w["rows_per_s"] / py_ins))
    finally:
        if not a.keep:
            s.execute("DROP KEYSPACE IF EXISTS %s" % ks, timeout=120)
        cluster.shutdown()


if __name__ == "__main__":
    sys.exit(main())
