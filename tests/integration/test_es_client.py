"""Integration tests of the C Elasticsearch/OpenSearch client (src/es) through
tests/tools/ce_es_tool, against the test bed's real OpenSearch 2.19 and Elasticsearch 8.17.

Every outcome is checked with the official Python clients (opensearch-py, elasticsearch 8),
never by reading our writes back with our own client. Faults (429s, refused gzip) come from
a small local HTTP proxy written here that forwards to the real server.
"""
import base64
import gzip
import http.client
import json
import os
import random
import re
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from conftest import _skip_or_fail

N_BIG = 100_000
VBASE = 1_000_000  # document i is stored with external version VBASE + i


# ---------------------------------------------------------------- helpers

def tool(ce_bin, url, *args, urls=None, check=True, timeout=600, extra=()):
    cmd = [str(ce_bin / "ce_es_tool")]
    for u in (urls or [url]):
        cmd += ["--url", u]
    cmd += list(extra) + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("ce_es_tool %s failed (%d):\n%s\n%s" % (args, p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def summary(out):
    """The final ok=.. conflict=.. line of a bulk command as a dict of ints."""
    line = [l for l in out.splitlines() if l.startswith("ok=")][-1]
    return {k: int(v) for k, v in (kv.split("=") for kv in line.split())}


def item_lines(out, kind):
    return [l for l in out.splitlines() if l.startswith(kind + " ")]


def count(client, index):
    client.indices.refresh(index=index)
    return client.count(index=index)["count"]


def delete_index(client, index):
    try:
        client.indices.delete(index=index)
    except Exception:
        pass


def mget_versions(client, index, ids):
    res = client.mget(index=index, body={"ids": [str(i) for i in ids]})
    return {d["_id"]: (d.get("_version"), d.get("_source", {}).get("version")) for d in res["docs"] if d.get("found")}


# ---------------------------------------------------------------- fault proxy

class FaultProxy:
    """Forwards HTTP/1.1 requests to `target`; can turn items of the first `bulk_faults`
    _bulk requests into 429 items (those items are not forwarded, so the server never sees
    them), answer whole 429s to the first `bulk_whole_429` bulk requests, refuse gzip bodies
    with 415, and records every request's headers."""

    def __init__(self, target, bulk_faults=0, item_every=7, bulk_whole_429=0, refuse_gzip=False,
                 tls=None, host="127.0.0.1", bulk_delay=0, delay_s=0.0, bulk_drop=0):
        self.target = urlparse(target)
        self.bulk_faults = bulk_faults
        self.item_every = item_every
        self.bulk_whole_429 = bulk_whole_429
        self.refuse_gzip = refuse_gzip
        self.bulk_delay = bulk_delay      # the first bulk_delay bulks: forward, then answer late
        self.delay_s = delay_s
        self.bulk_drop = bulk_drop        # the first bulk_drop bulks: close the connection, no answer
        self.lock = threading.Lock()
        self.headers = []          # list of dicts, one per request
        self.bulk_seen = 0
        self.items_rejected = 0
        self.gzip_refused = 0
        self.gzip_bodies = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls:  # tls = ssl.SSLContext for the server side
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = "%s://%s:%d" % (scheme, host, self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.server.shutdown()
        self.server.server_close()

    def _forward(self, method, path, body, headers):
        conn = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            return r.status, r.getheader("Content-Type", "application/json"), data
        finally:
            conn.close()

    def _reply(self, h, status, ctype, data):
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def handle(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else None
        hdrs = {k: v for k, v in h.headers.items()}
        with self.lock:
            self.headers.append(hdrs)
        gz = h.headers.get("Content-Encoding", "").lower() == "gzip"
        if gz:
            with self.lock:
                self.gzip_bodies += 1
            if self.refuse_gzip:
                with self.lock:
                    self.gzip_refused += 1
                self._reply(h, 415, "application/json", b'{"error":"gzip not accepted here","status":415}')
                return
            body = gzip.decompress(body)
        fwd = {k: v for k, v in hdrs.items() if k.lower() in ("content-type", "authorization")}
        path = h.path
        if urlparse(path).path.endswith("/_bulk") and h.command == "POST":
            with self.lock:
                self.bulk_seen += 1
                k = self.bulk_seen
            if k <= self.bulk_drop:
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            if k <= self.bulk_whole_429:
                self._reply(h, 429, "application/json",
                            b'{"error":{"type":"es_rejected_execution_exception","reason":"injected"},"status":429}')
                return
            if k <= self.bulk_faults:
                self._bulk_with_faults(h, path, body, fwd)
                return
            if k <= self.bulk_delay:
                status, ctype, data = self._forward(h.command, path, body, fwd)
                time.sleep(self.delay_s)
                try:
                    self._reply(h, status, ctype, data)
                except OSError:
                    pass  # the client gave up waiting, as intended
                return
        status, ctype, data = self._forward(h.command, path, body, fwd)
        self._reply(h, status, ctype, data)

    def _bulk_with_faults(self, h, path, body, fwd):
        lines = body.decode().split("\n")
        items = []  # (action_line, doc_line or None)
        i = 0
        while i < len(lines):
            if not lines[i]:
                i += 1
                continue
            action = lines[i]
            op = next(iter(json.loads(action)))
            if op == "delete":
                items.append((action, None))
                i += 1
            else:
                items.append((action, lines[i + 1]))
                i += 2
        reject = set(range(0, len(items), self.item_every))
        keep = [it for j, it in enumerate(items) if j not in reject]
        out_items = []
        if keep:
            fbody = "".join(a + "\n" + (d + "\n" if d is not None else "") for a, d in keep).encode()
            status, ctype, data = self._forward("POST", path, fbody, fwd)
            if status != 200:
                self._reply(h, status, ctype, data)
                return
            got = json.loads(data)["items"]
            assert len(got) == len(keep)
        else:
            got = []
        it = iter(got)
        errors = False
        for j, (a, d) in enumerate(items):
            if j in reject:
                op = next(iter(json.loads(a)))
                _id = json.loads(a)[op].get("_id")
                out_items.append({op: {"_id": _id, "status": 429, "error": {
                    "type": "es_rejected_execution_exception",
                    "reason": "rejected execution of coordinating operation [injected]"}}})
                errors = True
            else:
                x = next(it)
                out_items.append(x)
                if next(iter(x.values())).get("error"):
                    errors = True
        with self.lock:
            self.items_rejected += len(reject)
        self._reply(h, 200, "application/json", json.dumps({"errors": errors, "items": out_items}).encode())


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def big_index(request, ce_bin):
    """Per server: an index holding N_BIG documents (id i, external version VBASE+i),
    bulk-indexed by our client and counted by the Python client."""
    made = {}

    def get(name, url, client):
        if name in made:
            return made[name]
        index = "t_es_big_%s_%s" % (name[:2], random.randrange(1 << 30))
        client.indices.create(index=index, body={"settings": {"number_of_shards": 3, "number_of_replicas": 0}})
        request.addfinalizer(lambda: delete_index(client, index))
        p = tool(ce_bin, url, "bulk-load", "--index", index, "--count", N_BIG, "--version-base", VBASE)
        s = summary(p.stdout)
        assert s["ok"] == N_BIG and s["failed"] == 0 and s["conflict"] == 0 and s["rejected"] == 0, p.stdout
        assert count(client, index) == N_BIG
        made[name] = index
        return index

    return get


# ---------------------------------------------------------------- tests

def test_detect(es_clients, ce_bin, testbed_env):
    name, url, client = es_clients
    out = tool(ce_bin, url, "detect").stdout
    want_ver = testbed_env.get("CE_OPENSEARCH_VERSION" if name == "opensearch" else "CE_ELASTICSEARCH_VERSION")
    node = next(iter(client.nodes.info(node_id="_local")["nodes"].values()))
    assert "flavor=%s" % name in out
    assert "version=%s " % node["version"] in out
    if want_ver:
        assert node["version"] == want_ver
    # The capabilities, against what the official client reports of the server.
    caps = dict(kv.split("=", 1) for kv in out.split())
    major, minor = (int(x) for x in node["version"].split(".")[:2])
    assert (int(caps["major"]), int(caps["minor"])) == (major, minor)
    if name == "opensearch":
        want = {"types": False, "pit": (major, minor) >= (2, 4),
                "shard_doc_sort": False, "track_total_hits": True, "seq_no": True}
        comps = [p["component"] for p in client.cat.plugins(format="json")]
        want["knn_plugin"] = any(c in ("opensearch-knn", "org.opensearch.knn.plugin.KNNPlugin")
                                 for c in comps)
    else:
        want = {"types": major <= 6, "pit": (major, minor) >= (7, 10),
                "shard_doc_sort": (major, minor) >= (7, 12), "track_total_hits": major >= 7,
                "seq_no": (major, minor) >= (6, 7), "knn_plugin": False}
    assert {k: caps[k] == "1" for k in want} == want
    # The connect log line names them.
    err = tool(ce_bin, url, "detect", extra=["--log-level", "info"]).stderr
    line = [l for l in err.splitlines() if 'msg="es connected"' in l][0]
    for k in want:
        assert "%s=%s" % (k, caps[k]) in line


def test_bulk_100k_external_versions(es_clients, ce_bin, big_index):
    name, url, client = es_clients
    index = big_index(name, url, client)
    sample = random.sample(range(N_BIG), 300)
    got = mget_versions(client, index, sample)
    assert len(got) == 300
    for i in sample:
        assert got[str(i)] == (VBASE + i, VBASE + i)


def test_older_versions_conflict(es_clients, ce_bin, unique_name):
    name, url, client = es_clients
    index = unique_name("es")
    client.indices.create(index=index, body={"settings": {"number_of_shards": 2, "number_of_replicas": 0}})
    try:
        s = summary(tool(ce_bin, url, "bulk-load", "--index", index, "--count", 5000, "--version-base", 100).stdout)
        assert s["ok"] == 5000
        # Older versions for ids 0..1999: every one is a 409 and nothing changes.
        p = tool(ce_bin, url, "bulk-load", "--index", index, "--count", 2000, "--version-base", 10, check=False)
        s = summary(p.stdout)
        assert p.returncode == 0
        assert s == {**s, "ok": 0, "conflict": 2000, "failed": 0, "rejected": 0}
        conflicts = item_lines(p.stdout, "conflict")
        assert len(conflicts) == 2000
        assert "conflict id=7 http=409 type=version_conflict_engine_exception current_version=107" in p.stdout
        # Equal versions with external_gte are accepted; newer ones win.
        s = summary(tool(ce_bin, url, "bulk-load", "--index", index, "--start", 4000, "--count", 1000,
                         "--version-base", 100, "--gte").stdout)
        assert s["ok"] == 1000 and s["conflict"] == 0
        s = summary(tool(ce_bin, url, "bulk-load", "--index", index, "--start", 3000, "--count", 10,
                         "--version-base", 5000).stdout)
        assert s["ok"] == 10
        # Deletes with an older version conflict too; with a newer one they delete.
        s = summary(tool(ce_bin, url, "bulk-load", "--index", index, "--start", 0, "--count", 5,
                         "--version", 1, "--delete").stdout)
        assert s["conflict"] == 5
        s = summary(tool(ce_bin, url, "bulk-load", "--index", index, "--start", 10, "--count", 5,
                         "--version", 999999, "--delete").stdout)
        assert s["ok"] == 5
        assert count(client, index) == 4995
        got = mget_versions(client, index, list(range(0, 2000, 97)) + [3000, 3009, 4000, 4999])
        for i in range(0, 2000, 97):
            if 10 <= i < 15:
                continue
            assert got[str(i)] == (100 + i, 100 + i)
        assert got["3000"] == (8000, 8000)
        assert got["3009"] == (8009, 8009)
        assert got["4000"] == (4100, 4100)
    finally:
        delete_index(client, index)


def read_ids(ce_bin, url, *args):
    p = tool(ce_bin, url, "search", *args)
    ids = p.stdout.split()
    return ids, p.stderr


def test_pit_pagination_100k(es_clients, ce_bin, big_index):
    name, url, client = es_clients
    index = big_index(name, url, client)
    ids, err = read_ids(ce_bin, url, "--index", index, "--page", 1000, "--sort", "version")
    assert len(ids) == N_BIG
    assert set(ids) == {str(i) for i in range(N_BIG)}
    assert ids[:3] == ["0", "1", "2"]  # sorted on the version field
    assert "total=%d" % N_BIG in err
    # PITs are closed afterwards.
    stats = client.indices.stats(index=index, metric="search")
    assert stats["_all"]["total"]["search"].get("open_contexts", 0) == 0


def test_range_query_window(es_clients, ce_bin, big_index):
    name, url, client = es_clients
    index = big_index(name, url, client)
    lo, hi = VBASE + 12_345, VBASE + 34_567
    ids, _ = read_ids(ce_bin, url, "--index", index, "--field", "version", "--gte", lo, "--lt", hi,
                      "--with-version", "--page", 777)
    pairs = list(zip(ids[0::2], ids[1::2]))
    want = client.count(index=index, body={"query": {"range": {"version": {"gte": lo, "lt": hi}}}})["count"]
    assert len(pairs) == want == hi - lo
    assert {p[0] for p in pairs} == {str(i - VBASE) for i in range(lo, hi)}
    assert all(int(v) == VBASE + int(i) for i, v in pairs)
    # must_not on the name field
    ids, _ = read_ids(ce_bin, url, "--index", index, "--field", "version", "--gte", VBASE, "--lt", VBASE + 10,
                      "--must-not-field", "name", "--must-not-value", "3")
    assert sorted(ids, key=int) == [str(i) for i in range(10) if i != 3]


def test_scroll_fallback_100k(es_clients, ce_bin, big_index):
    name, url, client = es_clients
    index = big_index(name, url, client)
    ids, err = read_ids(ce_bin, url, "--index", index, "--scroll", "--page", 2000)
    assert len(ids) == N_BIG and len(set(ids)) == N_BIG
    assert set(ids) == {str(i) for i in range(N_BIG)}


@pytest.mark.parametrize("mode", ["pit", "scroll"])
def test_sliced_reads(es_clients, ce_bin, big_index, mode):
    name, url, client = es_clients
    index = big_index(name, url, client)
    extra = ["--scroll"] if mode == "scroll" else []
    ids, err = read_ids(ce_bin, url, "--index", index, "--slices", 4, "--page", 2500, *extra)
    assert len(ids) == N_BIG and len(set(ids)) == N_BIG
    assert set(ids) == {str(i) for i in range(N_BIG)}
    assert err.count("slice=") == 4


def test_index_not_found(es_clients, ce_bin, unique_name):
    name, url, client = es_clients
    p = tool(ce_bin, url, "search", "--index", unique_name("nope"), check=False)
    assert p.returncode == 4 and "CE_ENOTFOUND" in p.stderr
    p = tool(ce_bin, url, "search", "--index", unique_name("nope"), "--no-refresh", check=False)
    assert p.returncode == 4
    p = tool(ce_bin, url, "exists", "--index", unique_name("nope"))
    assert "exists=false" in p.stdout


def test_index_create_mapping(es_clients, ce_bin, unique_name):
    name, url, client = es_clients
    index = unique_name("es")
    body = json.dumps({"settings": {"number_of_shards": 1, "number_of_replicas": 0},
                       "mappings": {"properties": {"id": {"type": "keyword"}, "n": {"type": "long"},
                                                   "when": {"type": "date", "format": "epoch_millis"}}}})
    try:
        assert "created=true" in tool(ce_bin, url, "create-index", "--index", index, "--body", body).stdout
        assert "created=false" in tool(ce_bin, url, "create-index", "--index", index, "--body", body).stdout
        assert client.indices.exists(index=index)
        props = client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
        assert props["n"] == {"type": "long"} and props["id"] == {"type": "keyword"}
        ours = json.loads(tool(ce_bin, url, "properties", "--index", index).stdout)
        assert ours == props
        tool(ce_bin, url, "put-mapping", "--index", index, "--body",
             json.dumps({"properties": {"extra": {"type": "text"}}}))
        props = client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
        assert props["extra"] == {"type": "text"}
        assert "exists=true" in tool(ce_bin, url, "exists", "--index", index).stdout
        tool(ce_bin, url, "delete-index", "--index", index)
        assert not client.indices.exists(index=index)
        p = tool(ce_bin, url, "delete-index", "--index", index, check=False)
        assert p.returncode == 4
    finally:
        delete_index(client, index)


def _settings(client, index):
    s = client.indices.get_settings(index=index)[index]["settings"]["index"]
    return s.get("refresh_interval"), s.get("number_of_replicas")


@pytest.mark.parametrize("initial", [("7s", "1"), (None, "0")])
def test_bulk_load_settings_restored(es_clients, ce_bin, unique_name, initial):
    name, url, client = es_clients
    index = unique_name("es")
    settings = {"number_of_shards": 1, "number_of_replicas": int(initial[1])}
    if initial[0]:
        settings["refresh_interval"] = initial[0]
    client.indices.create(index=index, body={"settings": settings})
    try:
        cmd = [str(ce_bin / "ce_es_tool"), "--url", url, "settings-roundtrip", "--index", index, "--wait"]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "begun"
        assert _settings(client, index) == ("-1", "0")
        out, err = p.communicate("\n", timeout=60)
        assert p.returncode == 0, err
        assert "restored" in out
        assert _settings(client, index) == initial
    finally:
        delete_index(client, index)


def test_mapping_error_item_rejected(es_clients, ce_bin, unique_name, tmp_path):
    name, url, client = es_clients
    index = unique_name("es")
    client.indices.create(index=index, body={"settings": {"number_of_shards": 1, "number_of_replicas": 0},
                                             "mappings": {"properties": {"n": {"type": "long"}}}})
    try:
        docs = tmp_path / "docs.ndjson"
        with docs.open("w") as f:
            for i in range(300):
                d = {"id": "d%d" % i, "version": 10 + i, "n": i, "s": "quote\" back\\ tab\t nl\n \u00e9"}
                if i == 123:
                    d["n"] = "not a number"
                f.write(json.dumps(d) + "\n")
        p = tool(ce_bin, url, "bulk-file", docs, "--index", index, check=False)
        s = summary(p.stdout)
        assert s["ok"] == 299 and s["rejected"] == 1 and s["failed"] == 0
        rej = item_lines(p.stdout, "rejected")
        assert len(rej) == 1 and "id=d123" in rej[0] and "http=400" in rej[0]
        assert ("type=mapper_parsing_exception" in rej[0] or "type=document_parsing_exception" in rej[0])
        assert 'reason=""' not in rej[0]
        assert count(client, index) == 299
        doc = client.get(index=index, id="d7")
        assert doc["_version"] == 17 and doc["_source"]["s"] == "quote\" back\\ tab\t nl\n \u00e9"
    finally:
        delete_index(client, index)


def test_429_items_retried(es_clients, ce_bin, unique_name):
    name, url, client = es_clients
    index = unique_name("es")
    client.indices.create(index=index, body={"settings": {"number_of_shards": 2, "number_of_replicas": 0}})
    try:
        with FaultProxy(url, bulk_faults=4, item_every=7, bulk_whole_429=2) as px:
            p = tool(ce_bin, px.url, "bulk-load", "--index", index, "--count", 20000, "--version-base", 7,
                     "--max-docs", 1000, "--concurrency", 2, extra=["--retry-base-ms", "20"])
            s = summary(p.stdout)
            assert px.items_rejected > 0
            assert s["ok"] == 20000 and s["failed"] == 0 and s["conflict"] == 0
            assert s["retries"] >= px.items_rejected
        assert count(client, index) == 20000
        got = mget_versions(client, index, range(0, 20000, 7))
        assert len(got) == len(range(0, 20000, 7))
        assert all(v == (7 + int(i), 7 + int(i)) for i, v in got.items())
    finally:
        delete_index(client, index)


def test_timeout_resend_is_not_a_conflict(es_clients, ce_bin, unique_name):
    """The first bulk answer arrives after the client's timeout although the server applied
    it: the resend meets its own versions (409 naming the same version) and counts as OK."""
    name, url, client = es_clients
    index = unique_name("es")
    client.indices.create(index=index, body={"settings": {"number_of_shards": 1, "number_of_replicas": 0}})
    try:
        with FaultProxy(url, bulk_delay=1, delay_s=4.0) as px:
            p = tool(ce_bin, px.url, "bulk-load", "--index", index, "--count", 4000, "--max-docs", 1000,
                     "--version-base", 50, extra=["--timeout-ms", "2000", "--retry-base-ms", "50"])
            s = summary(p.stdout)
            assert px.bulk_seen >= 5  # four requests and at least one resend
            assert s["ok"] == 4000 and s["conflict"] == 0 and s["failed"] == 0, p.stdout
        assert count(client, index) == 4000
        # Re-sending the same versions later is a plain conflict again (no resend involved).
        s = summary(tool(ce_bin, url, "bulk-load", "--index", index, "--count", 100, "--version-base", 50).stdout)
        assert s["conflict"] == 100 and s["ok"] == 0
    finally:
        delete_index(client, index)


def test_dropped_connection_fails_over(es_clients, ce_bin, unique_name):
    """A node that drops the connection on bulk requests: the client fails over to the next
    URL mid-stream and every document arrives."""
    name, url, client = es_clients
    index = unique_name("es")
    try:
        with FaultProxy(url, bulk_drop=1000) as px:
            p = tool(ce_bin, px.url, "bulk-load", "--index", index, "--count", 6000, "--max-docs", 1000,
                     urls=[px.url, url], extra=["--retry-base-ms", "20", "--log-level", "warn"])
            s = summary(p.stdout)
            assert s["ok"] == 6000 and s["failed"] == 0 and s["conflict"] == 0
            assert px.bulk_seen >= 1
            assert "failing over" in p.stderr
        assert count(client, index) == 6000
    finally:
        delete_index(client, index)


def test_basic_auth_sent_never_logged(es_clients, ce_bin, unique_name):
    name, url, client = es_clients
    index = unique_name("es")
    user, password = "ce_user", "s3cr3t-Pa55"
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    try:
        with FaultProxy(url) as px:
            p = tool(ce_bin, px.url, "bulk-load", "--index", index, "--count", 50,
                     extra=["--user", user, "--password", password, "--log-level", "debug"])
            assert summary(p.stdout)["ok"] == 50
            auths = [h.get("Authorization") for h in px.headers]
            assert auths and all(a == "Basic " + token for a in auths)
        # Credentials in the URL: used, and redacted in the logs.
        with FaultProxy(url) as px:
            u = px.url.replace("http://", "http://%s:%s@" % (user, password))
            p = tool(ce_bin, u, "detect", extra=["--log-level", "debug"])
            assert all(h.get("Authorization") == "Basic " + token for h in px.headers)
            for text in (p.stdout, p.stderr):
                assert password not in text and token not in text
            assert "es request" in p.stderr
        # API key and bearer token headers, never logged either.
        for opt, scheme, secret in (("--api-key", "ApiKey", "a2V5aWQ6c2VjcmV0LWFwaS1rZXk="),
                                    ("--bearer", "Bearer", "tok-XYZ-very-secret")):
            with FaultProxy(url) as px:
                p = tool(ce_bin, px.url, "detect", extra=[opt, secret, "--log-level", "debug"])
                assert px.headers and all(h.get("Authorization") == "%s %s" % (scheme, secret)
                                          for h in px.headers)
                assert secret not in p.stderr and secret not in p.stdout
        # Nothing on an error path either (unreachable second URL, failover).
        p = tool(ce_bin, url, "detect", urls=["http://%s:%s@127.0.0.1:1" % (user, password), url],
                 extra=["--log-level", "debug"])
        assert "flavor=" in p.stdout
        assert password not in p.stderr and token not in p.stderr
    finally:
        delete_index(client, index)


def test_security_warnings_and_redacted_errors(es_clients, ce_bin):
    """Every client creation warns about an unchecked TLS peer and about credentials
    sent over plain http (naming the URL without them); error texts never carry them."""
    name, url, client = es_clients
    user, password = "ce_user", "p@ss:w0rd"
    plain = tool(ce_bin, url, "detect", extra=["--log-level", "info"])
    assert "without TLS" not in plain.stderr and "verification is off" not in plain.stderr
    p = tool(ce_bin, url, "detect", extra=["--insecure", "--log-level", "warn"])
    assert 'msg="es TLS certificate verification is off' in p.stderr
    for extra in (["--user", user, "--password", password], ["--api-key", "a2V5aWQ6c2VjcmV0"],
                  ["--bearer", "tok-very-secret"]):
        p = tool(ce_bin, url, "detect", extra=extra + ["--log-level", "warn"])
        line = [l for l in p.stderr.splitlines() if 'msg="es credentials sent without TLS"' in l]
        assert len(line) == 1 and re.search(r'url="?%s"?(\s|$)' % re.escape(url), line[0])
        assert extra[-1] not in p.stderr
    # Credentials in the URL: used, warned about, and the URL redacted everywhere.
    u = url.replace("http://", "http://%s:%s@" % (user, "s3cr3t:Pa55"))
    p = tool(ce_bin, u, "detect", extra=["--log-level", "debug"])
    assert "flavor=%s" % name in p.stdout
    # a logfmt value: quoted only when it has to be
    assert re.search(r'msg="es credentials sent without TLS" url="?%s"?(\s|$)' % re.escape(url), p.stderr, re.M)
    assert "Pa55" not in p.stderr and user not in p.stderr
    # The error texts of failed connections name the URL without the credentials, also
    # when the password holds an unencoded '@' (which curl refuses).
    for pw in ("s3cr3t:Pa55", password):
        p = tool(ce_bin, url, "detect", urls=["http://%s:%s@127.0.0.1:1" % (user, pw)],
                 extra=["--retries", "0", "--log-level", "debug"], check=False)
        assert p.returncode == 2
        assert "connect: " in p.stderr and "http://127.0.0.1:1/" in p.stderr
        assert "Pa55" not in p.stderr and "w0rd" not in p.stderr and "p@ss" not in p.stderr
        assert user not in p.stderr


def test_lean_unordered_read(es_clients, ce_bin, big_index):
    """The read the E->C direction does (lean pages, unordered: scroll by _doc where the
    server has no _shard_doc tiebreaker), with the default page size."""
    name, url, client = es_clients
    index = big_index(name, url, client)
    ids, err = read_ids(ce_bin, url, "--index", index, "--lean", "--unordered", "--field", "version",
                        "--gte", VBASE + 1000, "--lt", VBASE + 31000, "--log-level", "debug")
    assert len(ids) == 30000 and set(ids) == {str(i) for i in range(1000, 31000)}
    assert "total=30000" in err
    mode = "scroll" if name == "opensearch" else "pit"
    assert "mode=%s" % mode in err
    # Pages of the default 2000 hits: 15 full pages, then the empty one that ends the read.
    pages = [l for l in err.splitlines() if 'msg="es request"' in l and "method=POST" in l
             and "_search" in l and "point_in_time" not in l]
    assert len(pages) == 16
    stats = client.indices.stats(index=index, metric="search")
    assert stats["_all"]["total"]["search"].get("open_contexts", 0) == 0


def test_failover_and_gzip_refused(es_clients, ce_bin, unique_name):
    name, url, client = es_clients
    index = unique_name("es")
    try:
        with FaultProxy(url, refuse_gzip=True) as px:
            p = tool(ce_bin, px.url, "bulk-load", "--index", index, "--count", 3000, "--max-docs", 500,
                     urls=["127.0.0.1:1", px.url], extra=["--gzip-loopback"])
            s = summary(p.stdout)
            assert s["ok"] == 3000 and s["failed"] == 0
            # After a refusal the client stops compressing (a second request may have
            # been in flight already).
            assert 1 <= px.gzip_refused <= 2
            assert px.gzip_bodies == px.gzip_refused
        assert count(client, index) == 3000
        with FaultProxy(url) as px:
            tool(ce_bin, px.url, "bulk-load", "--index", index, "--count", 3000, "--max-docs", 500,
                 "--version-base", 100000, extra=["--gzip-loopback"])
            assert px.gzip_bodies >= 6  # compressed when accepted
        with FaultProxy(url) as px:
            tool(ce_bin, px.url, "bulk-load", "--index", index, "--count", 3000, "--max-docs", 500,
                 "--version-base", 200000)
            assert px.gzip_bodies == 0  # not towards loopback by default
    finally:
        delete_index(client, index)


def _tls_ctx(testbed_env, require_client_cert):
    d = testbed_env.get("CE_TLS_CA")
    if not d:
        _skip_or_fail("no test bed TLS material (scripts/testbed tls generates it)")
    from pathlib import Path
    tls_dir = Path(d).parent
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tls_dir / "server.pem"), str(tls_dir / "server.key"))
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(d)
    return ctx


def test_tls_ca_hostname_client_cert(es_clients, ce_bin, testbed_env):
    """TLS through a local TLS-terminating proxy with the test bed's server certificate
    (SAN 127.0.0.3, localhost): CA file, host-name check on by default, client certificate."""
    name, url, client = es_clients
    ca, wrong = testbed_env.get("CE_TLS_CA"), testbed_env.get("CE_TLS_WRONG_CA")
    with FaultProxy(url, tls=_tls_ctx(testbed_env, False), host="127.0.0.3") as px:
        p = tool(ce_bin, px.url, "detect", extra=["--ca", ca])
        assert "flavor=%s" % name in p.stdout
        p = tool(ce_bin, px.url, "detect", extra=["--ca", wrong, "--retries", "0"], check=False)
        assert p.returncode == 2 and "CE_ETLS" in p.stderr
        p = tool(ce_bin, px.url, "detect", extra=["--retries", "0"], check=False)  # system CAs only
        assert p.returncode == 2
        p = tool(ce_bin, px.url, "detect", extra=["--insecure"])
        assert "flavor=" in p.stdout
    # Same certificate served on an address it does not name: the host-name check refuses it.
    with FaultProxy(url, tls=_tls_ctx(testbed_env, False), host="127.0.0.1") as px:
        p = tool(ce_bin, px.url, "detect", extra=["--ca", ca, "--retries", "0"], check=False)
        assert p.returncode == 2 and "CE_ETLS" in p.stderr
    with FaultProxy(url, tls=_tls_ctx(testbed_env, True), host="127.0.0.3") as px:
        tls_dir = os.path.dirname(ca)
        p = tool(ce_bin, px.url, "detect", extra=["--ca", ca, "--cert", os.path.join(tls_dir, "client.pem"),
                                                  "--key", os.path.join(tls_dir, "client.key")])
        assert "flavor=" in p.stdout
        p = tool(ce_bin, px.url, "detect", extra=["--ca", ca, "--retries", "0"], check=False)
        assert p.returncode == 2
