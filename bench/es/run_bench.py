#!/usr/bin/env python3
"""Bulk-indexing benchmark of the C es client against plain curl loaders and the Python
client's helpers.parallel_bulk, in one run, on the same documents (see README.md).

Each loader indexes the same N small documents with external versions into a fresh index
(1 shard, 0 replicas). Measured per loader: wall time -> docs/s, client CPU seconds (the
loader processes' rusage), server CPU seconds (utime+stime of the server JVM from
/proc/<pid>/stat before/after). Every run is checked: the index must hold N documents.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")


def doc(i):
    # Keep in sync with write_doc() in bench_es_bulk.c.
    return {"id": i, "version": 1000 + i, "name": "doc-%d" % i, "value": i * 3, "tag": "t%d" % (i % 100)}


def http(method, url, body=None):
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def server_pid(url):
    port = url.rsplit(":", 1)[1].split("/")[0]
    out = subprocess.run(["ss", "-ltnpH", "sport = :%s" % port], capture_output=True, text=True).stdout
    for part in out.split("pid=")[1:]:
        return int(part.split(",")[0])
    raise SystemExit("cannot find the server process listening on port %s (use --server-pid)" % port)


def server_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def fresh_index(url, index):
    http("DELETE", "%s/%s" % (url, index))
    st, body = http("PUT", "%s/%s" % (url, index),
                    json.dumps({"settings": {"number_of_shards": 1, "number_of_replicas": 0}}).encode())
    assert st == 200, body


def doc_count(url, index):
    http("POST", "%s/%s/_refresh" % (url, index))
    st, body = http("GET", "%s/%s/_count" % (url, index))
    return body["count"]


def make_curl_files(tmp, index, n, per):
    files = []
    for start in range(0, n, per):
        p = tmp / ("bulk_%06d.ndjson" % start)
        with p.open("w") as f:
            for i in range(start, min(n, start + per)):
                f.write(json.dumps({"index": {"_index": index, "_id": str(i), "version": 1000 + i,
                                              "version_type": "external"}}, separators=(",", ":")))
                f.write("\n")
                f.write(json.dumps(doc(i), separators=(",", ":")))
                f.write("\n")
        files.append(p)
    return files


def run_curl(url, files, streams):
    def stream(k):
        for p in files[k::streams]:
            subprocess.run(["curl", "-s", "-o", "/dev/null", "-XPOST", "-H", "Content-Type: application/x-ndjson",
                            "--data-binary", "@%s" % p, "%s/_bulk" % url], check=True)
    ts = [threading.Thread(target=stream, args=(k,)) for k in range(streams)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


PY_LOADER = r"""
import sys
from opensearchpy import OpenSearch, helpers
url, index, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def doc(i):
    return {"id": i, "version": 1000 + i, "name": "doc-%d" % i, "value": i * 3, "tag": "t%d" % (i % 100)}
c = OpenSearch([url], timeout=120)
acts = ({"_op_type": "index", "_index": index, "_id": str(i), "version": 1000 + i,
         "version_type": "external", "_source": doc(i)} for i in range(n))
ok = sum(1 for s, _ in helpers.parallel_bulk(c, acts, thread_count=2, chunk_size=5000,
                                              max_chunk_bytes=100 << 20) if s)
assert ok == n, ok
"""


def measure(name, url, index, pid, n, fn):
    fresh_index(url, index)
    time.sleep(1)
    s0, c0, t0 = server_cpu(pid), children_cpu(), time.monotonic()
    fn()
    t1, c1, s1 = time.monotonic(), children_cpu(), server_cpu(pid)
    got = doc_count(url, index)
    if got != n:
        raise SystemExit("%s: index holds %d documents, expected %d" % (name, got, n))
    return {"loader": name, "seconds": t1 - t0, "docs_per_s": n / (t1 - t0), "client_cpu_s": c1 - c0,
            "server_cpu_s": s1 - s0}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", default=os.environ.get("CE_OPENSEARCH_URL", "http://127.0.0.1:9200"))
    ap.add_argument("--build", default=str(REPO / "build" / "release"), help="build folder with bench_es_bulk")
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--per-request", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--server-pid", type=int)
    ap.add_argument("--python", default=str(REPO / "build" / "venv" / "bin" / "python"))
    ap.add_argument("--skip-python", action="store_true")
    a = ap.parse_args()
    pid = a.server_pid or server_pid(a.url)
    index = "bench_es_%d" % os.getpid()
    bench = Path(a.build) / "bench_es_bulk"
    if not bench.is_file():
        raise SystemExit("%s not built" % bench)
    results = []
    with tempfile.TemporaryDirectory() as td:
        files = make_curl_files(Path(td), index, a.count, a.per_request)
        loaders = [
            ("curl x2", lambda: run_curl(a.url, files, 2)),
            ("ce es client (gzip)", lambda: subprocess.run(
                [str(bench), "load", "--url", a.url, "--index", index, "--count", str(a.count),
                 "--max-docs", str(a.per_request)], check=True, stdout=subprocess.DEVNULL)),
            ("ce es client (plain)", lambda: subprocess.run(
                [str(bench), "load", "--url", a.url, "--index", index, "--count", str(a.count),
                 "--max-docs", str(a.per_request), "--no-gzip"], check=True, stdout=subprocess.DEVNULL)),
        ]
        if not a.skip_python:
            loaders.append(("python parallel_bulk", lambda: subprocess.run(
                [a.python, "-c", PY_LOADER, a.url, index, str(a.count)], check=True)))
        for r in range(a.rounds):
            for name, fn in loaders:
                res = measure(name, a.url, index, pid, a.count, fn)
                res["round"] = r + 1
                results.append(res)
                print(json.dumps(res), flush=True)
        http("DELETE", "%s/%s" % (a.url, index))
    # Summary: medians per loader, ratios against curl.
    by = {}
    for res in results:
        by.setdefault(res["loader"], []).append(res)

    def med(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    curl_rate = med([r["docs_per_s"] for r in by["curl x2"]])
    print("\n%-22s %10s %8s %12s %12s %10s" % ("loader", "docs/s", "vs curl", "client CPU", "server CPU", "cli/srv"))
    for name, rs in by.items():
        rate = med([r["docs_per_s"] for r in rs])
        cc = med([r["client_cpu_s"] for r in rs])
        sc = med([r["server_cpu_s"] for r in rs])
        print("%-22s %10.0f %7.2fx %11.2fs %11.2fs %9.1f%%" % (name, rate, rate / curl_rate, cc, sc,
                                                                100 * cc / sc if sc else 0))


if __name__ == "__main__":
    sys.exit(main())
