#!/usr/bin/env python3
"""Sync engine benchmark (run by hand, never in CI): see bench/sync/README.md.

  build/venv/bin/python bench/sync/bench.py [--rows 200000] [--build build/ci] [--only c2e,raw,...]

Measures on the test bed (Cassandra :9042, OpenSearch :9200):
  c2e      casselastic initial load Cassandra -> OpenSearch (full scan): rows/s, CPU s per
           million rows, peak RSS
  raw      the same documents bulk-loaded by two curl streams (the server's limit)
  pyc2e    the Python way: cassandra-driver paging + opensearch-py helpers.parallel_bulk
           (tuned: 2 threads, 5000 per chunk)
  pydef    the same with parallel_bulk's defaults (4 threads, 500 per chunk)
  e2c      casselastic OpenSearch -> Cassandra into an empty table
  pye2c    the Python way: helpers.scan + execute_concurrent_with_args
  incr     incremental pass with 100 changed rows in the big table: read_mode buckets vs filter
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KS = "bench_sync"


def env():
    out = subprocess.run([str(REPO / "scripts" / "testbed"), "env"], capture_output=True, text=True).stdout
    e = {}
    for line in out.splitlines():
        if line.startswith("export "):
            k, _, v = line[7:].partition("=")
            e[k] = v.strip("'\"")
    e.setdefault("CE_CASSANDRA_HOST", "127.0.0.1")
    e.setdefault("CE_CASSANDRA_PORT", "9042")
    e.setdefault("CE_OPENSEARCH_URL", "http://127.0.0.1:9200")
    return e


def session(e):
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import RoundRobinPolicy
    prof = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=120)
    c = Cluster([e["CE_CASSANDRA_HOST"]], port=int(e["CE_CASSANDRA_PORT"]), protocol_version=5,
                execution_profiles={EXEC_PROFILE_DEFAULT: prof})
    return c, c.connect()


def opensearch(e):
    from opensearchpy import OpenSearch
    return OpenSearch([e["CE_OPENSEARCH_URL"]], timeout=300)


BUCKET_SECONDS = 3600


def bucket_of(ms):
    return time.strftime("%Y%m%d%H", time.gmtime(ms // 1000 // BUCKET_SECONDS * BUCKET_SECONDS))


COLUMNS = "id int, version bigint, name text, qty int, price double, tags set<text>, updated timestamp, source text"


def create_table(s, ks, table, bucketed=False, if_not_exists=False):
    """The benchmark table's shape (bucketed: under an hourly `bucket` partition key)."""
    s.execute("CREATE TABLE %s%s.%s (%s%s, PRIMARY KEY (%s))" % (
        "IF NOT EXISTS " if if_not_exists else "", ks, table, "bucket text, " if bucketed else "", COLUMNS,
        "bucket, id" if bucketed else "id"), timeout=120)


def load(s, n, now):
    """Table big (id PK) and big_b (bucketed) with the same n rows, versions over 10 days."""
    from cassandra.concurrent import execute_concurrent_with_args
    s.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', "
              "'replication_factor': 1}" % KS)
    have = 0
    try:
        have = s.execute("SELECT count(*) FROM %s.big" % KS, timeout=300).one()[0]
    except Exception:
        pass
    if have == n:
        print("data: %s.big already holds %d rows" % (KS, n))
        return
    s.execute("DROP TABLE IF EXISTS %s.big" % KS, timeout=120)
    s.execute("DROP TABLE IF EXISTS %s.big_b" % KS, timeout=120)
    create_table(s, KS, "big")
    create_table(s, KS, "big_b", bucketed=True)
    ins = s.prepare("INSERT INTO %s.big (id, version, name, qty, price, tags, updated) VALUES (?,?,?,?,?,?,?)" % KS)
    insb = s.prepare("INSERT INTO %s.big_b (bucket, id, version, name, qty, price, tags, updated) "
                     "VALUES (?,?,?,?,?,?,?,?)" % KS)
    span = 10 * 86400 * 1000
    t0 = time.time()
    for k in range(0, n, 20000):
        rows = []
        for i in range(k, min(n, k + 20000)):
            v = now - span + (i * 7919) % span
            rows.append((i, v, "item number %d with a name" % i, i % 1000, i / 7.0, {"t%d" % (i % 10), "all"}, v))
        execute_concurrent_with_args(s, ins, rows, concurrency=200, raise_on_first_error=True)
        execute_concurrent_with_args(s, insb, [(bucket_of(r[1]),) + r for r in rows], concurrency=200,
                                     raise_on_first_error=True)
    print("data: loaded %d rows into %s.big and %s.big_b in %.0f s" % (n, KS, KS, time.time() - t0))


def write_cfg(folder, e, syncs, **top):
    """folder/cfg.json for the test bed with these syncs (top: more top-level keys, e.g. period)."""
    cfg = {"cassandra": {"url": [e["CE_CASSANDRA_HOST"]], "port": int(e["CE_CASSANDRA_PORT"]),
                         "read_consistency": "one", "write_consistency": "one"},
           "elasticsearch": {"url": [e["CE_OPENSEARCH_URL"]]}, "syncs": syncs, "log_level": "info"}
    cfg.update(top)
    p = Path(folder) / "cfg.json"
    p.write_text(json.dumps(cfg))
    return p


def run_measured(argv):
    """Wall seconds, CPU seconds (user+sys) and peak RSS (MB) of one child process, measured
    by /usr/bin/time (a small parent: ru_maxrss of a child forked from this big Python
    process would count the pages it had before exec)."""
    t0 = time.time()
    fd, tf = tempfile.mkstemp()
    os.close(fd)
    p = subprocess.run(["/usr/bin/time", "-o", tf, "-f", "%U %S %M"] + list(argv),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall = time.time() - t0
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        sys.stdout.write(out[-4000:])
        raise SystemExit("command failed: %s" % " ".join(map(str, argv)))
    u, s_, m = Path(tf).read_text().split()[-3:]
    os.unlink(tf)
    return wall, float(u) + float(s_), int(m) / 1024.0, out


def sdef(name, table, index, ks=None, **kw):
    d = {"name": name, "id_col": "id", "version_col": "version", "date_col": "updated",
         "cassandra": {"keyspace": ks or KS, "table": table}, "elasticsearch": {"index": index}}
    d.update(kw)
    return d


def raw_create(osc, src_idx, raw_idx):
    """A fresh index raw_idx with src_idx's mapping and the bulk-load settings casselastic uses
    during an initial load (no refresh, no replica)."""
    osc.indices.delete(index=raw_idx, ignore=[404])
    mapping = osc.indices.get_mapping(index=src_idx)[src_idx]
    osc.indices.create(index=raw_idx, body={"mappings": mapping["mappings"],
                                            "settings": {"refresh_interval": "-1", "number_of_replicas": 0}})


def raw_prepare(osc, src_idx, raw_idx, work, per_body=5000):
    """The documents of src_idx as NDJSON _bulk bodies of per_body documents for raw_idx
    (external versions, as casselastic sends them), written under work; not timed.
    Returns the file paths."""
    from opensearchpy import helpers
    files, chunk = [], []

    def flush():
        f = Path(work) / ("bulk%04d.ndjson" % len(files))
        f.write_text("\n".join(chunk) + "\n")
        files.append(f)
        chunk.clear()

    for h in helpers.scan(osc, index=src_idx, size=5000, preserve_order=False, version=True):
        chunk.append(json.dumps({"index": {"_index": raw_idx, "_id": h["_id"], "version": h["_version"],
                                           "version_type": "external"}}))
        chunk.append(json.dumps(h["_source"], separators=(",", ":")))
        if len(chunk) >= 2 * per_body:
            flush()
    if chunk:
        flush()
    return files


def raw_load(osc, raw_idx, files, url, work, streams=2):
    """Posts the bodies into raw_idx (made by raw_create) with `streams` parallel curl loops,
    then refreshes it. Returns (seconds to the last bulk answer, seconds to the end of the final refresh)."""
    scripts = []
    for k in range(streams):
        sh = Path(work) / ("curl%d.sh" % k)
        sh.write_text("set -e\n" + "".join(
            "curl -sf -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary @%s %s/_bulk\n"
            % (f, url) for f in files[k::streams]))
        scripts.append(sh)
    t0 = time.time()
    procs = [subprocess.Popen(["bash", str(sh)]) for sh in scripts]
    assert all(p.wait() == 0 for p in procs)
    wall = time.time() - t0
    osc.indices.refresh(index=raw_idx)
    return wall, time.time() - t0


# The Python way (PyCassElastic-like), C->E: cassandra-driver paging (5000) +
# opensearch-py helpers.parallel_bulk (tuned: 2 threads, 5000 a chunk; else its defaults).
PY_C2E = r'''
import sys, time, json
from cassandra.cluster import Cluster
from opensearchpy import OpenSearch, helpers
ks, table, host, port, url, idx, tuned = sys.argv[1:8]
c = Cluster([host], port=int(port), protocol_version=5); s = c.connect()
s.default_fetch_size = 5000
osc = OpenSearch([url], timeout=300)
kw = {"thread_count": 2, "chunk_size": 5000} if tuned == "1" else {}
osc.indices.delete(index=idx, ignore=[404])
osc.indices.create(index=idx, body={"settings": {"refresh_interval": "-1", "number_of_replicas": 0}})
def actions():
    for r in s.execute("SELECT id, version, name, qty, price, tags, updated, source FROM %s.%s" % (ks, table)):
        d = {"id": r.id, "version": r.version, "name": r.name, "qty": r.qty, "price": r.price,
             "tags": sorted(r.tags or []), "updated": r.updated.isoformat() + "Z", "source": r.source or "cassandra"}
        yield {"_index": idx, "_id": str(r.id), "_version": r.version, "_version_type": "external", "_source": d}
n = 0
for ok, _ in helpers.parallel_bulk(osc, actions(), raise_on_error=True, **kw):
    n += ok
osc.indices.put_settings(index=idx, body={"index": {"refresh_interval": None}})
osc.indices.refresh(index=idx)
assert osc.count(index=idx)["count"] == n, n
c.shutdown()
'''

# The Python way, E->C: helpers.scan + execute_concurrent_with_args (256 in flight, USING TIMESTAMP).
PY_E2C = r'''
import sys, datetime
from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args
from opensearchpy import OpenSearch, helpers
ks, table, host, port, url, idx = sys.argv[1:7]
c = Cluster([host], port=int(port), protocol_version=5); s = c.connect()
osc = OpenSearch([url], timeout=300)
ins = s.prepare("INSERT INTO %s.%s (id, version, name, qty, price, tags, updated, source) "
                "VALUES (?,?,?,?,?,?,?,?) USING TIMESTAMP ?" % (ks, table))
batch = []
def flush():
    execute_concurrent_with_args(s, ins, batch, concurrency=256, raise_on_first_error=True)
    batch.clear()
for h in helpers.scan(osc, index=idx, size=5000, preserve_order=False):
    d = h["_source"]
    ts = datetime.datetime.fromisoformat(d["updated"].replace("Z", "+00:00"))
    batch.append((d["id"], d["version"], d["name"], d["qty"], d["price"], set(d["tags"] or []), ts,
                  d.get("source") or "elasticsearch", d["version"] * 1000))
    if len(batch) >= 5000:
        flush()
flush()
c.shutdown()
'''


def py_c2e_argv(e, ks, table, idx, tuned=True):
    """Command line of the Python way C->E: ks.table into a fresh index idx (refreshed at the end)."""
    return [sys.executable, "-c", PY_C2E, ks, table, e["CE_CASSANDRA_HOST"], e["CE_CASSANDRA_PORT"],
            e["CE_OPENSEARCH_URL"], idx, "1" if tuned else "0"]


def py_e2c_argv(e, ks, table, idx):
    """Command line of the Python way E->C: every document of idx into the existing table ks.table."""
    return [sys.executable, "-c", PY_E2C, ks, table, e["CE_CASSANDRA_HOST"], e["CE_CASSANDRA_PORT"],
            e["CE_OPENSEARCH_URL"], idx]


def report(results, key, label, n, wall, cpu=None, rss=None):
    results[key] = {"seconds": wall, "rows_per_s": n / wall, "cpu_s": cpu, "rss_mb": rss}
    extra = ""
    if cpu is not None:
        extra = ", %.2f CPU-s per million rows, peak RSS %.1f MB" % (cpu / n * 1e6, rss)
    print("%-8s %-55s %7.1f s  %9.0f rows/s%s" % (key, label, wall, n / wall, extra), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--build", default=str(REPO / "build" / "ci"))
    ap.add_argument("--only", default="c2e,raw,pyc2e,pydef,e2c,pye2c,incr")
    a = ap.parse_args()
    only = set(a.only.split(","))
    ce = str(Path(a.build) / "casselastic")
    e = env()
    cluster, s = session(e)
    osc = opensearch(e)
    n = a.rows
    now = int(time.time() * 1000) - 120000
    load(s, n, now)
    work = Path(tempfile.mkdtemp(prefix="bench_sync_"))
    results = {}
    idx = "bench_sync_c2e"

    if "c2e" in only or "e2c" in only or "pye2c" in only or "raw" in only:
        osc.indices.delete(index=idx, ignore=[404])
        (work / "c2e").mkdir()
        cfg = write_cfg(work / "c2e", e, [sdef("c2e", "big", idx, read_mode="full_scan", direction="to_es")])
        wall, cpu, rss, out = run_measured([ce, "once", "-c", str(cfg)])
        report(results, "c2e", "casselastic Cassandra -> OpenSearch (initial full scan)", n, wall, cpu, rss)

    if "raw" in only:
        raw_idx = "bench_sync_raw"
        raw_create(osc, idx, raw_idx)
        files = raw_prepare(osc, idx, raw_idx, work)
        wall, wall_refreshed = raw_load(osc, raw_idx, files, e["CE_OPENSEARCH_URL"], work)
        assert osc.count(index=raw_idx)["count"] == n
        report(results, "raw", "two curl streams, same documents (raw limit)", n, wall)
        # casselastic's figure includes index creation and the final refresh (documents
        # searchable when it exits): the same raw load with its refresh, for comparison
        report(results, "raw_refresh", "the same, final refresh included", n, wall_refreshed)
        osc.indices.delete(index=raw_idx, ignore=[404])

    for key in ("pyc2e", "pydef"):
        if key not in only:
            continue
        wall, cpu, rss, out = run_measured(py_c2e_argv(e, KS, "big", "bench_sync_py", key == "pyc2e"))
        report(results, key, "Python: cassandra-driver + helpers.parallel_bulk" +
               (" (2 threads, 5000 a chunk)" if key == "pyc2e" else " (defaults: 4 threads, 500 a chunk)"),
               n, wall, cpu, rss)
        osc.indices.delete(index="bench_sync_py", ignore=[404])

    if "e2c" in only:
        s.execute("DROP TABLE IF EXISTS %s.back" % KS, timeout=120)
        create_table(s, KS, "back")
        (work / "e2c").mkdir()
        cfg = write_cfg(work / "e2c", e, [sdef("e2c", "back", idx, direction="to_cassandra",
                                               ignore_same_source=False, alter_table=False)])
        wall, cpu, rss, out = run_measured([ce, "once", "-c", str(cfg)])
        got = s.execute("SELECT count(*) FROM %s.back" % KS, timeout=300).one()[0]
        assert got == n, got
        report(results, "e2c", "casselastic OpenSearch -> Cassandra", n, wall, cpu, rss)

    if "pye2c" in only:
        if "e2c" in only:
            s.execute("TRUNCATE %s.back" % KS, timeout=120)
        else:
            create_table(s, KS, "back", if_not_exists=True)
        wall, cpu, rss, out = run_measured(py_e2c_argv(e, KS, "back", idx))
        report(results, "pye2c", "Python: helpers.scan + execute_concurrent", n, wall, cpu, rss)

    if "incr" in only:
        for mode, table in (("buckets", "big_b"), ("filter", "big")):
            ix = "bench_sync_incr_" + mode
            osc.indices.delete(index=ix, ignore=[404])
            d = work / ("incr_" + mode)
            d.mkdir()
            extra = {"read_mode": mode, "direction": "to_es", "overlap_ms": 0}
            if mode == "buckets":
                extra["bucket"] = {"column": "bucket", "format": "%Y%m%d%H", "seconds": BUCKET_SECONDS}
            cfg = write_cfg(d, e, [sdef("incr", table, ix, **extra)])
            w0, c0, r0, _ = run_measured([ce, "once", "-c", str(cfg)])          # initial load
            # 100 changed rows, stamped now
            t = int(time.time() * 1000)
            if mode == "buckets":
                upd = s.prepare("INSERT INTO %s.big_b (bucket, id, version, name) VALUES (?,?,?,?)" % KS)
                for i in range(100):
                    s.execute(upd, (bucket_of(t + i), i, t + i, "changed %d" % i))
            else:
                upd = s.prepare("UPDATE %s.big SET version = ?, name = ? WHERE id = ?" % KS)
                for i in range(100):
                    s.execute(upd, (t + i, "changed %d" % i, i))
            time.sleep(2.5)                                                 # the safety lag
            wall, cpu, rss, out = run_measured([ce, "once", "-c", str(cfg)])
            read = [ln for ln in out.splitlines() if "dir=to_es" in ln and "pass done" in ln]
            print("incr     %-8s initial %.1f s; incremental pass with 100 changes: %.2f s, %.2f CPU-s, "
                  "RSS %.1f MB  [%s]" % (mode, w0, wall, cpu, rss, read[-1].split("read=")[1].split()[0]
                                          if read else "?"), flush=True)
            results["incr_" + mode] = {"initial_s": w0, "incremental_s": wall, "cpu_s": cpu}
            osc.indices.delete(index=ix, ignore=[404])

    for key in ("raw", "raw_refresh"):
        if "c2e" in results and key in results:
            print("ratio    casselastic / %s = %.2f" % (key, results["c2e"]["rows_per_s"] / results[key]["rows_per_s"]))
    for key in ("pyc2e", "pydef"):
        if "c2e" in results and key in results:
            print("ratio    casselastic / Python C->E (%s) = %.2f" % (key, results["c2e"]["rows_per_s"] /
                                                                   results[key]["rows_per_s"]))
    if "e2c" in results and "pye2c" in results:
        print("ratio    casselastic / Python E->C = %.2f" % (results["e2c"]["rows_per_s"] / results["pye2c"]["rows_per_s"]))
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print("results: %s" % (work / "results.json"))
    osc.indices.delete(index=idx, ignore=[404])
    cluster.shutdown()
    shutil.rmtree(work, ignore_errors=True) if os.environ.get("BENCH_CLEAN") else None


if __name__ == "__main__":
    main()
