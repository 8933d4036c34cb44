"""Inputs from outside cannot forge logs or grow the schema without bound:
- an _id carrying a newline and a fake log line is logged escaped: no line of the log
  starts with the forged text;
- index fields that become Cassandra columns: at most max_new_columns a pass, names of
  letters, digits and _ up to 128 bytes; the documents carrying the other fields go to
  the dead letters with the reason, the others sync.

Checked with the official drivers (cassandra-driver, opensearch-py).
"""
import json
import re
from pathlib import Path

from test_sync_engine import (now_ms, opensearch_only, rows_by_id, run_ce, search, sync_def,  # noqa: F401
                              write_config)

FORGED = "\nlevel=error msg=forged"


def dead_letters(folder):
    dl = Path(folder) / "casselastic.deadletter.jsonl"
    return [json.loads(x) for x in dl.read_text().splitlines() if x.strip()] if dl.exists() else []


def test_id_with_newline_cannot_forge_a_log_line(cassandra_session, keyspace, opensearch_only, ce_bin,  # noqa: F811
                                                 tmp_path, testbed_env, unique_name):
    search = opensearch_only
    cassandra_session.execute("CREATE TABLE %s.items (id text PRIMARY KEY, version bigint, qty int, "
                              "source varchar, date timestamp)" % keyspace)
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"properties": {
        "id": {"type": "keyword"}, "version": {"type": "long"}, "qty": {"type": "keyword"},
        "source": {"type": "keyword"}}})
    v = now_ms() - 60000
    bad_id = "x1" + FORGED
    search.index(index, bad_id, {"version": v, "qty": "many"})   # qty cannot become an int
    search.index(index, "ok", {"version": v + 1, "qty": "3"})
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_cassandra")])
    p = run_ce(ce_bin, cfg)
    assert "document rejected" in p.stderr, p.stderr
    for line in p.stderr.splitlines():
        assert not line.startswith("level=error msg=forged"), p.stderr
        assert not re.match(r"ts=\S+ level=error msg=forged", line), p.stderr
    assert any("x1\\nlevel=error msg=forged" in line for line in p.stderr.splitlines()), p.stderr
    assert set(rows_by_id(cassandra_session, keyspace, "items")) == {"ok"}
    assert [d["id"] for d in dead_letters(tmp_path)] == [bad_id]


def test_new_columns_are_capped_and_named_safely(cassandra_session, keyspace, opensearch_only, ce_bin,  # noqa: F811
                                                 tmp_path, testbed_env, unique_name):
    search = opensearch_only
    cassandra_session.execute("CREATE TABLE %s.items (id int PRIMARY KEY, version bigint, source varchar, "
                              "date timestamp)"
                              % keyspace)
    index = unique_name("ix")
    search.track(index)
    props = {"id": {"type": "integer"}, "version": {"type": "long"}, "source": {"type": "keyword"}}
    for k in range(5):
        props["f%d" % k] = {"type": "keyword"}
    long_name = "l" * 129
    props[long_name] = {"type": "keyword"}
    props["bad-name"] = {"type": "keyword"}
    search.create(index, mappings={"properties": props})
    v = now_ms() - 60000
    docs = {}
    for k in range(5):                       # one document a field f0..f4
        docs[k] = {"id": k, "version": v + k, "f%d" % k: "x"}
    docs[10] = {"id": 10, "version": v + 10}                       # no new field
    docs[11] = {"id": 11, "version": v + 11, long_name: "x"}
    docs[12] = {"id": 12, "version": v + 12, "bad-name": "x"}
    search.bulk_index(index, docs)
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_cassandra", max_new_columns=3)])
    run_ce(ce_bin, cfg)
    cols = {r.column_name for r in cassandra_session.execute(
        "SELECT column_name FROM system_schema.columns WHERE keyspace_name=%s AND table_name='items'",
        (keyspace,))}
    added = sorted(c for c in cols if c.startswith("f"))
    assert len(added) == 3, cols
    assert long_name not in cols and "bad-name" not in cols
    rows = rows_by_id(cassandra_session, keyspace, "items")
    refused_fields = sorted(set("f%d" % k for k in range(5)) - set(added))
    expect = {k for k in range(5) if "f%d" % k in added} | {10}
    assert set(rows) == expect
    dl = {d["id"]: d["reason"] for d in dead_letters(tmp_path)}
    assert set(dl) == {str(int(f[1:])) for f in refused_fields} | {"11", "12"}, dl
    assert "max_new_columns" in dl[str(int(refused_fields[0][1:]))]
    assert "128 bytes" in dl["11"] and "letters, digits and _" in dl["12"]
