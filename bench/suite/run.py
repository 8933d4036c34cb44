#!/usr/bin/env python3
"""The benchmark suite behind `make bench` (docs/performance.md explains the method).

  build/venv/bin/python bench/suite/run.py [--rows "200000 1000000"] [--widths "150 1500"]
      [--repeat 3] [--changes 200] [--modes "filter buckets full_scan all"] [--build build/ci]
      [--out build/bench] [--keep]

Prepares each data set once (cql_bench rows: pipelined prepared INSERTs on our own CQL
client; kept between runs, keyspace bench_suite), then for every data set and repeat runs
each scenario with its comparison points back to back, every step measured by
measure.Step (wall, own CPU, peak RSS, RSS over time, each server's CPU):
  c2e   casselastic initial load C->E (full scan) | raw curl _bulk of its own documents
        with its mapping and bulk-load settings, final refresh included | a bare paged
        SELECT * (cql_bench decode) | the Python way (bench/sync/bench.py)
  e2c   casselastic E->C into an empty table | a bare scroll of the index | pipelined
        prepared INSERTs of the same rows (cql_bench rows) | the Python way
  incr  an incremental pass after 0.1 % of the rows changed, per read mode (narrowest width)
  latency  `casselastic run`, period 1 s, changes written each way, change -> visible
Writes results.csv (one line per step), rss.csv, latency.csv, summary.csv (medians and
spread of the derived figures, the machine bound among them), then the PNGs (plots.py).
"""
import argparse
import csv
import importlib.util
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
import measure  # noqa: E402
import summary  # noqa: E402


def _load_sync_bench():
    spec = importlib.util.spec_from_file_location("sync_bench", REPO / "bench" / "sync" / "bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sb = _load_sync_bench()
KS = "bench_suite"
P = "bench_suite_"  # index name prefix
RESULT_FIELDS = ["scenario", "rows", "width", "step", "repeat", "wall_s", "client_cpu_s", "peak_rss_mb",
                 "cass_cpu_s", "os_cpu_s", "es_cpu_s", "ncores", "note"]


class Suite:
    """Connections, output files and the measured steps of one run."""

    def __init__(self, a):
        self.a = a
        self.e = sb.env()
        self.cluster, self.s = sb.session(self.e)
        self.osc = sb.opensearch(self.e)
        self.pids = measure.server_pids()
        if not self.pids["cass"] or not self.pids["os"]:
            raise SystemExit("bench: Cassandra or OpenSearch not found listening (scripts/testbed start)")
        self.ce = str(Path(a.build) / "casselastic")
        self.cql_bench = str(Path(a.build) / "cql_bench")
        self.out = Path(a.out)
        self.work = self.out / "work"
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.files = []
        self.results = self._csv("results.csv", RESULT_FIELDS)
        self.rss = self._csv("rss.csv", ["scenario", "rows", "width", "step", "repeat", "t_s", "rss_mb"])
        self.latency = self._csv("latency.csv", ["direction", "seq", "latency_s"])
        self.nfolder = 0

    def _csv(self, name, header):
        f = open(self.out / name, "w", newline="")
        self.files.append(f)
        w = csv.writer(f)
        w.writerow(header)
        return w

    def folder(self, name):
        """A fresh state folder under the work folder."""
        self.nfolder += 1
        d = self.work / ("%s_%d" % (name, self.nfolder))
        d.mkdir()
        return d

    def record(self, scenario, ds, step_name, rep, st, note=""):
        """One line of results.csv (and the step's RSS samples), echoed on stdout."""
        n, w = ds
        cpu = st.cpu
        fmt = lambda v: "" if v is None else "%.4f" % v  # noqa: E731
        self.results.writerow([scenario, n, w, step_name, rep, fmt(st.wall_s), fmt(st.client_cpu_s),
                               fmt(st.peak_rss_mb), fmt(cpu.get("cass")), fmt(cpu.get("os")), fmt(cpu.get("es")),
                               measure.NCORES, note])
        for t, mb in st.rss:
            self.rss.writerow([scenario, n, w, step_name, rep, "%.2f" % t, "%.1f" % mb])
        own = "" if st.client_cpu_s is None else " own %.2f CPU-s, peak RSS %.1f MB," % (st.client_cpu_s,
                                                                                      st.peak_rss_mb)
        print("%-8s %7d x %4d B  %-13s #%d %7.2f s,%s Cassandra %.2f, OpenSearch %.2f CPU-s %s" % (
            scenario, n, w, step_name, rep, st.wall_s, own, cpu.get("cass", 0), cpu.get("os", 0), note),
            flush=True)

    def step(self):
        return measure.Step(self.pids)

    def once(self, folder, syncs):
        cfg = sb.write_cfg(folder, self.e, syncs)
        return self.step().run([self.ce, "once", "-c", cfg])

    def count_rows(self, table, slices=64):
        """count(*) by token slices: one count over a million rows outlasts Cassandra's range
        read timeout (10 s) on the 2-core bed."""
        lo, step, total = -2 ** 63, 2 ** 64 // slices, 0
        q = self.s.prepare("SELECT count(*) FROM %s.%s WHERE token(id) >= ? AND token(id) <= ?" % (KS, table))
        for k in range(slices):
            hi = 2 ** 63 - 1 if k == slices - 1 else lo + step - 1
            total += self.s.execute(q, (lo, hi), timeout=600).one()[0]
            lo = hi + 1
        return total

    def fresh_table(self, table):
        self.s.execute("DROP TABLE IF EXISTS %s.%s" % (KS, table), timeout=300)
        sb.create_table(self.s, KS, table)

    def close(self):
        self.cluster.shutdown()
        for f in self.files:
            f.close()


# ------------------------------------------------------------------ data

def table_of(ds, bucketed=False):
    return "r%d_w%d%s" % (ds[0], ds[1], "_b" if bucketed else "")


def prepare(su, ds, now_ms, bucketed):
    """The data set's table (and its bucketed twin) filled once by cql_bench rows; a marker
    row in bench_suite.prepared keeps it for later runs. Returns the versions' now_ms."""
    su.s.execute("CREATE TABLE IF NOT EXISTS %s.prepared (name text PRIMARY KEY, rows bigint, now_ms bigint)" % KS)
    for b in ((False, True) if bucketed else (False,)):
        table = table_of(ds, b)
        got = su.s.execute("SELECT rows, now_ms FROM %s.prepared WHERE name = %%s" % KS, (table,)).one()
        if got and got.rows == ds[0]:
            print("data     %s already prepared" % table, flush=True)
            now_ms = got.now_ms
            continue
        su.s.execute("DROP TABLE IF EXISTS %s.%s" % (KS, table), timeout=300)
        sb.create_table(su.s, KS, table, bucketed=b)
        argv = [su.cql_bench, "--now", now_ms] + (["--bucketed"] if b else []) + [
            "rows", KS, table, ds[0], 1024, ds[1]]
        su.record("generate", ds, "bucketed" if b else "table", 0, su.step().run(argv))
        su.s.execute("INSERT INTO %s.prepared (name, rows, now_ms) VALUES (%%s, %%s, %%s)" % KS,
                     (table, ds[0], now_ms))
    return now_ms


# ------------------------------------------------------------------ C->E

def c2e_round(su, ds, rep):
    """casselastic's initial load, then the raw load of its documents, the bare SELECT * and
    the Python way, back to back."""
    n = ds[0]
    idx, raw_idx, py_idx = P + "c2e", P + "raw", P + "py"
    su.osc.indices.delete(index=idx, ignore=[404])
    st = su.once(su.folder("c2e"), [sb.sdef("c2e", table_of(ds), idx, ks=KS, read_mode="full_scan",
                                            direction="to_es")])
    su.record("c2e", ds, "casselastic", rep, st)
    assert su.osc.count(index=idx)["count"] == n
    if rep == 0:
        su.raw_files = sb.raw_prepare(su.osc, idx, raw_idx, su.folder("raw"))
    su.osc.indices.delete(index=raw_idx, ignore=[404])
    with su.step() as st:
        # the raw client creates its index too (with the mapping and the bulk-load settings),
        # as casselastic's step does: 0.06-0.13 OpenSearch CPU-s, 2 % of a 200k-row load
        sb.raw_create(su.osc, idx, raw_idx)
        bulk_s, _ = sb.raw_load(su.osc, raw_idx, su.raw_files, su.e["CE_OPENSEARCH_URL"], su.folder("curl"))
    assert su.osc.count(index=raw_idx)["count"] == n
    su.record("c2e", ds, "raw_curl", rep, st, note="bulk_s=%.3f" % bulk_s)
    su.osc.indices.delete(index=raw_idx, ignore=[404])
    st = su.step().run([su.cql_bench, "--host", su.e["CE_CASSANDRA_HOST"], "decode", KS, table_of(ds), 5000])
    su.record("c2e", ds, "bare_select", rep, st)
    st = su.step().run(sb.py_c2e_argv(su.e, KS, table_of(ds), py_idx, tuned=True))
    su.record("c2e", ds, "python", rep, st)
    su.osc.indices.delete(index=py_idx, ignore=[404])


# ------------------------------------------------------------------ E->C

def bare_scroll(su, idx, size=5000):
    """Every document of idx read by a plain scroll in _doc order (what the server must do to
    hand the documents out at all). Returns the number read."""
    r = su.osc.search(index=idx, scroll="2m", body={"size": size, "sort": ["_doc"]})
    n, sid = 0, r["_scroll_id"]
    while r["hits"]["hits"]:
        n += len(r["hits"]["hits"])
        r = su.osc.scroll(scroll_id=sid, scroll="2m")
        sid = r["_scroll_id"]
    su.osc.clear_scroll(scroll_id=sid)
    return n


def e2c_round(su, ds, rep, now_ms):
    """casselastic E->C into an empty table, then a bare scroll, our pipelined INSERTs of the
    same rows and the Python way, back to back (the index is c2e's)."""
    n, idx = ds[0], P + "c2e"
    su.fresh_table("back")
    st = su.once(su.folder("e2c"), [sb.sdef("e2c", "back", idx, ks=KS, direction="to_cassandra",
                                            ignore_same_source=False, alter_table=False)])
    su.record("e2c", ds, "casselastic", rep, st)
    got = su.count_rows("back")
    assert got == n, got
    with su.step() as st:
        got = bare_scroll(su, idx)
    assert got == n, got
    su.record("e2c", ds, "bare_scroll", rep, st)
    su.fresh_table("back")
    st = su.step().run([su.cql_bench, "--now", now_ms, "rows", KS, "back", n, 1024, ds[1]])
    su.record("e2c", ds, "cql_insert", rep, st)
    su.fresh_table("back")
    st = su.step().run(sb.py_e2c_argv(su.e, KS, "back", idx))
    su.record("e2c", ds, "python", rep, st)


# ------------------------------------------------------------------ incremental

def change_rows(su, ds, mode, first, k):
    """k rows (ids first..first+k-1) changed now with the Python driver; in the bucketed
    table the new version lands in the bucket of now, as an application would write it."""
    t = int(time.time() * 1000)
    if mode == "buckets":
        upd = su.s.prepare("INSERT INTO %s.%s (bucket, id, version, name) VALUES (?,?,?,?)"
                           % (KS, table_of(ds, True)))
        args = [(sb.bucket_of(t + i), first + i, t + i, "changed %d" % i) for i in range(k)]
    else:
        upd = su.s.prepare("UPDATE %s.%s SET version = ?, name = ? WHERE id = ?" % (KS, table_of(ds)))
        args = [(t + i, "changed %d" % i, first + i) for i in range(k)]
    from cassandra.concurrent import execute_concurrent_with_args
    execute_concurrent_with_args(su.s, upd, args, concurrency=100, raise_on_first_error=True)


def incremental(su, ds, mode):
    """One initial load with read_mode `mode`, then per repeat: 0.1 % of the rows changed,
    the safety lag waited, one measured incremental pass."""
    idx = P + "incr_" + mode
    su.osc.indices.delete(index=idx, ignore=[404])
    extra = {"read_mode": mode, "direction": "to_es", "overlap_ms": 0}
    if mode == "buckets":
        extra["bucket"] = {"column": "bucket", "format": "%Y%m%d%H", "seconds": sb.BUCKET_SECONDS}
    folder = su.folder("incr_" + mode)
    syncs = [sb.sdef("incr", table_of(ds, mode == "buckets"), idx, ks=KS, **extra)]
    su.record("incr_" + mode, ds, "initial", 0, su.once(folder, syncs))
    k = max(1, ds[0] // 1000)
    for rep in range(su.a.repeat):
        change_rows(su, ds, mode, rep * k, k)
        time.sleep(0.5)  # the writes settled (the default safety lag is 0)
        su.record("incr_" + mode, ds, "incremental", rep, su.once(folder, syncs), note="changed=%d" % k)
    su.osc.indices.delete(index=idx, ignore=[404])


# ------------------------------------------------------------------ latency

class LatencyProbe:
    """Changes written each way while `casselastic run` syncs both ways, and when each became
    visible on the other side: C->E in a search of the index (what a reader sees after the
    refresh), E->C in a read of the row."""

    def __init__(self, su, table, idx, nrows):
        self.su, self.table, self.idx, self.half = su, table, idx, nrows // 2
        self.pending = {"c2e": {}, "e2c": {}}  # id -> (write time, version)
        self.done = {"c2e": [], "e2c": []}
        self.upd = su.s.prepare("UPDATE %s.%s SET version = ?, updated = ?, name = ? WHERE id = ?" % (KS, table))

    def write(self, i):
        """Change i each way: row i in Cassandra, document half+i in the index."""
        import datetime
        t = time.time()
        v = int(t * 1000)
        self.su.s.execute(self.upd, (v, datetime.datetime.fromtimestamp(t, datetime.timezone.utc), "lat c %d" % i, i))
        self.pending["c2e"][i] = (t, v)
        t = time.time()
        v = int(t * 1000)
        doc = {"id": self.half + i, "version": v, "name": "lat e %d" % i,
               "updated": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (v % 1000)}
        self.su.osc.index(index=self.idx, id=str(self.half + i), body=doc)
        self.pending["e2c"][self.half + i] = (t, v)

    def _seen(self, direction, ident, version):
        t, v = self.pending[direction].get(ident, (None, None))
        if t is not None and version is not None and version >= v:
            self.done[direction].append(time.time() - t)
            del self.pending[direction][ident]

    def poll(self):
        if self.pending["c2e"]:
            ids = [str(i) for i in self.pending["c2e"]]
            r = self.su.osc.search(index=self.idx, body={"size": len(ids), "query": {"ids": {"values": ids}},
                                                         "_source": ["version"]})
            for h in r["hits"]["hits"]:
                self._seen("c2e", int(h["_id"]), h["_source"].get("version"))
        if self.pending["e2c"]:
            ids = ",".join(str(i) for i in self.pending["e2c"])
            for row in self.su.s.execute("SELECT id, version FROM %s.%s WHERE id IN (%s)" % (KS, self.table, ids)):
                self._seen("e2c", row.id, row.version)

    def drive(self, changes, gap_s=0.1, tail_s=30.0):
        """Writes `changes` changes each way, one every gap_s, polling in between; then polls
        until every change is visible or tail_s passed."""
        for i in range(changes):
            t_next = time.time() + gap_s
            self.write(i)
            while time.time() < t_next:
                self.poll()
                time.sleep(0.02)
        t_end = time.time() + tail_s
        while (self.pending["c2e"] or self.pending["e2c"]) and time.time() < t_end:
            self.poll()
            time.sleep(0.02)


def latency(su, changes):
    """`casselastic run` (period 1 s, both directions, read_mode filter) over a small table;
    after its initial pass, `changes` changes each way; change -> visible per change."""
    nrows = max(4 * changes, 1000)
    ds = (nrows, 150)
    table, idx = "lat", P + "lat"
    su.s.execute("DROP TABLE IF EXISTS %s.%s" % (KS, table), timeout=300)
    sb.create_table(su.s, KS, table)
    su.osc.indices.delete(index=idx, ignore=[404])
    su.step().run([su.cql_bench, "rows", KS, table, nrows, 256, 150])
    folder = su.folder("latency")
    cfg = sb.write_cfg(folder, su.e, [sb.sdef("lat", table, idx, ks=KS, read_mode="filter")], period=1)
    probe = LatencyProbe(su, table, idx, nrows)

    def drive(pid):
        t_end = time.time() + 300
        while time.time() < t_end:
            try:
                if su.osc.count(index=idx)["count"] >= nrows:
                    break
            except Exception:
                pass
            time.sleep(0.2)
        time.sleep(1.5)  # let the daemon settle into its period
        probe.drive(changes)

    st = su.step().run([su.ce, "run", "-c", cfg], stop_after=drive, check=False)
    for direction in ("c2e", "e2c"):
        for k, lat in enumerate(sorted(probe.done[direction])):
            su.latency.writerow([direction, k, "%.4f" % lat])
    missing = {d: len(p) for d, p in probe.pending.items()}
    su.record("latency", ds, "casselastic_run", 0, st,
              note="changes=%d missing_c2e=%d missing_e2c=%d" % (changes, missing["c2e"], missing["e2c"]))
    su.osc.indices.delete(index=idx, ignore=[404])


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="200000 1000000", help="row counts (space separated)")
    ap.add_argument("--widths", default="150 1500", help="document widths in bytes (space separated)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--changes", type=int, default=200, help="changes each way in the latency scenario")
    ap.add_argument("--modes", default="filter buckets full_scan all", help="read modes of the incremental passes")
    ap.add_argument("--only", default="c2e e2c incr latency", help="scenarios to run")
    ap.add_argument("--build", default=str(REPO / "build" / "ci"))
    ap.add_argument("--out", default=str(REPO / "build" / "bench"))
    ap.add_argument("--keep", action="store_true", help="keep the bench_suite keyspace and indexes")
    a = ap.parse_args()
    rows = [int(x) for x in a.rows.replace(",", " ").split()]
    widths = [int(x) for x in a.widths.replace(",", " ").split()]
    only = set(a.only.replace(",", " ").split())
    Path(a.out).mkdir(parents=True, exist_ok=True)
    su = Suite(a)
    t0 = time.time()
    su.s.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', "
                 "'replication_factor': 1}" % KS)
    now_ms = int(time.time() * 1000) - 120000
    try:
        for n in rows:
            for w in widths:
                run_data_set(su, (n, w), now_ms, only, incr=(w == min(widths)))
        if "latency" in only:
            latency(su, a.changes)
    finally:
        cleanup(su, a.keep)
    figures = summary.write(Path(a.out))
    summary.print_table(figures)
    try:
        import plots  # matplotlib: `make bench` installs it into the venv
    except ImportError as ex:
        print("plot     skipped (%s): bench/suite/plots.py %s draws them later" % (ex, a.out))
    else:
        for png in plots.draw(Path(a.out)):
            print("plot     %s" % png)
    print("bench: done in %.0f s; results in %s" % (time.time() - t0, a.out))


def run_data_set(su, ds, now_ms, only, incr):
    """Every scenario of one data set (rows, width), each repeated."""
    now_ms = prepare(su, ds, now_ms, bucketed=incr and "incr" in only and "buckets" in su.a.modes)
    for rep in range(su.a.repeat):
        if "c2e" in only or "e2c" in only:
            c2e_round(su, ds, rep)
        if "e2c" in only:
            e2c_round(su, ds, rep, now_ms)
    if incr and "incr" in only:
        for mode in su.a.modes.replace(",", " ").split():
            incremental(su, ds, mode)


def cleanup(su, keep):
    """Drops the indexes (and, unless keep, the keyspace) this run made."""
    for idx in ("c2e", "raw", "py", "lat", "incr_filter", "incr_buckets", "incr_full_scan", "incr_all"):
        su.osc.indices.delete(index=P + idx, ignore=[404])
    if not keep:
        su.s.execute("DROP KEYSPACE IF EXISTS %s" % KS, timeout=300)
    su.close()
    shutil.rmtree(su.work, ignore_errors=True)


if __name__ == "__main__":
    main()
