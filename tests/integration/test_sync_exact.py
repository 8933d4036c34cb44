"""Exact numbers both ways (issue 11): a 2^100 varint and a 38-digit decimal go Cassandra ->
Elasticsearch -> a second table without losing a digit, on both servers; a value the target
column cannot hold and a hit that cannot be read go to the dead letters alone, and every
other document of the same page syncs in the same pass.

Oracles: the index's _source read with a raw HTTP GET (no filter_path, which would make the
server re-render it), the tables read with cassandra-driver; rows are written with prepared
statements (the driver's simple statements render a Decimal with fewer digits).
"""
import json
import urllib.request
from decimal import Decimal
from pathlib import Path

from test_sync_engine import (checkpoint, now_ms, rows_by_id, run_ce, search,  # noqa: F401 (fixture)
                              sync_def, write_config)

BIG = 2 ** 100
DEC = Decimal("-12345678901234567890.123456789012345678")
SPECIAL = {  # id -> (varint, decimal)
    1: (BIG, DEC),
    2: (-BIG - 1, Decimal("1.000000000000000000")),
    3: (2 ** 63, Decimal("0.30000000000000004")),
    4: (-(2 ** 63) - 1, Decimal("-9.99999999999999999999999999999999999E+40")),
}
N = 40

TABLE = ("CREATE TABLE {ks}.{t} (id int PRIMARY KEY, version bigint, v {vt}, d decimal, txt text, "
         "date timestamp, source text)")


def raw_get(url, path):
    with urllib.request.urlopen(url.rstrip("/") + path, timeout=30) as f:
        return f.read().decode()


def dead_letters(folder):
    dl = Path(folder) / "casselastic.deadletter.jsonl"
    if not dl.exists():
        return []
    return [json.loads(x) for x in dl.read_text().splitlines() if x.strip()]


def values(i):
    return SPECIAL.get(i, (i * 1000, Decimal("%d.25" % i)))


def test_big_numbers_exact_both_ways(cassandra_session, keyspace, search, ce_bin, tmp_path, testbed_env,
                                     unique_name):
    s = cassandra_session
    for t, vt in (("src", "varint"), ("dst", "varint"), ("narrow", "bigint")):
        s.execute(TABLE.format(ks=keyspace, t=t, vt=vt), timeout=60)
    index = unique_name("ix")
    search.track(index)
    ins = s.prepare("INSERT INTO %s.src (id, version, v, d, txt) VALUES (?, ?, ?, ?, ?)" % keyspace)
    v0 = now_ms() - 60000
    for i in range(1, N + 1):
        vi, di = values(i)
        s.execute(ins, (i, v0 + i, vi, di, "row %d" % i))
    syncs = [sync_def("c2e", keyspace, "src", index, direction="to_es"),
             sync_def("e2c", keyspace, "dst", index, direction="to_cassandra", ignore_same_source=False,
                      alter_table=False),
             sync_def("narrow", keyspace, "narrow", index, direction="to_cassandra", ignore_same_source=False,
                      alter_table=False)]
    cfg = write_config(tmp_path, testbed_env, search.url, syncs)
    run_ce(ce_bin, cfg, expect=None)

    # 1. the index holds the digits as sent (raw GET, no filter_path)
    doc = raw_get(search.url, "/%s/_doc/1" % index)
    assert '"v":1267650600228229401496703205376' in doc, doc
    assert '"d":-12345678901234567890.123456789012345678' in doc, doc
    page = raw_get(search.url, "/%s/_search?size=100" % index)
    assert '"d":-12345678901234567890.123456789012345678' in page
    assert '"v":-1267650600228229401496703205377' in page

    # 2. the second table, read with the driver: every row, every digit
    src = rows_by_id(s, keyspace, "src")
    dst = rows_by_id(s, keyspace, "dst")
    assert set(dst) == set(range(1, N + 1))
    for i in range(1, N + 1):
        assert dst[i].v == src[i].v == values(i)[0], i
        assert dst[i].d == src[i].d, (i, dst[i].d, src[i].d)
        assert str(dst[i].d) == str(values(i)[1]), (i, dst[i].d)   # digits and scale
    assert dst[1].v == BIG and dst[1].d == DEC

    # 3. a bigint column cannot hold 2^63 or 2^100: those documents are dead letters with
    #    the reason, every other document of the page is in the table, the checkpoint moved
    narrow = rows_by_id(s, keyspace, "narrow")
    assert set(narrow) == set(range(1, N + 1)) - set(SPECIAL)
    assert all(narrow[i].v == i * 1000 for i in narrow)
    bad = [x for x in dead_letters(tmp_path) if x["sync"] == "narrow"]
    assert sorted(x["id"] for x in bad) == ["1", "2", "3", "4"], bad
    assert all("out of range for bigint" in x["reason"] for x in bad), bad
    assert [x for x in dead_letters(tmp_path) if x["sync"] != "narrow"] == []
    assert checkpoint(tmp_path, "narrow", "to_cassandra")["position_ms"] > v0


def test_unreadable_hit_fails_alone(cassandra_session, keyspace, search, ce_bin, tmp_path, testbed_env,
                                    unique_name):
    """A document jansson cannot read (a NUL in a key of an unmapped object) used to fail the
    whole page, and so the direction, for good: now it is a dead letter with its _id and the
    rest of the page (a 2^100 among it) is written; the next pass reads nothing new."""
    s = cassandra_session
    s.execute(TABLE.format(ks=keyspace, t="dst", vt="varint"), timeout=60)
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"dynamic": False, "properties": {
        "id": {"type": "integer"}, "version": {"type": "long"}, "v": {"type": "keyword"}}})
    v0 = now_ms() - 600000  # older than the overlap: the next pass's window starts after it
    docs = {str(i): {"id": i, "version": v0 + i, "v": i, "txt": "doc %d" % i} for i in range(1, 31)}
    docs["7"]["x"] = {"a\u0000b": 1}
    docs["8"]["v"] = BIG
    search.bulk_index(index, docs)
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "dst", index, direction="to_cassandra", alter_table=False,
                                 es_page_size=10)])
    p = run_ce(ce_bin, cfg)
    assert "rejected 1" in p.stdout, p.stdout
    rows = rows_by_id(s, keyspace, "dst")
    assert set(rows) == set(range(1, 31)) - {7}
    assert rows[8].v == BIG
    bad = dead_letters(tmp_path)
    assert [x["id"] for x in bad] == ["7"], bad
    assert "unreadable document" in bad[0]["reason"] and "NUL" in bad[0]["reason"], bad
    assert checkpoint(tmp_path, "s1", "to_cassandra")["position_ms"] > v0
    p = run_ce(ce_bin, cfg)
    assert "read 0," in p.stdout and "rejected 0" in p.stdout, p.stdout
    assert len(dead_letters(tmp_path)) == 1
