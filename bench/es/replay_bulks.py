#!/usr/bin/env python3
"""OpenSearch's CPU on casselastic's bulks, request by request (run by hand on the test bed).

  replay_bulks.py record  --config CFG --index IDX [--build build/ci] [--out build/bench/rec]
      runs `casselastic once` (fresh state folder, the index deleted first) through a
      recording proxy: every request line goes to OUT/requests.log, every _bulk body to
      OUT/bNNNNN.ndjson, the index's mapping to OUT/mapping.json
  replay_bulks.py replay  --config CFG --index IDX [--rounds 4] [--out build/bench/rec]
      alternates, on a re-created index (the recorded mapping, refresh -1, no replica):
        plain        the recorded bodies on /_bulk by two curl loops (the suite's raw load)
        filter_path  the same with casselastic's filter_path
        casselastic  `casselastic once` itself (fresh state folder)
      and prints OpenSearch's CPU (from /proc) for each, medians at the end.

The config's elasticsearch.url must be the OpenSearch of the bed (CE_OPENSEARCH_URL)."""
import argparse
import http.server
import itertools
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "suite"))
import measure  # noqa: E402

FILTER = "/_bulk?filter_path=errors,items.*._id,items.*.status,items.*.error"


def call(url, method="GET", body=None):
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def make_proxy(upstream, out):
    seq = itertools.count()
    log = open(out / "requests.log", "a")

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def handle_one(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else None
            bulk = "_bulk" in self.path
            log.write("%.3f %s %s %s\n" % (time.time(), self.command, self.path,
                                           len(body or b"") if bulk else (body or b"")[:300]))
            log.flush()
            if bulk and body:
                (out / ("b%05d.ndjson" % next(seq))).write_bytes(body)
            req = urllib.request.Request(upstream + self.path, data=body, method=self.command)
            for h in ("Content-Type", "Content-Encoding", "Accept-Encoding"):
                if self.headers.get(h):
                    req.add_header(h, self.headers[h])
            try:
                r = urllib.request.urlopen(req, timeout=600)
                st, data, hdr = r.status, r.read(), r.headers
            except urllib.error.HTTPError as e:
                st, data, hdr = e.code, e.read(), e.headers
            self.send_response(st)
            self.send_header("Content-Type", hdr.get("Content-Type", "application/json"))
            if hdr.get("Content-Encoding"):
                self.send_header("Content-Encoding", hdr["Content-Encoding"])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_one

    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    return S(("127.0.0.1", 0), H)


def config_with_url(cfg, url, folder):
    c = json.loads(Path(cfg).read_text())
    c["elasticsearch"]["url"] = [url]
    p = Path(folder) / "cfg.json"
    p.write_text(json.dumps(c))
    return p


def once(build, cfg):
    with tempfile.TemporaryDirectory() as st:
        p = subprocess.run([str(Path(build) / "casselastic"), "once", "--state-dir", st, "-c", str(cfg)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr[-2000:]


def record(a, url):
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    call("%s/%s" % (url, a.index), "DELETE")
    srv = make_proxy(url, out)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        once(a.build, config_with_url(a.config, "http://127.0.0.1:%d" % srv.server_address[1], tmp))
    srv.shutdown()
    st, m = call("%s/%s/_mapping" % (url, a.index))
    (out / "mapping.json").write_text(json.dumps(json.loads(m)[a.index]["mappings"]))
    print("recorded %d bulks into %s" % (len(list(out.glob("b*.ndjson"))), out))


def replay(a, url):
    out = Path(a.out)
    files = sorted(out.glob("b*.ndjson"))
    mapping = json.loads((out / "mapping.json").read_text())
    os_pids = measure.server_pids()["os"]

    def os_cpu():
        return sum(measure.proc_cpu(p) for p in os_pids)

    def fresh():
        call("%s/%s" % (url, a.index), "DELETE")
        time.sleep(1)

    def curl_load(path):
        fresh()
        st, _ = call("%s/%s" % (url, a.index), "PUT", json.dumps(
            {"mappings": mapping, "settings": {"refresh_interval": "-1", "number_of_replicas": 0}}).encode())
        assert st == 200, st
        scripts = []
        for k in range(2):
            sh = out / ("curl%d.sh" % k)
            sh.write_text("set -e\n" + "".join(
                "curl -sf -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary @%s '%s%s'\n"
                % (f, url, path) for f in files[k::2]))
            scripts.append(sh)
        c0 = os_cpu()
        ps = [subprocess.Popen(["bash", str(s)]) for s in scripts]
        assert all(p.wait() == 0 for p in ps)
        call("%s/%s/_refresh" % (url, a.index), "POST")
        return os_cpu() - c0

    def ce_load():
        fresh()
        c0 = os_cpu()
        once(a.build, a.config)
        return os_cpu() - c0

    ways = [("plain", lambda: curl_load("/_bulk")), ("filter_path", lambda: curl_load(FILTER)),
            ("casselastic", ce_load)]
    got = {k: [] for k, _ in ways}
    for r in range(a.rounds):
        for k, f in ways:
            got[k].append(f())
            print("round %d %-12s OpenSearch %.2f CPU-s" % (r, k, got[k][-1]), flush=True)
    for k, v in got.items():
        print("%-12s median %.2f CPU-s (%s)" % (k, sorted(v)[len(v) // 2], " ".join("%.2f" % x for x in v)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("record", "replay"))
    ap.add_argument("--config", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--build", default="build/ci")
    ap.add_argument("--out", default="build/bench/rec")
    ap.add_argument("--rounds", type=int, default=4)
    a = ap.parse_args()
    url = os.environ.get("CE_OPENSEARCH_URL", "http://127.0.0.1:9200")
    (record if a.what == "record" else replay)(a, url)


if __name__ == "__main__":
    sys.exit(main())
