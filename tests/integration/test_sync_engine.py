"""The sync engine end to end: `casselastic once` on a config written into a tmp folder,
results checked with the official Python drivers (cassandra-driver, opensearch-py,
elasticsearch 8) against the real servers of the test bed.

PyCassElastic's own scenarios (table (id int PK, version bigint, text varchar, source
varchar, date timestamp), lastruntime.log 5 minutes ago, data 2 minutes ago) plus windows,
echo, schema evolution, dead letters and a type round trip.
"""
import datetime
import json
import subprocess
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest


# ------------------------------------------------------------------ helpers

def now_ms():
    return int(time.time() * 1000)


class Search:
    """Small adapter over opensearch-py / elasticsearch 8 so a test runs on both."""

    def __init__(self, kind, url, client):
        self.kind, self.url, self.c = kind, url, client

    def create(self, index, mappings=None, settings=None):
        body = {}
        if mappings:
            body["mappings"] = mappings
        if settings:
            body["settings"] = settings
        if self.kind == "opensearch":
            self.c.indices.create(index=index, body=body)
        else:
            self.c.indices.create(index=index, **body)

    def delete(self, index):
        try:
            if self.kind == "opensearch":
                self.c.indices.delete(index=index, ignore=[404])
            else:
                self.c.options(ignore_status=[404]).indices.delete(index=index)
        except Exception:
            pass

    def index(self, index, doc_id, doc, refresh=False):
        if self.kind == "opensearch":
            return self.c.index(index=index, id=str(doc_id), body=doc, refresh=refresh)
        return self.c.index(index=index, id=str(doc_id), document=doc, refresh=refresh)

    def refresh(self, index):
        self.c.indices.refresh(index=index)

    def bulk_index(self, index, docs):
        """docs: {id: source}, in one bulk request."""
        lines = []
        for doc_id, doc in docs.items():
            lines.append(json.dumps({"index": {"_index": index, "_id": str(doc_id)}}))
            lines.append(json.dumps(doc))
        body = "\n".join(lines) + "\n"
        res = self.c.bulk(body=body) if self.kind == "opensearch" else self.c.bulk(operations=body)
        assert not res["errors"], res

    def exists(self, index):
        return bool(self.c.indices.exists(index=index))

    def hits(self, index):
        """{_id: hit} of every document (version and seq_no included)."""
        self.refresh(index)
        out = {}
        body = {"query": {"match_all": {}}, "size": 10000, "version": True, "seq_no_primary_term": True}
        if self.kind == "opensearch":
            res = self.c.search(index=index, body=body)
        else:
            res = self.c.search(index=index, **body)
        for h in res["hits"]["hits"]:
            out[h["_id"]] = h
        assert len(out) < 10000
        return out

    def count(self, index):
        self.refresh(index)
        return int(self.c.count(index=index)["count"])

    def mapping(self, index):
        m = self.c.indices.get_mapping(index=index)
        return dict(m)[index]["mappings"]["properties"]


def tracked_search(kind, url, client):
    """A Search for a fixture to yield from: the indexes a test passes to s.track are
    deleted after it."""
    s = Search(kind, url, client)
    created = []
    s.track = created.append
    yield s
    for ix in created:
        s.delete(ix)


@pytest.fixture
def search(es_clients):
    yield from tracked_search(*es_clients)


@pytest.fixture
def opensearch_only(opensearch, testbed_env):
    yield from tracked_search("opensearch", testbed_env["CE_OPENSEARCH_URL"], opensearch)


def sync_def(name, ks, table, index, **kw):
    d = {"name": name, "id_col": "id", "version_col": "version", "date_col": "date",
         "filter_date": False, "cassandra": {"keyspace": ks, "table": table},
         "elasticsearch": {"index": index}}
    d.update(kw)
    return d


def write_config(folder, testbed_env, es_url, syncs, **top):
    cfg = {"cassandra": {"url": [testbed_env["CE_CASSANDRA_HOST"]],
                         "port": int(testbed_env["CE_CASSANDRA_PORT"]),
                         "read_consistency": "one", "write_consistency": "one"},
           "elasticsearch": {"url": [es_url]},
           "period": 1,
           "syncs": syncs}
    cfg.update(top)
    path = Path(folder) / "cfg.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def run_ce(ce_bin, cfg, cmd="once", expect=0, timeout=600, extra=()):
    p = subprocess.run([str(Path(ce_bin) / "casselastic"), cmd, "-c", str(cfg), *extra],
                       capture_output=True, text=True, timeout=timeout)
    with open(Path(cfg).parent / "casselastic.log", "a") as f:   # kept for post-mortems
        f.write("$ casselastic %s\n%s%s" % (cmd, p.stdout, p.stderr))
    if expect is not None:
        assert p.returncode == expect, "casselastic %s exited %d\nstdout:\n%s\nstderr:\n%s" % (
            cmd, p.returncode, p.stdout, p.stderr[-6000:])
    return p


def pyce_table(session, ks, table="items"):
    """PyCassElastic's test table."""
    session.execute("CREATE TABLE %s.%s (id int PRIMARY KEY, version bigint, text varchar, "
                    "source varchar, date timestamp)" % (ks, table), timeout=60)


def insert_pyce(session, ks, table, rid, version, text, source=None):
    """A row written as a user would: USING TIMESTAMP = version in microseconds."""
    session.execute(
        "INSERT INTO %s.%s (id, version, text, source, date) VALUES (%%s, %%s, %%s, %%s, %%s) "
        "USING TIMESTAMP %d" % (ks, table, version * 1000),
        (rid, version, text, source, datetime.datetime.fromtimestamp(version / 1000, datetime.timezone.utc)))


def write_lastruntime(folder, ms):
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    (Path(folder) / "lastruntime.log").write_text(t.strftime("%Y%m%d %H:%M"))


def rows_by_id(session, ks, table, cols="*"):
    return {r.id: r for r in session.execute("SELECT %s FROM %s.%s" % (cols, ks, table), timeout=60)}


def checkpoint(folder, sync, direction):
    return json.loads((Path(folder) / ("%s.%s.checkpoint.json" % (sync, direction))).read_text())


# ------------------------------------------------------------------ 1. C -> ES windows

def test_c2e_filter_date_reads_only_the_window(cassandra_session, keyspace, search, ce_bin, tmp_path,
                                               testbed_env, unique_name):
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    t = now_ms()
    recent = {i: t - 120000 + i for i in range(1, 11)}          # 2 minutes ago
    old = {i: t - 3600000 + i for i in range(101, 111)}         # an hour ago
    for rid, v in {**recent, **old}.items():
        insert_pyce(cassandra_session, keyspace, "items", rid, v, "text %d" % rid)
    write_lastruntime(tmp_path, t - 300000)                     # 5 minutes ago
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, filter_date=True)])
    run_ce(ce_bin, cfg)
    hits = search.hits(index)
    assert set(hits) == {str(i) for i in recent}
    for rid, v in recent.items():
        h = hits[str(rid)]
        assert h["_version"] == v                               # external version
        src = h["_source"]
        assert src["id"] == rid and src["version"] == v and src["text"] == "text %d" % rid
        assert src["source"] == "cassandra"                     # stamped
        assert src["date"].endswith("Z")                        # ISO 8601
        d = datetime.datetime.fromisoformat(src["date"].replace("Z", "+00:00"))
        assert int(d.timestamp() * 1000) == v
    m = search.mapping(index)
    assert m["version"]["type"] == "long" and m["source"]["type"] == "keyword"
    assert m["date"]["type"] == "date" and m["id"]["type"] == "integer"
    cp = checkpoint(tmp_path, "s1", "to_es")
    assert t - 5000 < cp["position_ms"] <= now_ms()


def test_c2e_without_filter_date_reads_every_row(cassandra_session, keyspace, search, ce_bin, tmp_path,
                                                 testbed_env, unique_name):
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    t = now_ms()
    versions = {i: t - 120000 + i for i in range(1, 11)}
    versions.update({i: t - 86400000 * 30 + i for i in range(11, 21)})
    for rid, v in versions.items():
        insert_pyce(cassandra_session, keyspace, "items", rid, v, "t%d" % rid)
    write_lastruntime(tmp_path, t - 300000)
    cfg = write_config(tmp_path, testbed_env, search.url, [sync_def("s1", keyspace, "items", index)])
    run_ce(ce_bin, cfg)
    hits = search.hits(index)
    assert {k: h["_source"]["version"] for k, h in hits.items()} == {str(k): v for k, v in versions.items()}


# ------------------------------------------------------------------ 2. ES -> Cassandra

def test_e2c_types_and_writetime(cassandra_session, keyspace, search, ce_bin, tmp_path, testbed_env,
                                 unique_name):
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"properties": {
        "id": {"type": "integer"}, "version": {"type": "long"}, "text": {"type": "text"},
        "source": {"type": "keyword"}, "date": {"type": "date"}}})
    t = now_ms() - 120000
    docs = {}
    for i in range(1, 21):
        v = t + i
        iso = datetime.datetime.fromtimestamp(v / 1000, datetime.timezone.utc).isoformat(timespec="milliseconds")
        docs[i] = {"id": i, "version": v, "text": "es text %d" % i, "date": iso.replace("+00:00", "Z")}
        search.index(index, i, docs[i])
    search.refresh(index)
    write_lastruntime(tmp_path, now_ms() - 300000)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, filter_date=True)])
    p = run_ce(ce_bin, cfg)
    # an empty table: nothing to guard against, so no version reads
    assert "table empty at pass start: no version reads" in p.stderr, p.stderr[-3000:]
    rows = {r.id: r for r in cassandra_session.execute(
        "SELECT id, version, text, source, date, WRITETIME(text) AS wt, WRITETIME(version) AS wv "
        "FROM %s.items" % keyspace)}
    assert set(rows) == set(docs)
    for i, d in docs.items():
        r = rows[i]
        assert r.version == d["version"] and r.text == d["text"]
        assert r.source == "elasticsearch"
        assert r.wt == d["version"] * 1000 and r.wv == d["version"] * 1000
        assert int(r.date.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000) == d["version"]


# ------------------------------------------------------------------ 3. both sides, newest wins

def test_both_sides_newest_version_wins(cassandra_session, keyspace, search, ce_bin, tmp_path,
                                        testbed_env, unique_name):
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"properties": {
        "id": {"type": "integer"}, "version": {"type": "long"}, "text": {"type": "keyword"},
        "source": {"type": "keyword"}, "date": {"type": "date"}}})
    base = now_ms() - 120000
    want = {}
    for i in range(1, 41):
        c_newer = i % 2 == 1
        vc = base + 1000 + i if c_newer else base + i
        ve = base + i if c_newer else base + 1000 + i
        insert_pyce(cassandra_session, keyspace, "items", i, vc, "cassandra %d" % vc)
        search.index(index, i, {"id": i, "version": ve, "text": "es %d" % ve, "source": "elasticsearch"})
        want[i] = (max(vc, ve), ("cassandra %d" % vc) if c_newer else ("es %d" % ve))
    search.refresh(index)
    write_lastruntime(tmp_path, now_ms() - 300000)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, filter_date=True)])
    run_ce(ce_bin, cfg)
    rows = rows_by_id(cassandra_session, keyspace, "items")
    hits = search.hits(index)
    for i, (v, text) in want.items():
        assert (rows[i].version, rows[i].text) == (v, text), "cassandra id %d" % i
        src = hits[str(i)]["_source"]
        assert (src["version"], src["text"]) == (v, text), "search id %d" % i
        if i % 2 == 1:   # copied from Cassandra: external version
            assert hits[str(i)]["_version"] == v


def test_newest_version_wins_whatever_the_cassandra_timestamps(cassandra_session, keyspace, search,
                                                              ce_bin, tmp_path, testbed_env, unique_name):
    """Versions decide, not write timestamps: rows written PyCassElastic's way (USING TIMESTAMP
    = version in *milliseconds*, far below version x 1000) keep their newer version against an
    older document, and rows written with the clock (a timestamp above version x 1000) still
    take a newer document's version."""
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    base = now_ms() - 120000
    clock_us = int(time.time() * 1e6) + 3600 * 10**6     # a writer whose clock runs ahead
    want = {}
    for i in range(1, 21):
        c_newer = i % 2 == 1
        vc = base + 1000 + i if c_newer else base + i
        ve = base + i if c_newer else base + 1000 + i
        ts = vc if c_newer else clock_us                   # ms-as-us, or a clock ahead
        cassandra_session.execute(
            "INSERT INTO %s.items (id, version, text, source) VALUES (%%s, %%s, %%s, 'cassandra') "
            "USING TIMESTAMP %d" % (keyspace, ts), (i, vc, "cassandra %d" % vc))
        search.index(index, i, {"id": i, "version": ve, "text": "es %d" % ve, "source": "elasticsearch"})
        want[i] = (max(vc, ve), ("cassandra %d" % vc) if c_newer else ("es %d" % ve))
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, filter_date=True)])
    p = run_ce(ce_bin, cfg, extra=("--since", "20200101 00:00"))
    assert "skipped 10" in p.stdout, p.stdout     # the 10 older documents were not written
    rows = rows_by_id(cassandra_session, keyspace, "items", "id, version, text, writetime(text) AS wt")
    hits = search.hits(index)
    for i, (v, text) in want.items():
        assert (rows[i].version, rows[i].text) == (v, text), "cassandra id %d" % i
        src = hits[str(i)]["_source"]
        assert (src["version"], src["text"]) == (v, text), "search id %d" % i
        if i % 2 == 0:   # the document's newer version was written above the clock's timestamp
            assert rows[i].wt > clock_us
    # a second pass changes nothing on either side
    run_ce(ce_bin, cfg)
    rows2 = rows_by_id(cassandra_session, keyspace, "items", "id, version, text, writetime(text) AS wt")
    assert rows2 == rows
    assert {k: h["_version"] for k, h in search.hits(index).items()} == {k: h["_version"] for k, h in hits.items()}


@pytest.mark.parametrize("layout", ["one_key_column", "composite_key"])
def test_version_guard_over_pages_and_replicas(cassandra_session, keyspace, opensearch_only, ce_bin,
                                               tmp_path, testbed_env, unique_name, layout):
    """The version guard over several search pages, many rows per replica (more than one
    IN group each) and both key layouts (IN reads by replica; one read per row): a third
    of the documents are older than their row (skipped), a third newer than a row written
    with a clock ahead (written above that clock), a third have no row (written)."""
    search = opensearch_only
    if layout == "one_key_column":
        cassandra_session.execute("CREATE TABLE %s.g (id int PRIMARY KEY, version bigint, text text, "
                                  "source text, date timestamp)" % keyspace, timeout=60)
        id_col, key = "id", lambda i: str(i)
    else:
        cassandra_session.execute("CREATE TABLE %s.g (id int, part text, version bigint, text text, "
                                  "source text, date timestamp, PRIMARY KEY ((id), part))" % keyspace,
                                  timeout=60)
        id_col, key = "id,part", lambda i: "%d:p" % i
    index = unique_name("ix")
    search.track(index)
    base = now_ms() - 120000
    clock_us = int(time.time() * 1e6) + 3600 * 10**6
    n = 1000
    docs, want = {}, {}
    cols = "id, version, text, source" + (", part" if layout == "composite_key" else "")
    ins = cassandra_session.prepare("INSERT INTO %s.g (%s) VALUES (%s) USING TIMESTAMP ?"
                                    % (keyspace, cols, ",".join("?" * len(cols.split(",")))))
    for i in range(n):
        ve = base + 10 * i + 5
        extra = ("p",) if layout == "composite_key" else ()
        if i % 3 == 0:      # Cassandra newer: the document is skipped
            cassandra_session.execute(ins, (i, ve + 1, "cassandra", "cassandra") + extra + (ve * 1000,))
            want[i] = (ve + 1, "cassandra")
        elif i % 3 == 1:    # document newer than a row written with a clock ahead
            cassandra_session.execute(ins, (i, ve - 1, "cassandra", "cassandra") + extra + (clock_us,))
            want[i] = (ve, "es")
        else:               # no row yet
            want[i] = (ve, "es")
        doc = {"id": i, "version": ve, "text": "es", "source": "elasticsearch"}
        if layout == "composite_key":
            doc["part"] = "p"
        docs[key(i)] = doc
    search.bulk_index(index, docs)
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("g", keyspace, "g", index, id_col=id_col, direction="to_cassandra",
                                 es_page_size=300, alter_table=False)])
    p = run_ce(ce_bin, cfg)
    assert "no version reads" not in p.stderr
    skipped = len([i for i in range(n) if i % 3 == 0])
    assert "read %d, written %d, skipped %d" % (n, n - skipped, skipped) in p.stdout, p.stdout
    rows = {r.id: r for r in cassandra_session.execute(
        "SELECT id, version, text, writetime(text) AS wt FROM %s.g" % keyspace)}
    assert len(rows) == n
    for i, (v, text) in want.items():
        assert (rows[i].version, rows[i].text) == (v, text), "id %d" % i
        if i % 3 == 1:
            assert rows[i].wt > clock_us, "id %d" % i
        if i % 3 == 2:
            assert rows[i].wt == v * 1000, "id %d" % i


def test_rebuilt_index_gets_rows_that_came_from_elasticsearch(cassandra_session, keyspace, search, ce_bin,
                                                               tmp_path, testbed_env, unique_name):
    """Rows whose source says they came from Elasticsearch are echoes only while the index
    holds documents: an index that is new (deleted and rebuilt, say) or empty at the start of
    an initial pass gets every row; once it holds them, later passes skip those rows again."""
    pyce_table(cassandra_session, keyspace)
    base = now_ms() - 120000
    for i in range(1, 11):   # written as E->C writes: every column with the same timestamp
        insert_pyce(cassandra_session, keyspace, "items", i, base + i, "text %d" % i,
                    "elasticsearch" if i % 2 else "cassandra")
    index = unique_name("ix")
    search.track(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_es")])
    p = run_ce(ce_bin, cfg)
    assert "read 10, indexed 10, conflicts 0, skipped 0" in p.stdout, p.stdout
    assert "index new or empty" in p.stderr
    assert set(search.hits(index)) == {str(i) for i in range(1, 11)}
    # the index holds them: a re-read of the same rows skips the five from Elasticsearch
    p = run_ce(ce_bin, cfg, extra=("--since", "20200101 00:00"))
    assert "read 10, indexed 0, conflicts 5, skipped 5" in p.stdout, p.stdout
    # deleted and rebuilt from a date: all ten again
    search.delete(index)
    p = run_ce(ce_bin, cfg, extra=("--since", "20200101 00:00"))
    assert "read 10, indexed 10, conflicts 0, skipped 0" in p.stdout, p.stdout
    assert set(search.hits(index)) == {str(i) for i in range(1, 11)}
    # an empty index made by someone else, before the first pass: every row too
    index2 = unique_name("ix2")
    search.track(index2)
    search.create(index2)
    cfg2 = write_config(tmp_path / "second" if (tmp_path / "second").mkdir() is None else tmp_path, testbed_env,
                        search.url, [sync_def("s2", keyspace, "items", index2, direction="to_es")])
    p = run_ce(ce_bin, cfg2)
    assert "read 10, indexed 10, conflicts 0, skipped 0" in p.stdout, p.stdout


# ------------------------------------------------------------------ 4. schema evolution

def test_new_index_field_becomes_typed_column(cassandra_session, keyspace, search, ce_bin, tmp_path,
                                              testbed_env, unique_name):
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"properties": {
        "id": {"type": "integer"}, "version": {"type": "long"}, "text": {"type": "text"},
        "color": {"type": "keyword"}, "qty": {"type": "long"}, "ratio": {"type": "double"},
        "flag": {"type": "boolean"}, "seen": {"type": "date"}, "addr": {"type": "ip"},
        "date": {"type": "boolean"}}})
    v = now_ms() - 60000
    for i in range(1, 6):
        search.index(index, i, {"id": i, "version": v + i, "text": "x", "color": "red%d" % i, "qty": i * 10,
                                "ratio": i / 4, "flag": i % 2 == 0, "seen": "2026-01-02T03:04:05.678Z",
                                "addr": "10.0.0.%d" % i, "date": True})
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, filter_date=True, direction="to_cassandra")])
    p = run_ce(ce_bin, cfg, extra=("--since", datetime.datetime.fromtimestamp(
        (v - 600000) / 1000, datetime.timezone.utc).strftime("%Y%m%d %H:%M")))
    # "date" is a timestamp column but a boolean in the index: reported, field skipped
    assert "type conflict" in p.stderr
    cassandra_session.cluster.control_connection.wait_for_schema_agreement(wait_time=30)
    cols = {r.column_name: r.type for r in cassandra_session.execute(
        "SELECT column_name, type FROM system_schema.columns WHERE keyspace_name=%s AND table_name='items'",
        (keyspace,))}
    assert cols["color"] == "text" and cols["qty"] == "bigint" and cols["ratio"] == "double"
    assert cols["flag"] == "boolean" and cols["seen"] == "timestamp" and cols["addr"] == "inet"
    rows = {r.id: r for r in cassandra_session.execute(
        "SELECT id, color, qty, ratio, flag, seen, addr, date FROM %s.items" % keyspace)}
    assert len(rows) == 5
    for i in range(1, 6):
        r = rows[i]
        assert (r.color, r.qty, r.ratio, r.flag, r.addr) == ("red%d" % i, i * 10, i / 4, i % 2 == 0,
                                                             "10.0.0.%d" % i)
        assert r.seen == datetime.datetime(2026, 1, 2, 3, 4, 5, 678000)
        assert r.date is None


# ------------------------------------------------------------------ 5. several syncs, no echo

def test_several_syncs_and_no_echo(cassandra_session, keyspace, search, ce_bin, tmp_path, testbed_env,
                                   unique_name):
    ix = [unique_name("ixa"), unique_name("ixb")]
    for i, table in enumerate(("a", "b")):
        pyce_table(cassandra_session, keyspace, table)
        search.track(ix[i])
        search.create(ix[i], mappings={"properties": {
            "id": {"type": "integer"}, "version": {"type": "long"}, "text": {"type": "keyword"},
            "source": {"type": "keyword"}, "date": {"type": "date"}}})
    v = now_ms() - 20000
    # one user write on each side of each sync
    insert_pyce(cassandra_session, keyspace, "a", 1, v, "from cassandra a")
    insert_pyce(cassandra_session, keyspace, "b", 1, v + 1, "from cassandra b")
    search.index(ix[0], 2, {"id": 2, "version": v + 2, "text": "from search a"})
    search.index(ix[1], 2, {"id": 2, "version": v + 3, "text": "from search b"})
    search.refresh(ix[0])
    search.refresh(ix[1])
    syncs = [sync_def("sa", keyspace, "a", ix[0], filter_date=True),
             sync_def("sb", keyspace, "b", ix[1], filter_date=True)]
    cfg = write_config(tmp_path, testbed_env, search.url, syncs)
    since = ("--since", datetime.datetime.fromtimestamp((v - 600000) / 1000,
                                                        datetime.timezone.utc).strftime("%Y%m%d %H:%M"))
    states = []
    for n in range(3):
        p = run_ce(ce_bin, cfg, extra=since if n == 0 else ())
        # each sync logs its own summary lines
        assert "sync=sa" in p.stderr and "sync=sb" in p.stderr
        st = {}
        for i, table in enumerate(("a", "b")):
            hits = search.hits(ix[i])
            st[table, "es"] = {k: (h["_seq_no"], h["_version"], h["_source"]["text"]) for k, h in hits.items()}
            st[table, "c"] = {r.id: (r.wt, r.text, r.source) for r in cassandra_session.execute(
                "SELECT id, text, source, WRITETIME(text) AS wt FROM %s.%s" % (keyspace, table))}
        states.append(st)
    first = states[0]
    for i, table in enumerate(("a", "b")):
        assert set(first[table, "es"]) == {"1", "2"} and set(first[table, "c"]) == {1, 2}
        assert first[table, "c"][2][2] == "elasticsearch"
        assert first[table, "es"]["1"][2] == "from cassandra %s" % table
        assert first[table, "c"][2][1] == "from search %s" % table
    # quiet afterwards: no new write on either side
    assert states[1] == first and states[2] == first


# ------------------------------------------------------------------ 6. late rows within the overlap

def test_late_row_within_overlap_arrives(cassandra_session, keyspace, opensearch_only, ce_bin, tmp_path,
                                         testbed_env, unique_name):
    search = opensearch_only
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    insert_pyce(cassandra_session, keyspace, "items", 1, now_ms() - 30000, "first")
    write_lastruntime(tmp_path, now_ms() - 300000)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, filter_date=True, direction="to_es",
                                 overlap_ms=60000)])
    run_ce(ce_bin, cfg)
    end1 = checkpoint(tmp_path, "s1", "to_es")["position_ms"]
    # a late writer: stamped before the end of the window already read, within the overlap
    insert_pyce(cassandra_session, keyspace, "items", 2, end1 - 10000, "late")
    # and one too old to be seen by an incremental pass (before checkpoint - overlap)
    insert_pyce(cassandra_session, keyspace, "items", 3, end1 - 600000, "ancient")
    run_ce(ce_bin, cfg)
    hits = search.hits(index)
    assert set(hits) == {"1", "2"}
    assert hits["2"]["_source"]["text"] == "late"
    assert checkpoint(tmp_path, "s1", "to_es")["position_ms"] > end1


# ------------------------------------------------------------------ 8. dead letters

def test_unconvertible_document_goes_to_dead_letter(cassandra_session, keyspace, opensearch_only, ce_bin,
                                                    tmp_path, testbed_env, unique_name):
    search = opensearch_only
    cassandra_session.execute("CREATE TABLE %s.items (id int PRIMARY KEY, version bigint, text varchar, "
                              "source varchar, qty int, date timestamp)" % keyspace)
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"properties": {
        "id": {"type": "integer"}, "version": {"type": "long"}, "text": {"type": "keyword"},
        "qty": {"type": "keyword"}, "source": {"type": "keyword"}}})
    v = now_ms() - 60000
    for i in range(1, 11):
        search.index(index, i, {"id": i, "version": v + i, "text": "ok %d" % i, "qty": str(i)})
    search.index(index, 11, {"id": 11, "version": v + 11, "text": "bad", "qty": "many"})
    search.index(index, 12, {"id": 12, "text": "no version"})
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, filter_date=True, direction="to_cassandra")])
    # no checkpoint and no lastruntime.log: the window starts at the epoch (the doc without a
    # version is outside every version window and is never read)
    run_ce(ce_bin, cfg)
    rows = rows_by_id(cassandra_session, keyspace, "items")
    assert set(rows) == set(range(1, 11))
    assert all(rows[i].qty == i for i in range(1, 11))
    dl = Path(tmp_path) / "casselastic.deadletter.jsonl"
    lines = [json.loads(x) for x in dl.read_text().splitlines() if x.strip()]
    bad = [x for x in lines if x["id"] == "11"]
    assert len(bad) == 1, lines
    assert bad[0]["sync"] == "s1" and bad[0]["direction"] == "to_cassandra"
    assert "qty" in bad[0]["reason"] and bad[0]["doc"]["qty"] == "many"


@pytest.mark.parametrize("batch_rows", [1, 10])
def test_document_cassandra_refuses_goes_to_dead_letter(cassandra_session, keyspace, opensearch_only, ce_bin,
                                                        tmp_path, testbed_env, unique_name, batch_rows):
    """A document Cassandra itself refuses (a partition key over 64 KiB; the _id is another
    column): with writes sent one by one or in unlogged batches of one replica's rows, that
    document goes to the dead letter file with Cassandra's reason and every other document
    is written."""
    search = opensearch_only
    cassandra_session.execute("CREATE TABLE %s.items (pk text PRIMARY KEY, id text, version bigint, "
                              "text varchar, source varchar)" % keyspace)
    index = unique_name("ix")
    search.track(index)
    v = now_ms() - 60000
    docs = {"k%d" % i: {"pk": "p%d" % i, "id": "k%d" % i, "version": v + i, "text": "ok %d" % i}
            for i in range(60)}
    docs["big"] = {"pk": "x" * 70000, "id": "big", "version": v, "text": "too long a key"}
    # an older row: the table is not empty, so the version guard reads (and meets the bad key)
    cassandra_session.execute("INSERT INTO %s.items (pk, id, version, text) VALUES ('p0', 'k0', %d, 'old')"
                              % (keyspace, v - 1000))
    search.bulk_index(index, docs)
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_cassandra",
                                 write_batch_rows=batch_rows)])
    p = run_ce(ce_bin, cfg)
    assert "read 61, written 60, skipped 0, rejected 1, failed 0" in p.stdout, p.stdout
    assert "no version reads" not in p.stderr
    rows = {r.pk: r for r in cassandra_session.execute("SELECT pk, version, text FROM %s.items" % keyspace)}
    assert set(rows) == {"p%d" % i for i in range(60)}
    assert all(rows["p%d" % i].version == v + i for i in range(60))
    dl = Path(tmp_path) / "casselastic.deadletter.jsonl"
    lines = [json.loads(x) for x in dl.read_text().splitlines() if x.strip()]
    assert [x["id"] for x in lines] == ["big"], lines
    assert "cassandra refused the write" in lines[0]["reason"], lines[0]["reason"]


def test_rejected_row_goes_to_dead_letter(cassandra_session, keyspace, opensearch_only, ce_bin, tmp_path,
                                          testbed_env, unique_name):
    """A row Elasticsearch refuses (400) is dead-lettered; the others are indexed and the
    checkpoint moves."""
    search = opensearch_only
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"properties": {"text": {"type": "integer"}}})
    v = now_ms() - 60000
    insert_pyce(cassandra_session, keyspace, "items", 1, v, "12")
    insert_pyce(cassandra_session, keyspace, "items", 2, v + 1, "not a number")
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_es")])
    run_ce(ce_bin, cfg)
    assert set(search.hits(index)) == {"1"}
    lines = [json.loads(x) for x in (Path(tmp_path) / "casselastic.deadletter.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ["2"]
    assert lines[0]["doc"]["text"] == "not a number" and "rejected" in lines[0]["reason"]
    assert checkpoint(tmp_path, "s1", "to_es")["position_ms"] > v


# ------------------------------------------------------------------ 10. every CQL type round-trips

TYPES_TABLE = """CREATE TABLE {ks}.{t} (
  id int, k2 text, version bigint, c_ascii ascii, c_bigint bigint, c_blob blob, c_boolean boolean,
  c_date date, c_decimal decimal, c_double double, c_float float, c_inet inet, c_int int,
  c_smallint smallint, c_text text, c_time time, c_timestamp timestamp, c_timeuuid timeuuid,
  c_tinyint tinyint, c_uuid uuid, c_varint varint, c_duration duration,
  c_list list<int>, c_set set<text>, c_map map<text, int>, c_imap map<int, text>,
  c_tuple frozen<tuple<int, text>>, c_udt frozen<pt>, c_vector vector<float, 3>,
  c_nan double, c_null text,
  PRIMARY KEY ((id), k2))"""


def test_every_cql_type_round_trips(cassandra_session, keyspace, search, ce_bin, tmp_path, testbed_env,
                                    unique_name):
    from cassandra.util import Date, Duration, Time
    s = cassandra_session
    s.execute("CREATE TYPE %s.pt (x int, label text)" % keyspace)
    s.execute(TYPES_TABLE.format(ks=keyspace, t="src"))
    s.execute(TYPES_TABLE.format(ks=keyspace, t="dst"))
    index = unique_name("ix")
    search.track(index)
    s.cluster.register_user_type(keyspace, "pt", dict)
    cols = ("id, k2, version, c_ascii, c_bigint, c_blob, c_boolean, c_date, c_decimal, c_double, c_float, "
            "c_inet, c_int, c_smallint, c_text, c_time, c_timestamp, c_timeuuid, c_tinyint, c_uuid, c_varint, "
            "c_duration, c_list, c_set, c_map, c_imap, c_tuple, c_vector, c_nan")
    ins = s.prepare("INSERT INTO %s.src (%s) VALUES (%s)" % (keyspace, cols, ",".join("?" * len(cols.split(",")))))
    v = now_ms() - 60000
    for i in range(1, 6):
        s.execute(ins, (i, "k:%d\\x" % i, v + i, "ascii%d" % i, -(2 ** 62) + i, bytes([i, 0, 255]), i % 2 == 0,
                        Date(20000 + i), Decimal("12345.678%d" % i), 1.0 / 3 + i, 1.5 + i, "2001:db8::%d" % i,
                        -i, 300 + i, "héllo \"%d\" ☃" % i, Time(3600 * 10 ** 9 + i), 
                        datetime.datetime(2026, 11, 25, 10, 0, 0, 123000 + i * 1000),
                        uuid.uuid1(), -100 + i, uuid.uuid4(), 10 ** 17 + i, Duration(1, 2, 3000 + i),
                        [i, i + 1], {"a%d" % i, "b"}, {"x": i, "y": -i}, {i: "one", 7: "seven"},
                        (i, "t%d" % i), [0.5 + i, -1.25, 3.0], float("nan") if i == 1 else 2.5))
        s.execute("UPDATE %s.src SET c_udt = {x: %d, label: 'p%d'} WHERE id = %d AND k2 = %%s"
                  % (keyspace, i, i, i), ("k:%d\\x" % i,))
    syncs = [sync_def("c2e", keyspace, "src", index, id_col="id,k2", direction="to_es", date_col="c_timestamp"),
             sync_def("e2c", keyspace, "dst", index, id_col="id,k2", direction="to_cassandra",
                      date_col="c_timestamp", ignore_same_source=False, alter_table=False)]
    cfg = write_config(tmp_path, testbed_env, search.url, syncs)
    run_ce(ce_bin, cfg)
    hits = search.hits(index)
    assert len(hits) == 5
    assert "1:k\\:1\\\\x" in hits                       # composite _id, escaped
    src = {(r.id, r.k2): r for r in s.execute("SELECT * FROM %s.src" % keyspace)}
    dst = {(r.id, r.k2): r for r in s.execute("SELECT * FROM %s.dst" % keyspace)}
    assert set(dst) == set(src)
    for key, a in src.items():
        b = dst[key]
        for col in a._fields:
            x, y = getattr(a, col), getattr(b, col)
            if col == "c_nan" and isinstance(x, float) and x != x:
                assert y != y, col
            elif col == "c_vector":
                assert list(x) == list(y), col
            else:
                assert x == y, "%s: %r != %r" % (col, x, y)


# ------------------------------------------------------------------ read modes and layouts

def test_buckets_read_only_the_window(cassandra_session, keyspace, opensearch_only, ce_bin, tmp_path,
                                      testbed_env, unique_name):
    """read_mode buckets: the partition key is an hourly bucket; only buckets overlapping the
    window are read."""
    search = opensearch_only
    s = cassandra_session
    s.execute("CREATE TABLE %s.ev (bucket text, id int, version bigint, text text, source text, date timestamp, "
              "PRIMARY KEY (bucket, id))" % keyspace)
    ins = s.prepare("INSERT INTO %s.ev (bucket, id, version, text) VALUES (?, ?, ?, ?)" % keyspace)

    def bucket(ms):
        return time.strftime("%Y%m%d%H", time.gmtime(ms // 1000))

    t = now_ms()
    recent = {i: t - 90000 - i * 1000 for i in range(1, 21)}          # the last two minutes
    old = {i: t - 5 * 3600000 - i for i in range(100, 110)}           # five hours ago
    for i, v in {**recent, **old}.items():
        s.execute(ins, (bucket(v), i, v, "row %d" % i))
    index = unique_name("ix")
    search.track(index)
    write_lastruntime(tmp_path, t - 300000)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("ev", keyspace, "ev", index, read_mode="buckets", direction="to_es",
                                 bucket={"column": "bucket", "format": "%Y%m%d%H", "seconds": 3600})])
    p = run_ce(ce_bin, cfg)
    assert "mode=buckets" in p.stderr
    hits = search.hits(index)
    assert set(hits) == {str(i) for i in recent}
    assert all(hits[str(i)]["_source"]["bucket"] == bucket(v) for i, v in recent.items())


def test_pycasselastic_id_version_layout_deletes_old_versions(cassandra_session, keyspace, opensearch_only,
                                                              ce_bin, tmp_path, testbed_env, unique_name):
    """PRIMARY KEY (id, version) with filter_date: each update is a new row; once the newest is
    in Elasticsearch the older rows are deleted from Cassandra (delete_old_versions)."""
    search = opensearch_only
    s = cassandra_session
    s.execute("CREATE TABLE %s.items (id int, version bigint, text varchar, source varchar, date timestamp, "
              "PRIMARY KEY (id, version))" % keyspace)
    t = now_ms() - 100000
    for i in range(1, 6):
        for k in range(3):                                               # three versions per id
            insert_pyce(s, keyspace, "items", i, t + k * 1000 + i, "v%d of %d" % (k, i))
    index = unique_name("ix")
    search.track(index)
    write_lastruntime(tmp_path, now_ms() - 300000)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, filter_date=True, direction="to_es")])
    run_ce(ce_bin, cfg)
    hits = search.hits(index)
    assert set(hits) == {str(i) for i in range(1, 6)}
    for i in range(1, 6):
        assert hits[str(i)]["_source"]["version"] == t + 2000 + i
        assert hits[str(i)]["_source"]["text"] == "v2 of %d" % i
    rows = list(s.execute("SELECT id, version FROM %s.items" % keyspace))
    assert sorted((r.id, r.version) for r in rows) == [(i, t + 2000 + i) for i in range(1, 6)]
