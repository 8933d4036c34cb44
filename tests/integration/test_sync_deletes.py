"""Soft deletes (deleted_col, docs/deletes.md) end to end against the real servers, checked with
the official drivers: a row marked in Cassandra deletes its document (OpenSearch and
Elasticsearch), a document marked in Elasticsearch deletes its row, each within one pass; an
older re-send (`once --since` an earlier time, an old version of a document indexed again) does
not bring a deleted record back, also once `index.gc_deletes` has passed; an int flag column
marks 1 deleted and leaves 0 live, both ways; the counts show in the pass line and in
`status --json`.
"""
import datetime
import json
import re
import time

import pytest

from test_sync_engine import now_ms, run_ce, search, sync_def, write_config  # noqa: F401 (fixture)


def iso(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def since(ms):
    """--since's form: ISO 8601 to the second, UTC."""
    return datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_table(session, ks):
    session.execute("CREATE TABLE %s.items (id int PRIMARY KEY, version bigint, text varchar, source varchar, "
                    "deleted boolean, deleted_at timestamp, flag int)" % ks, timeout=60)


def put_row(session, ks, rid, version, text, source="cassandra", deleted=None, deleted_at=None, flag=None):
    """A row as an application writes it: USING TIMESTAMP = version in microseconds."""
    session.execute("INSERT INTO %s.items (id, version, text, source, deleted, deleted_at, flag) VALUES (%%s, %%s, "
                    "%%s, %%s, %%s, %%s, %%s) USING TIMESTAMP %d" % (ks, version * 1000),
                    (rid, version, text, source, deleted, deleted_at, flag))


def row_ids(session, ks):
    return {r.id for r in session.execute("SELECT id FROM %s.items" % ks, timeout=60)}


def status_counts(ce_bin, cfg, sync):
    p = run_ce(ce_bin, cfg, cmd="status", extra=("--json",))
    st = json.loads(p.stdout)
    return {s["name"]: s for s in st["last_pass"]["syncs"]}[sync]


def pass_line(stderr, direction):
    m = [x for x in stderr.splitlines() if "dir=%s" % direction in x and 'msg="pass done"' in x]
    assert m, stderr[-3000:]
    return {k: v for k, v in re.findall(r"(\w+)=([^\s\"]+)", m[-1])}


def set_gc_deletes(search, index, value):
    body = {"index": {"gc_deletes": value}}
    if search.kind == "opensearch":
        search.c.indices.put_settings(index=index, body=body)
    else:
        search.c.indices.put_settings(index=index, settings=body)


def test_row_marked_in_cassandra_deletes_its_document(cassandra_session, keyspace, search, ce_bin, tmp_path,
                                                      testbed_env, unique_name):
    make_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    base = now_ms() - 120000
    for i in range(1, 8):
        put_row(cassandra_session, keyspace, i, base + i, "t%d" % i)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("d", keyspace, "items", index, filter_date=True, direction="to_es",
                                 deleted_col="deleted")])
    run_ce(ce_bin, cfg, extra=("--since", since(base - 60000)))
    assert set(search.hits(index)) == {str(i) for i in range(1, 8)}

    v = now_ms() - 3000  # inside the next window (safety lag 2 s)
    put_row(cassandra_session, keyspace, 1, v + 1, "t1", deleted=True)
    put_row(cassandra_session, keyspace, 2, v + 2, "t2", deleted=True)
    put_row(cassandra_session, keyspace, 3, v + 3, "t3 live", deleted=False)   # false: live
    put_row(cassandra_session, keyspace, 4, v + 4, "t4", source="elasticsearch", deleted=True)  # an echo
    p = run_ce(ce_bin, cfg)
    hits = search.hits(index)
    assert set(hits) == {"3", "4", "5", "6", "7"}
    assert hits["3"]["_source"]["text"] == "t3 live" and hits["3"]["_version"] == v + 3
    assert hits["4"]["_version"] == base + 4          # the echo left the document alone
    line = pass_line(p.stderr, "to_es")
    assert line["deleted"] == "2" and line["skipped"] == "1", line
    assert "soft deletes 2\n" in p.stdout, p.stdout
    st = status_counts(ce_bin, cfg, "d")
    assert st["to_es"]["deleted"] == 2 and st["to_es"]["indexed"] == 1, st
    # the marked rows stay in Cassandra: they are what a re-send sends again
    assert row_ids(cassandra_session, keyspace) == set(range(1, 8))

    # an older re-send: the same window again; the deletes go out again (409: ES holds them)
    p = run_ce(ce_bin, cfg, extra=("--since", since(base - 60000)))
    assert set(search.hits(index)) == {"3", "4", "5", "6", "7"}
    line = pass_line(p.stderr, "to_es")
    assert line["deleted"] == "0" and int(line["conflicts"]) >= 2, line

    # once Elasticsearch forgot the delete (index.gc_deletes), a re-send still deletes: 404
    set_gc_deletes(search, index, "1s")
    time.sleep(2)
    search.refresh(index)
    p = run_ce(ce_bin, cfg, extra=("--since", since(base - 60000)))
    assert set(search.hits(index)) == {"3", "4", "5", "6", "7"}
    assert pass_line(p.stderr, "to_es")["deleted"] == "2"    # 404s: already gone counts as done
    assert status_counts(ce_bin, cfg, "d")["to_es"]["deleted"] == 2


def test_document_marked_in_elasticsearch_deletes_its_row(cassandra_session, keyspace, search, ce_bin, tmp_path,
                                                          testbed_env, unique_name):
    make_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"properties": {
        "id": {"type": "integer"}, "version": {"type": "long"}, "text": {"type": "keyword"},
        "source": {"type": "keyword"}, "deleted": {"type": "boolean"}, "deleted_at": {"type": "date"}}})
    base = now_ms() - 120000
    old = {i: {"id": i, "version": base + i, "text": "e%d" % i, "source": "elasticsearch"} for i in range(1, 8)}
    search.bulk_index(index, old)
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("d", keyspace, "items", index, filter_date=True, direction="to_cassandra",
                                 deleted_col="deleted_at")])
    run_ce(ce_bin, cfg, extra=("--since", since(base - 60000)))
    assert row_ids(cassandra_session, keyspace) == set(range(1, 8))

    v = now_ms() - 3000
    mark = iso(v)
    search.bulk_index(index, {
        1: {"id": 1, "version": v + 1, "text": "e1", "source": "elasticsearch", "deleted_at": mark},
        2: {"id": 2, "version": v + 2, "text": "e2", "source": "elasticsearch", "deleted_at": mark},
        3: {"id": 3, "version": v + 3, "text": "e3 live", "source": "elasticsearch", "deleted_at": None},
        4: {"id": 4, "version": v + 4, "text": "e4", "source": "cassandra", "deleted_at": mark},  # an echo
    })
    search.refresh(index)
    p = run_ce(ce_bin, cfg)
    assert row_ids(cassandra_session, keyspace) == {3, 4, 5, 6, 7}
    r3 = cassandra_session.execute("SELECT text, version FROM %s.items WHERE id = 3" % keyspace).one()
    assert (r3.text, r3.version) == ("e3 live", v + 3)
    line = pass_line(p.stderr, "to_cassandra")
    assert line["deleted"] == "2", line
    st = status_counts(ce_bin, cfg, "d")
    assert st["to_cassandra"]["deleted"] == 2 and st["to_cassandra"]["written"] == 1, st
    # the marked documents stay in Elasticsearch: what a re-send sends again is the delete
    assert {"1", "2"} <= set(search.hits(index))

    # an older re-send 1: the same window again (gc_deletes long gone): the DELETEs again
    set_gc_deletes(search, index, "1s")
    time.sleep(2)
    p = run_ce(ce_bin, cfg, extra=("--since", since(base - 60000)))
    assert row_ids(cassandra_session, keyspace) == {3, 4, 5, 6, 7}
    assert pass_line(p.stderr, "to_cassandra")["deleted"] == "2"
    # an older re-send 2: an application indexes the old content of 1 again (its old version,
    # no mark): the row's tombstone (USING TIMESTAMP of the newer version) shadows that write
    search.index(index, 1, old[1], refresh=True)
    run_ce(ce_bin, cfg, extra=("--since", since(base - 60000)))
    assert row_ids(cassandra_session, keyspace) == {3, 4, 5, 6, 7}


def test_int_flag_zero_is_live_one_deletes_c2e(cassandra_session, keyspace, search, ce_bin, tmp_path,
                                                testbed_env, unique_name):
    """An int deleted_col holding 0 / 1: the row with 1 deletes its document, the row with 0
    is indexed (a number equal to zero is live)."""
    make_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    base = now_ms() - 120000
    for i in range(1, 5):
        put_row(cassandra_session, keyspace, i, base + i, "t%d" % i, flag=0)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("d", keyspace, "items", index, filter_date=True, direction="to_es",
                                 deleted_col="flag")])
    run_ce(ce_bin, cfg, extra=("--since", since(base - 60000)))
    assert set(search.hits(index)) == {"1", "2", "3", "4"}    # 0 everywhere: every row live

    v = now_ms() - 3000
    put_row(cassandra_session, keyspace, 1, v + 1, "t1", flag=1)
    put_row(cassandra_session, keyspace, 2, v + 2, "t2 live", flag=0)
    p = run_ce(ce_bin, cfg)
    hits = search.hits(index)
    assert set(hits) == {"2", "3", "4"}
    assert hits["2"]["_source"]["flag"] == 0 and hits["2"]["_source"]["text"] == "t2 live"
    assert hits["2"]["_version"] == v + 2
    line = pass_line(p.stderr, "to_es")
    assert line["deleted"] == "1" and line["indexed"] == "1", line
    flags = {r.id: r.flag for r in cassandra_session.execute("SELECT id, flag FROM %s.items" % keyspace)}
    assert flags == {1: 1, 2: 0, 3: 0, 4: 0}                  # the marked row stays in Cassandra


def test_int_flag_zero_is_live_one_deletes_e2c(cassandra_session, keyspace, search, ce_bin, tmp_path,
                                                testbed_env, unique_name):
    """An integer field deleted_col holding 0 / 1: the document with 1 deletes its row, the
    document with 0 is written (flag 0 in Cassandra)."""
    make_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"properties": {
        "id": {"type": "integer"}, "version": {"type": "long"}, "text": {"type": "keyword"},
        "source": {"type": "keyword"}, "flag": {"type": "integer"}}})
    base = now_ms() - 120000
    search.bulk_index(index, {i: {"id": i, "version": base + i, "text": "e%d" % i, "source": "elasticsearch",
                                  "flag": 0} for i in range(1, 5)})
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("d", keyspace, "items", index, filter_date=True, direction="to_cassandra",
                                 deleted_col="flag")])
    run_ce(ce_bin, cfg, extra=("--since", since(base - 60000)))
    assert row_ids(cassandra_session, keyspace) == {1, 2, 3, 4}   # 0 everywhere: every document live

    v = now_ms() - 3000
    search.bulk_index(index, {
        1: {"id": 1, "version": v + 1, "text": "e1", "source": "elasticsearch", "flag": 1},
        2: {"id": 2, "version": v + 2, "text": "e2 live", "source": "elasticsearch", "flag": 0},
    })
    search.refresh(index)
    p = run_ce(ce_bin, cfg)
    rows = {r.id: r for r in cassandra_session.execute("SELECT id, version, text, flag FROM %s.items" % keyspace)}
    assert set(rows) == {2, 3, 4}
    assert (rows[2].text, rows[2].version, rows[2].flag) == ("e2 live", v + 2, 0)
    line = pass_line(p.stderr, "to_cassandra")
    assert line["deleted"] == "1" and line["written"] == "1", line
    assert {"1", "2"} <= set(search.hits(index))                 # the marked document stays


@pytest.mark.parametrize("col_type,zero,mark", [("int", 0, 1), ("double", -0.0, 0.5), ("text", "0.00", "yes")])
def test_verify_counts_zero_flags_live(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env,
                                       unique_name, col_type, zero, mark):
    """verify applies the same rule: rows and documents whose flag is a zero are live on both
    sides, in the token-field aggregations too (no range differs), those with a mark absent."""
    from test_sync_load import load_rows
    from test_verify import verify
    s, ks, n = cassandra_session, keyspace, 500
    t0 = now_ms()
    load_rows(s, ks, "items", n, t0 - 86400000, t0 - 3600000)
    s.execute("ALTER TABLE %s.items ADD flag %s" % (ks, col_type), timeout=60)
    flag = s.prepare("UPDATE %s.items SET flag = ? WHERE id = ?" % ks)
    for rid in range(0, 100):
        s.execute(flag, (zero, rid))
    for rid in range(100, 110):
        s.execute(flag, (mark, rid))
    index = unique_name("ix")
    os_search.track(index)
    cfg = write_config(tmp_path, testbed_env, os_search.url,
                       [sync_def("s", ks, "items", index, read_mode="full_scan", direction="to_es",
                                 deleted_col="flag", token_field="_ce_token")])
    run_ce(ce_bin, cfg, timeout=120)
    assert os_search.count(index) == n - 10                      # the marked rows' documents deleted
    hits = os_search.hits(index)
    assert all(hits[str(rid)]["_source"]["flag"] == zero for rid in range(0, 100))
    res, p = verify(ce_bin, cfg, 0)
    assert res["equal"] and res["differences"] == [], res
    assert res["cassandra_rows"] == n - 10, res
    assert res["ranges_differing"] == 0, res
    assert res.get("es_docs_aggregated", res.get("es_docs")) == n - 10, res


def test_deleted_col_check(ce_bin, tmp_path, testbed_env, keyspace):
    """`check` refuses a deleted_col that is already the version, source or id column."""
    for col in ("version", "source", "id"):
        cfg = write_config(tmp_path, testbed_env, "http://127.0.0.1:9200",
                           [sync_def("d", keyspace, "items", "ix", deleted_col=col)])
        p = run_ce(ce_bin, cfg, cmd="check", expect=2)
        assert "syncs[0].deleted_col" in p.stderr + p.stdout, p.stderr


def test_missing_deleted_column_fails_the_c2e_pass(cassandra_session, keyspace, search, ce_bin, tmp_path,
                                                   testbed_env, unique_name):
    make_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("d", keyspace, "items", index, direction="to_es", deleted_col="gone")])
    p = run_ce(ce_bin, cfg, expect=2)  # refused as check refuses it, before the pass
    assert 'deleted_col "gone" is not a column' in p.stderr, p.stdout + p.stderr[-3000:]
    assert not search.c.indices.exists(index=index)


def test_check_reports_deleted_col_and_read_modes(cassandra_session, keyspace, ce_bin, tmp_path, testbed_env):
    """`check` connects, refuses a deleted_col the table lacks (the C->E pass would fail) and,
    for one it has, prints the sync's read modes and the deleted column."""
    make_table(cassandra_session, keyspace)
    bad = write_config(tmp_path, testbed_env, "http://127.0.0.1:9200",
                       [sync_def("d", keyspace, "items", "ix", direction="to_es", deleted_col="gone")])
    p = run_ce(ce_bin, bad, cmd="check", expect=2)
    assert 'deleted_col "gone" is not a column of the table' in p.stderr, p.stdout + p.stderr
    good = write_config(tmp_path, testbed_env, "http://127.0.0.1:9200",
                        [sync_def("d", keyspace, "items", "ix", deleted_col="deleted", es_read_mode="seq_no")])
    p = run_ce(ce_bin, good, cmd="check")
    assert 'es_read_mode "seq_no"' in p.stdout and 'deleted_col "deleted"' in p.stdout, p.stdout
    assert 'read_mode "auto"' in p.stdout, p.stdout
