#!/usr/bin/env python3
"""verify against a row-by-row compare (run by hand on the test bed, not in CI).

For each size: N rows in a new Cassandra table, loaded into a new OpenSearch index by
`casselastic once` (to_es), then
  - `casselastic verify` (doc-value stream; and with token_field: aggregations), timed, with
    its peak RSS (wait4 rusage),
  - a row-by-row compare with the official drivers: every row (SELECT *) and every
    document (_source, scroll) read, versions compared by id.
Usage: bench_verify.py [--rows 50000,200000] [--build build/ci] [--fast-load]
(--fast-load fills the table with cql_bench rows, ~150 B rows of bench/sync's shape, in
seconds instead of minutes: the way to prepare 1M rows.)
Each figure is the best of two runs (the test bed is shared); the index's request cache is
cleared before each verify (an aggregation answered from it would cost nothing). Prints one line per
measurement and a Markdown table at the end."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args
from opensearchpy import OpenSearch

HOST = os.environ.get("CE_CASSANDRA_HOST", "127.0.0.1")
OS_URL = os.environ.get("CE_OPENSEARCH_URL", "http://127.0.0.1:9200")


def load(session, ks, n):
    session.execute("CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', "
                    "'replication_factor': 1}" % ks, timeout=120)
    session.execute("CREATE TABLE %s.items (id int PRIMARY KEY, version bigint, text varchar, "
                    "source varchar, date timestamp)" % ks, timeout=60)
    ins = session.prepare("INSERT INTO %s.items (id, version, text, date) VALUES (?, ?, ?, ?)" % ks)
    t = int(time.time() * 1000) - 3600000
    args = [(i, t - i, "row %d with some text to make it a realistic document" % i, t - i) for i in range(n)]
    for k in range(0, n, 20000):
        execute_concurrent_with_args(session, ins, args[k:k + 20000], concurrency=150, raise_on_first_error=True)


def fast_load(session, ks, n, build):
    """The table `items` in bench/sync's shape, n rows of ~150 B by cql_bench rows
    (pipelined prepared INSERTs on our own CQL client)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))
    import bench as sb
    session.execute("CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', "
                    "'replication_factor': 1}" % ks, timeout=120)
    sb.create_table(session, ks, "items")
    p = subprocess.run([str(Path(build) / "cql_bench"), "--host", HOST, "rows", ks, "items", str(n), "1024", "150"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]


def run_timed(argv):
    """Exit code, wall seconds, peak RSS (KiB) and CPU seconds of the command, measured by
    /usr/bin/time (the rusage of a child forked from this big Python process would count
    the parent's pages)."""
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-f", "TIME %M %U %S", *argv], capture_output=True, text=True)
    secs = time.time() - t0
    line = [l for l in p.stderr.splitlines() if l.startswith("TIME ")][-1].split()
    return p.returncode, secs, int(line[1]), p.stdout, p.stderr, float(line[2]) + float(line[3])


def row_by_row(session, es, ks, index):
    import resource
    t0 = time.time()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    c = {}
    for r in session.execute("SELECT * FROM %s.items" % ks, timeout=600):
        c[str(r.id)] = r.version
    e = {}
    res = es.search(index=index, body={"size": 10000, "query": {"match_all": {}}}, scroll="2m")
    while res["hits"]["hits"]:
        for h in res["hits"]["hits"]:
            e[h["_id"]] = h["_source"]["version"]
        res = es.scroll(scroll_id=res["_scroll_id"], scroll="2m")
    diffs = sum(1 for k in c.keys() | e.keys() if c.get(k) != e.get(k))
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return time.time() - t0, diffs, cpu


def config(folder, ks, index, token_field):
    d = {"name": "tok" if token_field else "plain", "id_col": "id", "version_col": "version", "read_mode": "full_scan", "direction": "to_es",
         "cassandra": {"keyspace": ks, "table": "items"}, "elasticsearch": {"index": index}}
    if token_field:
        d["token_field"] = token_field
    cfg = {"cassandra": {"url": [HOST], "read_consistency": "one", "write_consistency": "one"},
           "elasticsearch": {"url": [OS_URL]}, "syncs": [d]}
    p = Path(folder) / ("cfg_%s.json" % (token_field or "plain"))
    p.write_text(json.dumps(cfg))
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="50000,200000")
    ap.add_argument("--build", default="build/ci")
    ap.add_argument("--fast-load", action="store_true", help="fill the table with cql_bench rows")
    ap.add_argument("--keyspace", help="use this keyspace's items table as loaded by an earlier run "
                                       "(one size in --rows); it is not dropped")
    a = ap.parse_args()
    ce = str(Path(a.build) / "casselastic")
    cluster = Cluster([HOST])
    session = cluster.connect()
    es = OpenSearch([OS_URL], timeout=600)
    table = []
    for n in [int(x) for x in a.rows.split(",")]:
        ks = a.keyspace or "bench_verify_%d" % int(time.time())
        with tempfile.TemporaryDirectory() as tmp:
            if not a.keyspace:
                if a.fast_load:
                    fast_load(session, ks, n, a.build)
                else:
                    load(session, ks, n)
            for tf in (None, "_ce_token"):
                index = "bench-verify-%s-%s" % (ks.replace("_", "-"), "tok" if tf else "plain")
                cfg = config(tmp, ks, index, tf)
                rc, secs, _, _, err, _ = run_timed([ce, "once", "-c", str(cfg)])
                assert rc == 0, err[-2000:]
                es.indices.refresh(index=index)
                # best of two runs each: the test bed is shared with other jobs
                runs = []
                for _ in range(2):
                    # no answer from the shard request cache: each run makes the server aggregate
                    es.indices.clear_cache(index=index, request=True)
                    runs.append(run_timed([ce, "verify", "-c", str(cfg)]))
                assert all(r[0] == 0 for r in runs), runs[0][3] + runs[0][4][-2000:]
                vsecs, rss = min(r[1] for r in runs), max(r[2] for r in runs)
                vcpu = min(r[5] for r in runs)
                rr = [row_by_row(session, es, ks, index) for _ in range(2)]
                assert all(d == 0 for _, d, _ in rr)
                rsecs = min(s for s, _, _ in rr)
                rcpu = min(c for _, _, c in rr)
                mode = "aggregations (token_field)" if tf else "doc-value stream"
                row = (n, mode, vsecs, n / vsecs, rss / 1024, vcpu, rsecs, rcpu, rsecs / vsecs)
                print("rows=%d mode=%s verify_s=%.2f rate=%.0f/s rss_mib=%.1f verify_cpu_s=%.2f row_by_row_s=%.2f "
                      "row_by_row_cpu_s=%.2f speedup=%.1fx" % row, flush=True)
                table.append(row)
                es.indices.delete(index=index)
            if not a.keyspace:
                session.execute("DROP KEYSPACE %s" % ks, timeout=120)
    print("\n| rows | ES side | verify (s) | rows/s | peak RSS (MiB) | verify CPU (s) | row-by-row (s) "
          "| row-by-row CPU (s) | speed-up |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in table:
        print("| %d | %s | %.2f | %.0f | %.1f | %.2f | %.2f | %.2f | %.1fx |" % r)
    cluster.shutdown()


if __name__ == "__main__":
    sys.exit(main())
