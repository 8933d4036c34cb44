"""Poison items never stall a direction (issue 11): a document the server refuses for its
size (413, through a small proxy here: the shared test bed's servers cannot be restarted
with a small http.max_content_length) is split out of its bulk and dead-lettered with the
reason, every other row is indexed, the checkpoint moves, and the next pass is quiet.

Oracles: the index read with the official clients, the dead-letter file, the checkpoint.
"""
import json
from pathlib import Path

from test_es_client import FaultProxy
from test_sync_engine import (checkpoint, insert_pyce, now_ms, opensearch_only, pyce_table, run_ce,  # noqa: F401
                              search, sync_def, write_config)


class TooLargeProxy(FaultProxy):
    """FaultProxy that answers 413 to any _bulk request whose body is over max_body bytes
    (as Elasticsearch does past http.max_content_length) and forwards everything else."""

    def __init__(self, target, max_body):
        super().__init__(target)
        self.max_body = max_body
        self.refused = []   # body sizes answered 413

    def handle(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        if h.command == "POST" and h.path.split("?")[0].endswith("/_bulk") and n > self.max_body:
            h.rfile.read(n)
            with self.lock:
                self.refused.append(n)
            self._reply(h, 413, "text/plain", b"")
            return
        super().handle(h)


def dead_letters(folder):
    dl = Path(folder) / "casselastic.deadletter.jsonl"
    return [json.loads(x) for x in dl.read_text().splitlines() if x.strip()] if dl.exists() else []


def test_document_too_large_is_dead_lettered(cassandra_session, keyspace, search, ce_bin, tmp_path, testbed_env,
                                            unique_name):
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    v0 = now_ms() - 600000  # older than the overlap: the next pass's window starts after it
    for i in range(1, 61):
        insert_pyce(cassandra_session, keyspace, "items", i, v0 + i, ("big " * 40000) if i == 17 else "row %d" % i)
    with TooLargeProxy(search.url, max_body=64 * 1024) as px:
        cfg = write_config(tmp_path, testbed_env, px.url,
                           [sync_def("s1", keyspace, "items", index, direction="to_es", filter_date=True)])
        p = run_ce(ce_bin, cfg)
        assert px.refused, "the proxy never answered 413"
        assert min(px.refused) > 64 * 1024
        search.refresh(index)
        assert set(search.hits(index)) == {str(i) for i in range(1, 61)} - {"17"}
        bad = dead_letters(tmp_path)
        assert [x["id"] for x in bad] == ["17"], bad
        assert "too large: 413" in bad[0]["reason"], bad
        assert bad[0]["doc"]["text"].startswith("big ")
        assert checkpoint(tmp_path, "s1", "to_es")["position_ms"] > v0 + 60
        assert "rejected 1" in p.stdout, p.stdout
        # the next pass is quiet: nothing new to read, nothing refused
        n413 = len(px.refused)
        p = run_ce(ce_bin, cfg)
        assert "rejected 0" in p.stdout and "failed 0" in p.stdout, p.stdout
        assert len(px.refused) == n413
        assert len(dead_letters(tmp_path)) == 1


def find_key(obj, key):
    """Every value of `key` anywhere in a JSON document."""
    if isinstance(obj, dict):
        return ([obj[key]] if key in obj else []) + [v for x in obj.values() for v in find_key(x, key)]
    if isinstance(obj, list):
        return [v for x in obj for v in find_key(x, key)]
    return []


def test_e2c_poison_documents_never_stall(cassandra_session, keyspace, opensearch_only, ce_bin, tmp_path,
                                         testbed_env, unique_name):
    """E->C: a value the column cannot take, a write Cassandra refuses and a document without
    the version field (never read by a version window: counted and warned about) do not hold
    the direction: the others are written and the checkpoint moves past them."""
    search = opensearch_only
    cassandra_session.execute("CREATE TABLE %s.items (pk text PRIMARY KEY, id text, version bigint, "
                              "qty int, text varchar, source varchar)" % keyspace, timeout=60)
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"properties": {"qty": {"type": "keyword"}, "version": {"type": "long"}}})
    v0 = now_ms() - 600000
    docs = {"k%d" % i: {"pk": "p%d" % i, "id": "k%d" % i, "version": v0 + i, "qty": i} for i in range(40)}
    docs["k5"]["qty"] = "many"                               # cannot be converted
    docs["k9"]["pk"] = "x" * 70000                           # Cassandra refuses the key
    docs["nov"] = {"pk": "pnov", "id": "nov", "qty": 1}      # no version field
    search.bulk_index(index, docs)
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_cassandra", alter_table=False)])
    p = run_ce(ce_bin, cfg)
    assert "read 40, written 38, skipped 0, rejected 2, failed 0" in p.stdout, p.stdout
    assert "without version 1" in p.stdout, p.stdout
    assert "documents without the version field are never read" in p.stderr
    rows = {r.pk for r in cassandra_session.execute("SELECT pk FROM %s.items" % keyspace)}
    assert rows == {"p%d" % i for i in range(40)} - {"p5", "p9"}
    assert sorted(x["id"] for x in dead_letters(tmp_path)) == ["k5", "k9"]
    assert checkpoint(tmp_path, "s1", "to_cassandra")["position_ms"] > v0 + 40
    st = json.loads((Path(tmp_path) / "casselastic.status.json").read_text())
    assert 1 in find_key(st, "no_version"), st
    p = run_ce(ce_bin, cfg)
    assert "read 0, written 0, skipped 0, rejected 0, failed 0" in p.stdout, p.stdout
    assert len(dead_letters(tmp_path)) == 2


def varint_poison_rows(cassandra_session, keyspace, v0, n):
    """Table items (id, version, n varint, date) with rows 1..n at version v0 + id; row 4's
    varint is over the 10,000-digit limit (it cannot be converted)."""
    import datetime
    cassandra_session.execute("CREATE TABLE %s.items (id int PRIMARY KEY, version bigint, n varint, "
                              "date timestamp)" % keyspace, timeout=60)
    ins = cassandra_session.prepare("INSERT INTO %s.items (id, version, n, date) VALUES (?, ?, ?, ?)" % keyspace)
    for i in range(1, n + 1):
        cassandra_session.execute(ins, (i, v0 + i, 10 ** 10001 if i == 4 else i,
                                        datetime.datetime.fromtimestamp((v0 + i) / 1000, datetime.timezone.utc)))


def test_c2e_unconvertible_row_never_stalls(cassandra_session, keyspace, opensearch_only, ce_bin, tmp_path,
                                           testbed_env, unique_name):
    """C->E: a value that cannot be converted (a varint over the 10,000-digit limit) is a dead
    letter; the other rows are indexed and the checkpoint moves past it."""
    search = opensearch_only
    index = unique_name("ix")
    search.track(index)
    v0 = now_ms() - 600000
    varint_poison_rows(cassandra_session, keyspace, v0, 20)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_es", filter_date=True)])
    p = run_ce(ce_bin, cfg)
    assert "rejected 1" in p.stdout, p.stdout
    search.refresh(index)
    assert set(search.hits(index)) == {str(i) for i in range(1, 21)} - {"4"}
    bad = dead_letters(tmp_path)
    assert [x["id"] for x in bad] == ["4"] and "cannot be converted" in bad[0]["reason"], bad
    assert checkpoint(tmp_path, "s1", "to_es")["position_ms"] > v0 + 20
    p = run_ce(ce_bin, cfg)
    assert "rejected 0" in p.stdout and len(dead_letters(tmp_path)) == 1, p.stdout


def pass_line(stderr, direction):
    """The one summary line of a direction's pass."""
    lines = [x for x in stderr.splitlines() if "dir=%s" % direction in x and 'msg="pass done"' in x]
    assert len(lines) == 1, stderr[-4000:]
    return lines[0]


def direction_totals(folder, direction):
    st = json.loads((Path(folder) / "casselastic.status.json").read_text())
    return st["syncs"][0]["directions"][direction]


def test_e2c_poison_document_costs_one_dead_letter_line(cassandra_session, keyspace, opensearch_only, ce_bin,
                                                        tmp_path, testbed_env, unique_name):
    """E->C: a document whose field the column cannot take, read again by three passes (its
    version stays inside the windows' overlap), is one dead-letter line: the first pass counts
    it rejected, the later ones count it as a repeat (pass line dead_letter_repeats=1,
    rejected 0, status and metric totals 0). A newer version of it, still poison, is a
    second line."""
    search = opensearch_only
    cassandra_session.execute("CREATE TABLE %s.items (pk text PRIMARY KEY, id text, version bigint, "
                              "qty int, text varchar, source varchar)" % keyspace, timeout=60)
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"properties": {"qty": {"type": "keyword"}, "version": {"type": "long"}}})
    v0 = now_ms() - 5000  # inside the next passes' overlap (60 s)
    docs = {"k%d" % i: {"pk": "p%d" % i, "id": "k%d" % i, "version": v0 + i, "qty": i} for i in range(10)}
    docs["k5"]["qty"] = "many"  # cannot be converted to int
    search.bulk_index(index, docs)
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_cassandra", alter_table=False)])
    for n in range(3):
        p = run_ce(ce_bin, cfg)
        line = pass_line(p.stderr, "to_cassandra")
        assert "read 10," in p.stdout, p.stdout  # the overlap reads every document again
        if n == 0:
            assert "rejected 1," in p.stdout and "rejected=1 " in line, p.stdout + line
            assert "dead_letter_repeats" not in line, line
        else:
            assert "rejected 0," in p.stdout and "rejected=0 " in line, p.stdout + line
            assert "dead_letter_repeats=1" in line, line
        assert "failed 0" in p.stdout, p.stdout
        assert direction_totals(tmp_path, "to_cassandra")["dead_letters_total"] == (1 if n == 0 else 0)
    bad = dead_letters(tmp_path)
    assert [x["id"] for x in bad] == ["k5"], bad
    assert bad[0]["doc"]["qty"] == "many"
    rows = {r.pk: r.qty for r in cassandra_session.execute("SELECT pk, qty FROM %s.items" % keyspace)}
    assert rows == {"p%d" % i: i for i in range(10) if i != 5}
    assert checkpoint(tmp_path, "s1", "to_cassandra")["last_rejected"] == 0

    # a newer version, still poison: a new line (the old one is not repeated)
    search.bulk_index(index, {"k5": {"pk": "p5", "id": "k5", "version": now_ms() - 1000, "qty": "lots"}})
    search.refresh(index)
    p = run_ce(ce_bin, cfg)
    assert "rejected 1," in p.stdout, p.stdout
    assert "dead_letter_repeats" not in pass_line(p.stderr, "to_cassandra")
    bad = dead_letters(tmp_path)
    assert [(x["id"], x["doc"]["qty"]) for x in bad] == [("k5", "many"), ("k5", "lots")], bad


def test_c2e_poison_row_costs_one_dead_letter_line(cassandra_session, keyspace, opensearch_only, ce_bin, tmp_path,
                                                  testbed_env, unique_name):
    """C->E: a row that cannot be converted (a varint over the 10,000-digit limit), read again
    by the next pass's overlap, is one dead-letter line; the second pass counts a repeat."""
    search = opensearch_only
    index = unique_name("ix")
    search.track(index)
    v0 = now_ms() - 5000
    varint_poison_rows(cassandra_session, keyspace, v0, 10)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_es", filter_date=True)])
    p = run_ce(ce_bin, cfg)
    assert "rejected 1," in p.stdout and "dead_letter_repeats" not in pass_line(p.stderr, "to_es"), p.stdout
    p = run_ce(ce_bin, cfg, extra=("--log-level", "debug"))
    line = pass_line(p.stderr, "to_es")
    assert "read 10," in p.stdout and "rejected 0," in p.stdout, p.stdout
    assert "dead_letter_repeats=1" in line and "rejected=0 " in line, line
    assert [x for x in p.stderr.splitlines() if "not written again" in x and "id=4" in x and "level=debug" in x], \
        p.stderr[-4000:]
    search.refresh(index)
    assert set(search.hits(index)) == {str(i) for i in range(1, 11)} - {"4"}
    assert [x["id"] for x in dead_letters(tmp_path)] == ["4"]
