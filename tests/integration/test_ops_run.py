"""Operations of a running daemon against the real test-bed servers (issue 15):

- during a `casselastic run` (period 1 s) with 20k rows each way, /metrics parses with the
  official prometheus_client parser, its counters equal the drivers' counts, `status --json`
  and the pass lines of the log (written as JSON lines: log_format "json"), the histogram is
  well formed, /healthz is 200 and `status` exits 0;
- /healthz turns 503 (and `status` exits 5) when OpenSearch is unreachable, 200 (and 0) when
  it is back: the sync goes through a TCP proxy here that is stopped and started (the
  shared OpenSearch is never touched);
- SIGHUP: a sync added, one removed, one changed (same engine), a broken file refused (the
  running config kept), a changed connection (a new engine); systemd's notifications
  (READY, RELOADING, STATUS, WATCHDOG, STOPPING) read from a fake $NOTIFY_SOCKET.

Data is written and checked with cassandra-driver and opensearch-py.
"""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import _skip_or_fail


def now_ms():
    return int(time.time() * 1000)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def casselastic(ce_bin, *args, timeout=60):
    return subprocess.run([str(Path(ce_bin) / "casselastic"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def write_config(path, testbed_env, es_url, syncs, **top):
    cfg = {"period": 1,
           "log_file": "casselastic.log",
           "cassandra": {"url": ["%s:%s" % (testbed_env["CE_CASSANDRA_HOST"], testbed_env["CE_CASSANDRA_PORT"])],
                         "read_consistency": "one", "write_consistency": "one"},
           "elasticsearch": {"url": [es_url]},
           "syncs": syncs}
    cfg.update(top)
    path.write_text(json.dumps(cfg, indent=2))
    return path


def sync_def(name, ks, table, index, **kw):
    d = {"name": name, "id_col": "id", "version_col": "version", "cassandra": {"keyspace": ks, "table": table},
         "elasticsearch": {"index": index}}
    d.update(kw)
    return d


def make_table(session, ks, table, rows, version0, source="cassandra"):
    """A PyCassElastic table with `rows` rows (ids 0..rows-1), versions version0 + i."""
    from cassandra.concurrent import execute_concurrent_with_args
    session.execute("CREATE TABLE %s.%s (id int PRIMARY KEY, version bigint, text varchar, source varchar)"
                    % (ks, table), timeout=60)
    ins = session.prepare("INSERT INTO %s.%s (id, version, text, source) VALUES (?, ?, ?, ?)" % (ks, table))
    args = [(i, version0 + i, "row %d" % i, source) for i in range(rows)]
    for k in range(0, rows, 10000):
        res = execute_concurrent_with_args(session, ins, args[k:k + 10000], concurrency=100, raise_on_first_error=True)
        assert all(ok for ok, _ in res)


def index_docs(client, index, first_id, n, version0):
    """n documents written by "the Elasticsearch side" (source elasticsearch) with opensearch-py."""
    from opensearchpy import helpers
    actions = ({"_index": index, "_id": str(first_id + i),
                "_source": {"id": first_id + i, "version": version0 + i, "text": "doc %d" % i,
                            "source": "elasticsearch"}} for i in range(n))
    ok, errors = helpers.bulk(client, actions, chunk_size=5000, refresh=True)
    assert ok == n and not errors


def es_count(client, index, **term):
    client.indices.refresh(index=index)
    body = {"query": {"term": term}} if term else {"query": {"match_all": {}}}
    return int(client.count(index=index, body=body)["count"])


def http_get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path (4xx/5xx included)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for(what, fn, timeout, proc=None, log=None):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("daemon exited (%s) while waiting for %s; log:\n%s"
                                 % (proc.returncode, what, log.read_text()[-4000:] if log else ""))
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # not there yet (a file, an index): ask again
            last = e
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r); log:\n%s"
                         % (what, last, log.read_text()[-4000:] if log and log.exists() else ""))


def status_file(state):
    return json.loads((state / "casselastic.status.json").read_text())


class Daemon:
    """`casselastic run -c cfg` in the background; stopped with SIGTERM (exit 0 expected)."""

    def __init__(self, ce_bin, cfg, env=None, *extra):
        self.cfg, self.state, self.log = cfg, cfg.parent, cfg.parent / "casselastic.log"
        self.p = subprocess.Popen([str(Path(ce_bin) / "casselastic"), "run", "-c", str(cfg), *extra],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, **(env or {})))

    def passes(self, n, timeout=45):
        return wait_for("%d passes" % n, lambda: (lambda s: s if s["passes"] >= n else None)(status_file(self.state)),
                        timeout, self.p, self.log)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                raise
        self.p.communicate()
        return self.p.returncode


def prometheus_families(port):
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        _skip_or_fail("prometheus_client missing from the venv (tests/requirements.txt)")
    st, text = http_get(port, "/metrics")
    assert st == 200
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample(fams, fam, suffix="_total", **labels):
    for s in fams[fam].samples:
        if s.name == fam + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError("no sample %s%s %r" % (fam, suffix, labels))


def json_log(log):
    """Every line of the log file parsed as JSON (log_format "json": each line must parse)."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------ metrics under load

def test_metrics_match_drivers_status_and_pass_lines(ce_bin, cassandra_session, keyspace, opensearch, testbed_env,
                                                     unique_name, tmp_path):
    n = 20_000
    v0 = now_ms() - 600_000  # before every later window: the counters settle after the first pass
    make_table(cassandra_session, keyspace, "items", n, v0)
    index = unique_name("ix")
    index_docs(opensearch, index, 100_000, n, v0)
    port = free_port()
    cfg = write_config(tmp_path / "cfg.json", testbed_env, testbed_env["CE_OPENSEARCH_URL"],
                       [sync_def("load", keyspace, "items", index, filter_date=True)],
                       metrics_listen="127.0.0.1:%d" % port, log_format="json")
    d = Daemon(ce_bin, cfg)
    try:
        d.passes(3)
        # the drivers see 20k rows copied each way
        assert es_count(opensearch, index) == 2 * n
        assert es_count(opensearch, index, source="cassandra") == n
        rows = cassandra_session.execute("SELECT source FROM %s.items" % keyspace, timeout=120)
        by_source = {}
        for r in rows:
            by_source[r.source] = by_source.get(r.source, 0) + 1
        assert by_source == {"cassandra": n, "elasticsearch": n}

        # /metrics and status --json at the same moment (no pass finished in between)
        for _ in range(20):
            before = status_file(d.state)["passes"]
            fams = prometheus_families(port)
            r = casselastic(ce_bin, "status", "-c", cfg, "--json")
            if status_file(d.state)["passes"] == before:
                break
        else:
            raise AssertionError("20 tries and never a /metrics scrape and a status between two passes")
        assert r.returncode == 0, r.stdout + r.stderr
        st = json.loads(r.stdout)
        dirs = {s["name"]: s for s in st["last_pass"]["syncs"]}["load"]["directions"]
        assert st["health"]["status"] == "ok"
        for direction in ("to_es", "to_cassandra"):
            lab = dict(sync="load", direction=direction)
            for fam, key in (("casselastic_records_read", "read_total"),
                             ("casselastic_records_written", "written_total"),
                             ("casselastic_conflicts", "conflicts_total"),
                             ("casselastic_dead_letters", "dead_letters_total"),
                             ("casselastic_deletes", "deletes_total"),
                             ("casselastic_pass_failures", "failures")):
                assert sample(fams, fam, **lab) == dirs[direction][key], (fam, direction, dirs[direction])
            # the histogram: cumulative buckets, +Inf == _count == passes, a sum
            buckets = sorted((float(s.labels["le"]), s.value) for s in fams["casselastic_pass_duration_seconds"].samples
                             if s.name.endswith("_bucket") and s.labels["direction"] == direction)
            counts = [c for _, c in buckets]
            assert counts == sorted(counts) and buckets[-1][0] == float("inf")
            assert buckets[-1][1] == sample(fams, "casselastic_pass_duration_seconds", "_count", **lab)
            assert buckets[-1][1] == dirs[direction]["passes"]
            assert abs(sample(fams, "casselastic_last_success_timestamp_seconds", "", **lab)
                       - dirs[direction]["last_success_ms"] / 1000) < 0.002
            assert 0 <= sample(fams, "casselastic_checkpoint_lag_seconds", "", **lab) < 120
        # ... and equal the drivers' counts
        assert sample(fams, "casselastic_records_written", sync="load", direction="to_es") == n
        assert sample(fams, "casselastic_records_written", sync="load", direction="to_cassandra") == n
        assert sample(fams, "casselastic_records_read", sync="load", direction="to_cassandra") == n
        assert sample(fams, "casselastic_pass_failures", sync="load", direction="to_es") == 0
        assert sample(fams, "casselastic_build_info", "", version=casselastic(ce_bin, "--version").stdout.split()[1]) == 1
        assert sample(fams, "process_resident_memory_bytes", "") > 0

        # ... and the pass lines of the log (every line is JSON): every counter is the sum of
        # the per-sync pass lines, done or failed (docs/cli.md, Metrics and health)
        lines = json_log(d.log)
        assert all({"ts", "level"} <= set(x) for x in lines)
        done = [x for x in lines if x.get("msg") in ("pass done", "pass failed") and x.get("sync") == "load"
                and "c2e_indexed" in x]
        assert len(done) >= 3
        # the log may hold a pass that finished after the scrape: compare over the same passes
        passes = int(dirs["to_es"]["passes"])
        assert int(dirs["to_cassandra"]["passes"]) == passes and len(done) >= passes
        seen = done[:passes]
        total = lambda key: sum(x.get(key, 0) for x in seen)
        for direction, p, pairs in (
                ("to_es", "c2e", (("casselastic_records_read", ["c2e_read"]),
                                  ("casselastic_records_written", ["c2e_indexed"]),
                                  ("casselastic_conflicts", ["c2e_conflicts"]),
                                  ("casselastic_dead_letters", ["c2e_rejected"]),
                                  ("casselastic_deletes", ["c2e_deleted", "c2e_deleted_old"]))),
                ("to_cassandra", "e2c", (("casselastic_records_read", ["e2c_read"]),
                                         ("casselastic_records_written", ["e2c_written"]),
                                         ("casselastic_dead_letters", ["e2c_rejected"]),
                                         ("casselastic_deletes", ["e2c_deleted"])))):
            lab = dict(sync="load", direction=direction)
            for fam, keys in pairs:
                assert sample(fams, fam, **lab) == sum(total(k) for k in keys), (fam, direction)
            # every retry cause is exported (at 0 when none) and equals the lines' c2e_retry_<cause>
            causes = {s.labels["cause"]: s.value for s in fams["casselastic_retries"].samples
                      if s.name == "casselastic_retries_total" and s.labels["sync"] == "load"
                      and s.labels["direction"] == direction}
            want = {"es_429", "es_5xx", "es_connection", "cassandra_overloaded", "cassandra_connection",
                    "cassandra_unprepared"} | ({"es_bulk", "cassandra_read"} if direction == "to_es" else set())
            assert set(causes) == want, sorted(causes)
            for cause, v in causes.items():
                assert v == total("%s_retry_%s" % (p, cause)), (direction, cause)
            # the histogram's sum is the sum of the lines' durations (3 decimals each)
            hsum = sample(fams, "casselastic_pass_duration_seconds", "_sum", **lab)
            lsum = total(p + "_seconds")
            assert lsum > 0 and abs(hsum - lsum) <= 0.0006 * passes, (direction, hsum, lsum)
        assert total("e2c_written") == n

        st, body = http_get(port, "/healthz")
        assert st == 200 and json.loads(body)["status"] == "ok", body
        r = casselastic(ce_bin, "status", "-c", cfg)
        assert r.returncode == 0 and "health: ok" in r.stdout, r.stdout
    finally:
        assert d.stop() == 0
    opensearch.indices.delete(index=index, ignore=[404])


# ------------------------------------------------------------------ /healthz with OpenSearch away

class TcpProxy:
    """Forwards 127.0.0.1:port to target. stop() closes the listener and every connection (the
    server looks gone: connections refused); start() listens on the same port again."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.conns = []
        self.lock = threading.Lock()
        self.listener = None

    def start(self):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        ls.settimeout(0.2)
        self.listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls):
        while self.listener is ls:
            try:
                c, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                u = socket.create_connection(self.target, timeout=10)
            except OSError:
                c.close()
                continue
            c.settimeout(None)
            u.settimeout(None)
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        ls, self.listener = self.listener, None
        if ls:
            ls.close()
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_healthz_follows_opensearch_through_a_proxy(ce_bin, cassandra_session, keyspace, opensearch, testbed_env,
                                                     unique_name, tmp_path):
    make_table(cassandra_session, keyspace, "items", 20, now_ms() - 600_000)
    index = unique_name("ix")
    os_url = testbed_env["CE_OPENSEARCH_URL"]
    host, port_s = os_url.split("://")[1].rstrip("/").split(":")
    proxy = TcpProxy(host, int(port_s))
    proxy.start()
    mport = free_port()
    cfg = write_config(tmp_path / "cfg.json", testbed_env, "http://127.0.0.1:%d" % proxy.port,
                       [sync_def("items", keyspace, "items", index, filter_date=True)],
                       elasticsearch={"url": ["http://127.0.0.1:%d" % proxy.port], "request_timeout_ms": 3000})
    d = Daemon(ce_bin, cfg, None, "--metrics-listen", "127.0.0.1:%d" % mport)
    try:
        d.passes(2)
        assert es_count(opensearch, index) == 20
        wait_for("/healthz 200", lambda: http_get(mport, "/healthz")[0] == 200, 20, d.p, d.log)
        es_retries = lambda fams: sum(sample(fams, "casselastic_retries", sync="items", direction=dr,
                                             cause="es_connection") for dr in ("to_es", "to_cassandra"))
        retries_before = es_retries(prometheus_families(mport))

        proxy.stop()
        t0 = time.time()
        st, body = wait_for("/healthz 503", lambda: (lambda r: r if r[0] == 503 else None)(http_get(mport, "/healthz")),
                            30, d.p, d.log)
        h = json.loads(body)
        assert h["status"] == "failing" and {f["sync"] for f in h["failing"]} == {"items"}, h
        # `status` applies the same rule from the status file: exit 5
        r = casselastic(ce_bin, "status", "-c", cfg)
        assert r.returncode == 5 and "health: FAILING" in r.stdout, r.stdout + r.stderr
        print("503 after %.1f s without OpenSearch" % (time.time() - t0))

        proxy.start()
        wait_for("/healthz 200 again", lambda: http_get(mport, "/healthz")[0] == 200, 40, d.p, d.log)
        r = casselastic(ce_bin, "status", "-c", cfg, "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["health"]["status"] == "ok", r.stdout
        # the outage was seen (the client retried) and a pass succeeded after it
        assert "es request failed, retrying" in d.log.read_text()
        fams = prometheus_families(mport)
        assert sample(fams, "casselastic_last_success_timestamp_seconds", "", sync="items", direction="to_es") > t0
        # ... and counted: the client's connection retries went up during the outage
        assert es_retries(fams) > retries_before, (es_retries(fams), retries_before)
    finally:
        assert d.stop() == 0
        proxy.stop()
    opensearch.indices.delete(index=index, ignore=[404])


# ------------------------------------------------------------------ SIGHUP reload

class NotifySocket:
    """A fake systemd notification socket (unix datagrams) collecting what the daemon says."""

    def __init__(self, path):
        self.path = str(path)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(self.path)
        self.s.settimeout(0.2)
        self.messages = []
        self.done = False
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        while not self.done:
            try:
                self.messages.append(self.s.recv(4096).decode())
            except socket.timeout:
                continue
            except OSError:
                return

    def fields(self):
        return [dict(kv.split("=", 1) for kv in m.splitlines() if "=" in kv) for m in list(self.messages)]

    def close(self):
        self.done = True
        self.t.join(timeout=5)
        self.s.close()


def log_has(log, text):
    return log.exists() and text in log.read_text()


def test_sighup_reload_add_remove_change_broken_and_connection(ce_bin, cassandra_session, keyspace, opensearch,
                                                                 testbed_env, unique_name, tmp_path):
    v0 = now_ms() - 600_000
    for t in ("a", "b", "c"):
        make_table(cassandra_session, keyspace, t, 10, v0)
    ix = {k: unique_name("ix" + k) for k in ("a", "a2", "b", "c")}
    os_url = testbed_env["CE_OPENSEARCH_URL"]
    mport = free_port()
    # read_mode all: every pass reads every row, so a changed sync fills its new index
    sd = lambda name, table, index: sync_def(name, keyspace, table, index, direction="to_es", read_mode="all")
    path = tmp_path / "cfg.json"
    write_config(path, testbed_env, os_url, [sd("sa", "a", ix["a"]), sd("sb", "b", ix["b"])],
                 metrics_listen="127.0.0.1:%d" % mport)
    ns = NotifySocket(tmp_path / "notify.sock")
    d = Daemon(ce_bin, path, {"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "1000000"})
    try:
        d.passes(2)
        assert es_count(opensearch, ix["a"]) == 10 and es_count(opensearch, ix["b"]) == 10
        assert any(f.get("READY") == "1" for f in ns.fields()), ns.messages

        # 1. sb removed, sc added, sa changed (another index); same connection: same engine
        write_config(path, testbed_env, os_url, [sd("sa", "a", ix["a2"]), sd("sc", "c", ix["c"])],
                     metrics_listen="127.0.0.1:%d" % mport)
        connects = d.log.read_text().count("connected to elasticsearch")
        d.p.send_signal(signal.SIGHUP)
        wait_for("reload 1", lambda: log_has(d.log, "added=1 removed=1 changed=1 new_engine=false"), 20, d.p, d.log)
        wait_for("sc copied", lambda: es_count(opensearch, ix["c"]) == 10, 30, d.p, d.log)
        wait_for("sa copied to its new index", lambda: es_count(opensearch, ix["a2"]) == 10, 30, d.p, d.log)
        cassandra_session.execute("INSERT INTO %s.b (id, version, text, source) VALUES (100, %d, 'late', 'cassandra')"
                                  % (keyspace, now_ms()))
        n0 = status_file(d.state)["passes"]
        d.passes(n0 + 3)
        assert es_count(opensearch, ix["b"]) == 10, "a removed sync still runs"
        assert [s["name"] for s in status_file(d.state)["syncs"]] == ["sa", "sc"]
        fams = prometheus_families(mport)
        syncs = {s.labels["sync"] for s in fams["casselastic_records_read"].samples}
        assert syncs == {"sa", "sc"}, syncs
        assert d.log.read_text().count("connected to elasticsearch") == connects

        # 2. a broken file: refused with the reason, the running config kept
        path.write_text(path.read_text().replace('"version_col": "version"', '"version_col": 5', 1))
        d.p.send_signal(signal.SIGHUP)
        wait_for("reload refused", lambda: log_has(d.log, "the running config is kept"), 20, d.p, d.log)
        assert "syncs[0].version_col: expected a string" in d.log.read_text()
        cassandra_session.execute("INSERT INTO %s.c (id, version, text, source) VALUES (100, %d, 'new', 'cassandra')"
                                  % (keyspace, now_ms()))
        wait_for("sc still running", lambda: es_count(opensearch, ix["c"]) == 11, 30, d.p, d.log)
        assert http_get(mport, "/healthz")[0] == 200

        # 3. a changed connection: a new engine, the syncs go on
        write_config(path, testbed_env, os_url, [sd("sa", "a", ix["a2"]), sd("sc", "c", ix["c"])],
                     metrics_listen="127.0.0.1:%d" % mport,
                     elasticsearch={"url": [os_url], "request_timeout_ms": 30000})
        d.p.send_signal(signal.SIGHUP)
        wait_for("reload 3", lambda: log_has(d.log, "added=0 removed=0 changed=0 new_engine=true"), 20, d.p, d.log)
        wait_for("reconnected", lambda: d.log.read_text().count("connected to elasticsearch") > connects, 20, d.p,
                 d.log)
        n0 = status_file(d.state)["passes"]
        assert d.passes(n0 + 2)["last_result"] == "ok"

        # 4. memory_limit_mb: the engine makes its budget and the clients' answer limits at
        # creation, so a change takes a new engine too
        write_config(path, testbed_env, os_url, [sd("sa", "a", ix["a2"]), sd("sc", "c", ix["c"])],
                     metrics_listen="127.0.0.1:%d" % mport, memory_limit_mb=128,
                     elasticsearch={"url": [os_url], "request_timeout_ms": 30000})
        connects = d.log.read_text().count("connected to elasticsearch")
        d.p.send_signal(signal.SIGHUP)
        wait_for("reload 4", lambda: d.log.read_text().count("added=0 removed=0 changed=0 new_engine=true") == 2,
                 20, d.p, d.log)
        wait_for("reconnected", lambda: d.log.read_text().count("connected to elasticsearch") > connects, 20, d.p,
                 d.log)
        n0 = status_file(d.state)["passes"]
        assert d.passes(n0 + 2)["last_result"] == "ok"
    finally:
        rc = d.stop()
        ns.close()
    assert rc == 0
    f = ns.fields()
    assert sum(1 for x in f if x.get("RELOADING") == "1") == 4
    assert sum(1 for x in f if x.get("READY") == "1") == 5  # start + each reload (refused included)
    assert any("WATCHDOG" in x for x in f) and any("STATUS" in x and x["STATUS"].startswith("pass ") for x in f)
    assert f[-1].get("STOPPING") == "1", f[-3:]
    for k in ix.values():
        opensearch.indices.delete(index=k, ignore=[404])


# ------------------------------------------------------------------ the address

def test_metrics_address_refused_or_busy(ce_bin, testbed_env, tmp_path):
    """A bad metrics_listen is a config error naming the key (exit 2, nothing created); an
    address already in use stops `run` at start (exit 1) with the reason."""
    syncs = [sync_def("s", "ks", "t", "ix")]
    cfg = write_config(tmp_path / "cfg.json", testbed_env, testbed_env["CE_OPENSEARCH_URL"], syncs,
                       metrics_listen="localhost")
    r = casselastic(ce_bin, "run", "-c", cfg)
    assert r.returncode == 2 and "metrics_listen: bad address \"localhost\"" in r.stderr, r.stderr
    r = casselastic(ce_bin, "check", cfg)
    assert r.returncode == 2 and "metrics_listen: bad address" in r.stderr, r.stderr
    assert not (tmp_path / "casselastic.pid").exists()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        write_config(cfg, testbed_env, testbed_env["CE_OPENSEARCH_URL"], syncs, metrics_listen="127.0.0.1:%d" % port)
        r = casselastic(ce_bin, "run", "-c", cfg)
    assert r.returncode == 1 and "cannot listen on 127.0.0.1:%d" % port in r.stderr, r.stderr
    assert not (tmp_path / "casselastic.pid").exists()
