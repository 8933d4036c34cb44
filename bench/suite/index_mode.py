#!/usr/bin/env python3
"""What one incremental Cassandra -> OpenSearch pass costs per read mode (issue 12), run by
hand on the test bed, never in CI:

  build/venv/bin/python bench/suite/index_mode.py [--rows 200000] [--changes 100] [--repeat 3]
      [--build build/ci] [--out build/bench] [--keep]

Three tables of --rows rows each (cql_bench rows: versions over ten days): plain, the same
with an SAI index on version (made on the empty table, so the index grows with the flushes:
building it afterwards over 1M rows ran the test bed's 768 MB-1 GB heaps out of memory), and
the bucketed twin. Per read mode, a first pass (not measured) sets the checkpoint and creates the index, then
per repeat --changes rows get a new version now, the safety lag is waited, and one
`casselastic once` is measured (measure.Step: wall time, Cassandra CPU of every node of the
bed's cluster from /proc/<pid>/stat):
  filter            range on version with ALLOW FILTERING, no index on the table: a scan
  index             read_mode index on the table with the SAI index
  filter_with_sai   read_mode filter on that table (Cassandra picks the index itself)
  buckets           the bucketed table, read_mode buckets
Prints the medians and the ratios the issue asks about; writes index_mode.csv to --out.
"""
import argparse
import csv
import importlib.util
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import measure  # noqa: E402

# bench/sync/bench.py's helpers (env, session, table shape, config), as run.py uses them
_spec = importlib.util.spec_from_file_location("sync_bench", HERE.parents[1] / "bench" / "sync" / "bench.py")
sb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sb)
KS = "bench_idxmode"
IDX = "bench_idxmode_"


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def wait_queryable(s, table, timeout_s=900):
    """Until the SAI index on table.version answers (it is built in the background)."""
    t0 = time.time()
    while True:
        try:
            s.execute("SELECT id FROM %s.%s WHERE version >= 0 AND version < 1 LIMIT 1" % (KS, table), timeout=60)
            return time.time() - t0
        except Exception as e:  # "not queryable" while the build runs
            if time.time() - t0 > timeout_s:
                raise SystemExit("index on %s not queryable after %d s: %s" % (table, timeout_s, e))
            time.sleep(2)


def change(s, table, bucketed, first, k):
    """k rows (ids first..first+k-1) get version now; bucketed: written in the bucket of now."""
    from cassandra.concurrent import execute_concurrent_with_args
    t = int(time.time() * 1000)
    if bucketed:
        q = s.prepare("INSERT INTO %s.%s (bucket, id, version, name) VALUES (?,?,?,?)" % (KS, table))
        args = [(sb.bucket_of(t + i), first + i, t + i, "changed %d" % i) for i in range(k)]
    else:
        q = s.prepare("UPDATE %s.%s SET version = ?, name = ? WHERE id = ?" % (KS, table))
        args = [(t + i, "changed %d" % i, first + i) for i in range(k)]
    execute_concurrent_with_args(s, q, args, concurrency=100, raise_on_first_error=True)


def run_mode(a, e, s, osc, pids, work, label, mode, table, bucketed):
    """The first pass, then a.repeat measured incremental passes; [(wall_s, cass_cpu_s, read)]."""
    idx = IDX + label
    osc.indices.delete(index=idx, ignore=[404])
    extra = {"read_mode": mode, "direction": "to_es", "overlap_ms": 0}
    if a.scan_ranges:
        extra["scan_ranges"] = a.scan_ranges
    if bucketed:
        extra["bucket"] = {"column": "bucket", "format": "%Y%m%d%H", "seconds": sb.BUCKET_SECONDS}
    folder = work / label
    folder.mkdir(parents=True, exist_ok=True)
    cfg = sb.write_cfg(folder, e, [sb.sdef("incr", table, idx, ks=KS, **extra)])
    ce = str(Path(a.build) / "casselastic")
    measure.Step(pids).run([ce, "once", "-c", cfg, "--since", iso(int(time.time() * 1000) - 60000)])
    out = []
    for rep in range(a.repeat):
        change(s, table, bucketed, rep * a.changes, a.changes)
        time.sleep(2.5)  # past the default safety lag (2 s)
        st = measure.Step(pids).run([ce, "once", "-c", cfg])
        read = int(st.output.split("cassandra -> es: read ", 1)[1].split(",", 1)[0])
        out.append((st.wall_s, st.cpu.get("cass", 0.0), read))
        print("%-16s #%d  %6.2f s wall, Cassandra %6.2f CPU-s, read %d" % (label, rep, st.wall_s,
                                                                       st.cpu.get("cass", 0.0), read), flush=True)
    osc.indices.delete(index=idx, ignore=[404])
    return out


def prepare(a, e, s, pids):
    """Both tables filled by cql_bench rows, once: a marker row keeps them for the next run
    (with --keep). A few inserts timing out on a busy machine are reported, not fatal."""
    s.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', "
              "'replication_factor': 1}" % KS, timeout=120)
    s.execute("CREATE TABLE IF NOT EXISTS %s.prepared (name text PRIMARY KEY, rows bigint)" % KS)
    cql_bench = str(Path(a.build) / "cql_bench")
    for table, bucketed in (("t", False), ("t_sai", False), ("t_b", True)):
        got = s.execute("SELECT rows FROM %s.prepared WHERE name = %%s" % KS, (table,)).one()
        if got and got.rows == a.rows:
            print("data %-4s already prepared" % table, flush=True)
            continue
        s.execute("DROP TABLE IF EXISTS %s.%s" % (KS, table), timeout=300)
        sb.create_table(s, KS, table, bucketed=bucketed)
        if table == "t_sai":
            s.execute("CREATE INDEX ON %s.t_sai (version) USING 'sai'" % KS, timeout=300)
        st = measure.Step(pids).run([cql_bench, "--host", e["CE_CASSANDRA_HOST"]] + (["--bucketed"] if bucketed
                                    else []) + ["rows", KS, table, a.rows, 1024, 150], check=False)
        print("data %-4s %d rows in %.1f s: %s" % (table, a.rows, st.wall_s, st.output.strip().splitlines()[-1]),
              flush=True)
        s.execute("INSERT INTO %s.prepared (name, rows) VALUES (%%s, %%s)" % KS, (table, a.rows))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--build", default=str(HERE.parents[1] / "build" / "ci"))
    ap.add_argument("--out", default=str(HERE.parents[1] / "build" / "bench"))
    ap.add_argument("--keep", action="store_true", help="keep the keyspace afterwards")
    ap.add_argument("--scan-ranges", type=int, default=0, help="scan_ranges of every sync (0: the default)")
    ap.add_argument("--modes", default="filter index filter_with_sai buckets", help="which of the four to run")
    a = ap.parse_args()
    e = sb.env()
    cluster, s = sb.session(e)
    osc = sb.opensearch(e)
    pids = measure.server_pids()
    work = Path(a.out) / "index_mode"
    work.mkdir(parents=True, exist_ok=True)
    prepare(a, e, s, pids)
    runs = {"filter": ("filter", "t", False), "index": ("index", "t_sai", False),
            "filter_with_sai": ("filter", "t_sai", False), "buckets": ("buckets", "t_b", True)}
    print("sai index queryable after %.1f s" % wait_queryable(s, "t_sai"), flush=True)
    res = {k: run_mode(a, e, s, osc, pids, work, k, *runs[k]) for k in a.modes.split()}
    med = {k: (statistics.median(w for w, _, _ in v), statistics.median(c for _, c, _ in v)) for k, v in res.items()}
    with open(Path(a.out) / "index_mode.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mode", "rows", "changes", "repeat", "wall_s", "cass_cpu_s", "read"])
        for k, v in res.items():
            for i, (wall, cpu, read) in enumerate(v):
                w.writerow([k, a.rows, a.changes, i, "%.3f" % wall, "%.3f" % cpu, read])
    print("\n%d rows, %d changed, median of %d passes:" % (a.rows, a.changes, a.repeat))
    for k, (wall, cpu) in med.items():
        print("  %-16s %6.2f s wall  %6.2f Cassandra CPU-s" % (k, wall, cpu))
    for x, y in (("index", "buckets"), ("filter", "index")):
        if x in med and y in med:
            print("%s / %s: %.2fx wall, %.2fx Cassandra CPU" % (x, y, med[x][0] / med[y][0],
                                                               med[x][1] / max(med[y][1], 1e-3)))
    if not a.keep:
        s.execute("DROP KEYSPACE IF EXISTS %s" % KS, timeout=300)
    cluster.shutdown()


if __name__ == "__main__":
    main()
