"""Answers over the size limits never stall a direction (issue 11). Both limits are half
of memory_limit_mb (docs/sync.md): with memory_limit_mb 16, a Cassandra answer or an
Elasticsearch response may be at most 8 MiB.

- C->E: a page of rows over the CQL message limit is dropped by the client (the connection
  stays up) and read again with half the rows; a row alone over the limit is named by a
  key-only SELECT and dead-lettered; every other row is indexed and the checkpoint moves.
- E->C: a search page over the response limit is read again with half the hits; a document
  alone over it is named by the same page without _source and dead-lettered by _id. A later
  scroll page (the version window on OpenSearch) cannot change size: the scroll is closed and
  the window read again from its start sorted on _id by search_after.

Oracles: the official clients (cassandra-driver, elasticsearch), the dead-letter file, the
checkpoint, the pass line (page_shrinks=).
"""
import datetime
import re

import pytest

from test_sync_engine import (checkpoint, now_ms, opensearch_only, pyce_table, run_ce,  # noqa: F401
                              tracked_search, sync_def, write_config)
from test_sync_poison import dead_letters

MIB = 1 << 20


@pytest.fixture
def elasticsearch_only(elasticsearch, testbed_env):
    """Elasticsearch 8.17: point in time + _shard_doc, so every E->C page can change size
    (OpenSearch 2.19 has no _shard_doc: its version window is a scroll, whose later pages
    cannot: test_e2c_later_scroll_page_over_the_response_limit)."""
    yield from tracked_search("elasticsearch", testbed_env["CE_ELASTICSEARCH_URL"], elasticsearch)


def pass_line(stderr, direction):
    m = [x for x in stderr.splitlines() if "dir=%s" % direction in x and 'msg="pass done"' in x]
    assert m, stderr[-4000:]
    return m[-1]


def text_of(i, size):
    return (("%06d" % i) + "x" * 58) * (size // 64)


def test_c2e_page_over_the_message_limit(cassandra_session, keyspace, elasticsearch_only, ce_bin, tmp_path,
                                         testbed_env, unique_name):
    search = elasticsearch_only
    cassandra_session.execute("CREATE TABLE %s.items (id int, c int, version bigint, text varchar, "
                              "date timestamp, PRIMARY KEY (id, c))" % keyspace, timeout=60)
    index = unique_name("ix")
    search.track(index)
    # partition 1: 40 rows in one token range, 10 of them of 1 MiB and one of 9 MiB (alone
    # over the 8 MiB limit); small partitions around it. The first rows measured are small,
    # so the pages planned for partition 1 are far over the limit.
    ins = cassandra_session.prepare("INSERT INTO %s.items (id, c, version, text, date) VALUES (?, ?, ?, ?, ?)"
                                    % keyspace)
    v0 = now_ms() - 600000
    rows = [(1, c, 9 * MIB if c == 21 else MIB if c % 4 == 3 else 64) for c in range(40)]
    rows += [(i, 0, 64) for i in range(2, 12)]
    for n, (i, c, size) in enumerate(rows):
        cassandra_session.execute(ins, (i, c, v0 + n, text_of(c, size),
                                        datetime.datetime.fromtimestamp((v0 + n) / 1000, datetime.timezone.utc)),
                                  timeout=60)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_es", filter_date=True,
                                 id_col=["id", "c"])],
                       memory_limit_mb=16)
    p = run_ce(ce_bin, cfg)
    line = pass_line(p.stderr, "to_es")
    shrinks = re.search(r"page_shrinks=(\d+)", line)
    assert shrinks and int(shrinks.group(1)) >= 3, line
    sizes = [int(x) for x in re.findall(r"page over the cassandra message limit.* page_size=(\d+)", p.stderr)]
    assert max(sizes) >= 8, sizes       # pages of many rows were halved, not only the poison's
    assert "rejected=1 failed=0" in line, line
    search.refresh(index)
    assert set(search.hits(index)) == {"%d:%d" % (i, c) for i, c, _ in rows} - {"1:21"}
    got = search.c.get(index=index, id="1:7")["_source"]
    assert got["text"] == text_of(7, MIB)
    bad = dead_letters(tmp_path)
    assert [x["id"] for x in bad] == ["1:21"], bad
    assert re.fullmatch(r"row of \d+ bytes over the 8 MiB message limit", bad[0]["reason"]), bad
    assert int(re.search(r"\d+", bad[0]["reason"]).group(0)) > 9 * MIB
    assert bad[0]["doc"] is None
    assert checkpoint(tmp_path, "s1", "to_es")["position_ms"] > v0 + len(rows)
    # the next pass is quiet: its window starts after every row
    p = run_ce(ce_bin, cfg)
    line = pass_line(p.stderr, "to_es")
    assert "read=0 " in line and "rejected=0 failed=0" in line, line
    assert len(dead_letters(tmp_path)) == 1


def text_index(search, index):
    """One shard, no replica; id, version, source, and a big `text` that is not indexed."""
    search.create(index, settings={"number_of_shards": 1, "number_of_replicas": 0}, mappings={"properties": {
        "id": {"type": "integer"}, "version": {"type": "long"}, "source": {"type": "keyword"},
        "text": {"type": "text", "index": False}}})


def test_e2c_page_over_the_response_limit(cassandra_session, keyspace, elasticsearch_only, ce_bin, tmp_path,
                                          testbed_env, unique_name):
    search = elasticsearch_only
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    text_index(search, index)
    v0 = now_ms() - 600000
    # small documents first: the probe that sizes the pages sees them, so the first pages
    # asked for are far over the 8 MiB limit once the big ones come
    search.bulk_index(index, {i: {"id": i, "version": v0 + i, "text": text_of(i, 64)} for i in range(40)})
    search.refresh(index)
    sizes = {100 + k: 1536 * 1024 for k in range(10)}
    sizes[200] = 9 * MIB
    for i, size in sizes.items():
        search.index(index, i, {"id": i, "version": v0 + i, "text": text_of(i, size)})
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_cassandra")],
                       memory_limit_mb=16)
    p = run_ce(ce_bin, cfg)
    line = pass_line(p.stderr, "to_cassandra")
    shrinks = re.search(r"page_shrinks=(\d+)", line)
    assert shrinks and int(shrinks.group(1)) >= 1, line
    assert "rejected=1 failed=0" in line, line
    want = set(range(40)) | set(range(100, 110))
    got = {r.id: r.text for r in cassandra_session.execute("SELECT id, text FROM %s.items" % keyspace)}
    assert set(got) == want
    assert got[105] == text_of(105, sizes[105])
    bad = dead_letters(tmp_path)
    assert [x["id"] for x in bad] == ["200"], bad
    assert "over the 8 MiB response limit" in bad[0]["reason"], bad
    assert checkpoint(tmp_path, "s1", "to_cassandra")["position_ms"] > v0 + 200
    p = run_ce(ce_bin, cfg)
    line = pass_line(p.stderr, "to_cassandra")
    assert "read=0 " in line and "rejected=0 failed=0" in line, line
    assert len(dead_letters(tmp_path)) == 1


@pytest.mark.parametrize("poison_first", [False, True], ids=["later_page", "first_page"])
def test_e2c_scroll_page_over_the_response_limit(cassandra_session, keyspace, opensearch_only, ce_bin,
                                                 tmp_path, testbed_env, unique_name, poison_first):
    """OpenSearch 2.19's version window is a scroll (no _shard_doc). later_page: its first
    page fits, a later one is over the 8 MiB limit and cannot change size. first_page: the
    9 MiB document comes first; the first page shrinks to that one hit, still over. Either
    way the scroll is closed and the window read again from the start sorted on _id
    (search_after): every page can shrink, the 9 MiB document is dead-lettered, the
    documents the scroll handed out are written again (idempotent: same version, same
    timestamp)."""
    search = opensearch_only
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    text_index(search, index)
    v0 = now_ms() - 600000
    if poison_first:
        search.index(index, 200, {"id": 200, "version": v0 + 200, "text": text_of(200, 9 * MIB)})
        search.refresh(index)
    # in _doc order: small documents first (the scroll's first page), then the big ones
    sizes = {i: 64 * 1024 for i in range(24)}
    search.bulk_index(index, {i: {"id": i, "version": v0 + i, "text": text_of(i, size)} for i, size in sizes.items()})
    search.refresh(index)
    big = {100 + k: 1536 * 1024 for k in range(10)}
    if not poison_first:
        big[200] = 9 * MIB
    for i, size in big.items():
        search.index(index, i, {"id": i, "version": v0 + i, "text": text_of(i, size)})
    search.refresh(index)
    sizes.update(big)
    sizes[200] = 9 * MIB
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("s1", keyspace, "items", index, direction="to_cassandra", es_read_mode="version",
                                 es_page_size=16)],
                       memory_limit_mb=16)
    p = run_ce(ce_bin, cfg)
    line = pass_line(p.stderr, "to_cassandra")
    log = p.stderr.splitlines()
    resorted = [n for n, x in enumerate(log) if "es scroll page over the response limit, re-reading" in x]
    assert len(resorted) == 1, p.stderr[-6000:]
    halved = [x for x in log[:resorted[0]] if "es page over the response limit" in x]
    if poison_first:    # the first page was halved down to the one hit, still over
        assert len(halved) == 4 and "page_size=1 " in halved[-1], p.stderr[-6000:]
        assert "page_size=1 " in log[resorted[0]]
    else:               # the scroll's first page fitted: no page was halved before the scroll was left
        assert not halved, p.stderr[-6000:]
    shrinks = re.search(r"page_shrinks=(\d+)", line)
    assert shrinks and int(shrinks.group(1)) >= 1, line
    assert "rejected=1 failed=0" in line, line
    got = {r.id: r.text for r in cassandra_session.execute("SELECT id, text FROM %s.items" % keyspace)}
    assert got == {i: text_of(i, size) for i, size in sizes.items() if i != 200}
    bad = dead_letters(tmp_path)
    assert [x["id"] for x in bad] == ["200"], bad
    assert "over the 8 MiB response limit" in bad[0]["reason"], bad
    assert checkpoint(tmp_path, "s1", "to_cassandra")["position_ms"] > v0 + 200
    p = run_ce(ce_bin, cfg)
    line = pass_line(p.stderr, "to_cassandra")
    assert "read=0 " in line and "rejected=0 failed=0" in line, line
    assert len(dead_letters(tmp_path)) == 1
