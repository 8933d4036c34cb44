"""`casselastic verify [--repair]` against the real servers, the drivers as the oracle:
equal sides (no document body fetched), planted differences of every kind and both
provenances listed exactly and repaired by the rules, a killed verify that resumes, and a
verify while another process writes (no false differences)."""
import datetime
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from test_sync_engine import now_ms, run_ce, sync_def, write_config
from test_sync_load import count_rows, load_rows


@pytest.fixture(params=["opensearch", "elasticsearch"])
def search_server(request, testbed_env):
    """test_sync_engine's Search helper on each server in turn (OpenSearch 2, Elasticsearch 8);
    the indexes it tracks are deleted after the test."""
    from test_sync_engine import Search

    name = request.param
    url = testbed_env["CE_OPENSEARCH_URL" if name == "opensearch" else "CE_ELASTICSEARCH_URL"]
    s = Search(name, url, request.getfixturevalue(name))
    made = []
    s.track = made.append
    yield s
    for ix in made:
        s.delete(ix)


def painless_aggs(search):
    """Whether the server runs painless in aggregations (what verify's aggregation needs)."""
    import urllib.request
    with urllib.request.urlopen(search.url + "/_script_language", timeout=30) as r:
        langs = json.loads(r.read())["language_contexts"]
    return any(l["language"] == "painless" and "aggs" in l["contexts"] for l in langs)


def rows_on(search, n):
    """The row count of a test on a server: the second server (Elasticsearch 8) runs the
    same cases on fewer rows (CI time)."""
    return n if search.kind == "opensearch" else max(n // 4, 1000)


def loaded(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env, unique_name, n, **kw):
    """n rows in Cassandra, loaded into a new index by `once` (to_es): equal sides."""
    t = now_ms()
    load_rows(cassandra_session, keyspace, "items", n, t - 86400000 * 5, t - 3600000)
    index = unique_name("ix")
    os_search.track(index)
    cfg = write_config(tmp_path, testbed_env, os_search.url,
                       [sync_def("s", keyspace, "items", index, read_mode="full_scan", **kw)])
    run_ce(ce_bin, cfg, timeout=300)
    return cfg, index


def verify(ce_bin, cfg, expect, *extra, timeout=300):
    out = Path(cfg).parent / "verify.json"
    if out.exists():
        out.unlink()
    p = run_ce(ce_bin, cfg, cmd="verify", expect=expect, timeout=timeout, extra=("--json", str(out), *extra))
    return json.loads(out.read_text())["syncs"][0], p


@pytest.mark.parametrize("token_field", [None, "_ce_token"])
def test_equal_sides_exit_0_without_bodies(cassandra_session, keyspace, search_server, ce_bin, tmp_path,
                                           testbed_env, unique_name, token_field):
    os_search = search_server
    n = rows_on(os_search, 20000)
    kw = {"token_field": token_field} if token_field else {}
    cfg, index = loaded(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env, unique_name, n,
                        direction="to_es", **kw)
    assert os_search.count(index) == n
    res, p = verify(ce_bin, cfg, 0, "--log-level", "debug")
    assert res["equal"] and res["ranges_differing"] == 0 and res["differences"] == []
    assert res["cassandra_rows"] == n
    if token_field and painless_aggs(os_search):
        # counted by aggregations over the token field: no document streamed
        assert res["es_docs_aggregated"] == n and res["es_docs"] == 0
        assert os_search.mapping(index)[token_field]["type"] == "long"
    elif token_field:
        # a server without painless (the test bed's Elasticsearch runs without the module):
        # the documents with the token field are streamed like the others
        assert res["es_docs"] == n and res["es_docs_aggregated"] == 0
        assert "no painless scripts" in p.stderr
    else:
        assert res["es_docs"] == n and res["es_docs_aggregated"] == 0
    assert res["es_source_requests"] == 0
    # every search asked for doc values only (the body of the one first request is logged)
    searches = [l for l in p.stderr.splitlines() if "verify search" in l and "body=" in l]
    assert searches and all('"_source":false' in l for l in searches)
    assert "equal" in p.stdout
    assert not (Path(cfg).parent / "s.verify.json").exists()   # progress file removed at the end


def es_doc(rid, version, source):
    d = {"id": rid, "version": version, "text": "es %d" % rid,
         "date": datetime.datetime.fromtimestamp(version / 1000, datetime.timezone.utc).isoformat()}
    if source is not None:
        d["source"] = source
    return d


def plant(session, ks, search, index, n, per_kind, t):
    """per_kind records of each difference and provenance; returns {id: (kind, fix)}."""
    ins = session.prepare("INSERT INTO %s.items (id, version, text, source) VALUES (?, ?, ?, ?)" % ks)
    want, docs, k = {}, {}, 0
    def ids(count):
        nonlocal k
        out = list(range(k, k + count))
        k += count
        return out
    # Versions differ per record, and every only-in-Elasticsearch one is above every
    # only-in-Cassandra one: aggregated ranges compare count and version sum (docs/verify.md,
    # limits), so an only-in-Cassandra and an only-in-Elasticsearch record of equal versions
    # in one range would cancel out there.
    # only in Cassandra: new rows (never synced)
    for rid in ids(per_kind):
        session.execute(ins, (n + rid, t + rid, "c only", None))
        want[str(n + rid)] = ("only_cassandra", "copy_to_es")
    for rid in ids(per_kind):
        session.execute(ins, (n + rid, t + rid, "c only from es", "elasticsearch"))
        want[str(n + rid)] = ("only_cassandra", "delete_cassandra")
    # only in Elasticsearch
    for rid in ids(per_kind):
        docs[n + rid] = es_doc(n + rid, t + 100000 + rid, "elasticsearch")
        want[str(n + rid)] = ("only_es", "copy_to_cassandra")
    for rid in ids(per_kind):
        docs[n + rid] = es_doc(n + rid, t + 100000 + rid, "cassandra")
        want[str(n + rid)] = ("only_es", "delete_es")
    # older in Cassandra: Elasticsearch has a newer version (both provenances)
    for i, rid in enumerate(ids(2 * per_kind)):
        docs[rid] = es_doc(rid, t + 1000, "elasticsearch" if i % 2 else "cassandra")
        want[str(rid)] = ("older_cassandra", "copy_to_cassandra")
    # older in Elasticsearch: Cassandra has a newer version (both provenances)
    for i, rid in enumerate(ids(2 * per_kind)):
        session.execute(ins, (rid, t + 2000, "c newer", "elasticsearch" if i % 2 else None))
        want[str(rid)] = ("older_es", "copy_to_es")
    search.bulk_index(index, docs)
    search.refresh(index)
    return want


def side_versions(session, ks, search, index):
    c = {str(r.id): r.version for r in session.execute("SELECT id, version FROM %s.items" % ks, timeout=60)}
    search.refresh(index)
    e = {}
    body = {"size": 10000, "_source": ["version"], "query": {"match_all": {}}}
    res = search.c.search(index=index, body=body, scroll="1m")
    while res["hits"]["hits"]:
        for h in res["hits"]["hits"]:
            e[h["_id"]] = h["_source"]["version"]
        res = search.c.scroll(scroll_id=res["_scroll_id"], scroll="1m")
    return c, e


@pytest.mark.parametrize("token_field", [None, "_ce_token"])
def test_planted_differences_listed_and_repaired(cassandra_session, keyspace, search_server, ce_bin, tmp_path,
                                                 testbed_env, unique_name, token_field):
    os_search = search_server
    n = rows_on(os_search, 5000)
    kw = {"token_field": token_field} if token_field else {}
    cfg, index = loaded(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env, unique_name, n,
                        direction="to_es", **kw)
    t = now_ms() - 600000
    want = plant(cassandra_session, keyspace, os_search, index, n, 10, t)
    res, p = verify(ce_bin, cfg, 1)
    got = {d["id"]: (d["kind"], d["fix"]) for d in res["differences"]}
    assert got == want
    assert not any(d["in_flight"] for d in res["differences"])
    assert res["counts"] == {"only_cassandra": 20, "only_es": 20, "older_cassandra": 20, "older_es": 20}
    assert "different" in p.stdout

    res, p = verify(ce_bin, cfg, 0, "--repair")
    assert res["fixed"] == 80 and res["fix_failed"] == 0, p.stdout + p.stderr[-3000:]
    res, _ = verify(ce_bin, cfg, 0)
    assert res["differences"] == []

    c, e = side_versions(cassandra_session, keyspace, os_search, index)
    assert c == e
    for rid, (kind, fix) in want.items():
        if fix.startswith("delete"):
            assert rid not in c and rid not in e
        elif kind == "older_cassandra":
            assert c[rid] == t + 1000
        elif kind == "older_es":
            assert e[rid] == t + 2000
        else:
            assert rid in c and rid in e


def test_killed_verify_resumes(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env,
                               unique_name):
    n = 20000
    cfg, index = loaded(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env, unique_name, n,
                        direction="to_es", scan_ranges=3000, page_size=100)
    progress = Path(cfg).parent / "s.verify.json"
    proc = subprocess.Popen([str(Path(ce_bin) / "casselastic"), "verify", "-c", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done_before = 0
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        try:
            done_before = len(json.loads(progress.read_text())["c"])
        except (OSError, ValueError, KeyError):
            done_before = 0
        if done_before >= 1:   # progress is saved at the first range, then every second
            break
        time.sleep(0.01)
    assert proc.poll() is None, "verify ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(json.loads(progress.read_text())["c"])
    assert 0 < done < 3000
    res, p = verify(ce_bin, cfg, 0)
    assert res["ranges_resumed"] == done and res["ranges_resumed"] > 0
    assert res["equal"] and res["cassandra_rows"] < n      # the resumed ranges were not read again
    assert "verify resumed" in p.stderr
    assert not progress.exists()


@pytest.mark.parametrize("token_field", [None, "_ce_token"])
def test_swapped_versions_in_one_range_are_seen(cassandra_session, keyspace, os_search, ce_bin, tmp_path,
                                                testbed_env, unique_name, token_field):
    """Two ids of one range swapping their versions keep count and version sum: the
    token-version mix (aggregated and streamed ranges alike) tells."""
    n = 2000
    kw = {"token_field": token_field} if token_field else {}
    cfg, index = loaded(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env, unique_name, n,
                        direction="to_es", scan_ranges=8, **kw)
    rows = sorted((r.t, r.id, r.version) for r in cassandra_session.execute(
        "SELECT token(id) AS t, id, version FROM %s.items" % keyspace))
    # the two ids closest on the ring (one range out of 8 holds both), of different versions
    _, a, b = min((rows[i + 1][0] - rows[i][0], rows[i], rows[i + 1]) for i in range(len(rows) - 1)
                  if rows[i][2] != rows[i + 1][2])
    os_search.bulk_index(index, {a[1]: es_doc(a[1], b[2], None), b[1]: es_doc(b[1], a[2], None)})
    os_search.refresh(index)
    res, _ = verify(ce_bin, cfg, 1)
    assert res["ranges_differing"] == 1
    assert sorted(d["id"] for d in res["differences"]) == sorted([str(a[1]), str(b[1])])
    assert sorted(d["kind"] for d in res["differences"]) == ["older_cassandra", "older_es"]


@pytest.mark.parametrize("token_field", [None, "_ce_token"])
def test_verify_killed_during_repair_resumes_both_sides(cassandra_session, keyspace, os_search, ce_bin, tmp_path,
                                                         testbed_env, unique_name, token_field):
    """Killed after the compare (ranges compared equal are settled in the progress file),
    `verify --repair` started again compares neither side of the settled ranges again, reads
    no Cassandra summary again, and repairs the rest."""
    n = 5000
    kw = {"token_field": token_field} if token_field else {}
    cfg, index = loaded(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env, unique_name, n,
                        direction="to_es", scan_ranges=400, page_size=50, **kw)
    want = plant(cassandra_session, keyspace, os_search, index, n, 25, now_ms() - 600000)
    progress = Path(cfg).parent / "s.verify.json"
    proc = subprocess.Popen([str(Path(ce_bin) / "casselastic"), "verify", "--repair", "-c", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    settled = []
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and not settled:
        try:
            settled = json.loads(progress.read_text())["done"]
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.005)
    assert proc.poll() is None, "verify ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = json.loads(progress.read_text())
    nr = saved["nranges"]   # about scan_ranges: the ring's split
    assert 0 < len(saved["done"]) < nr and len(saved["c"]) == nr
    res, p = verify(ce_bin, cfg, 0, "--repair")
    assert "verify resumed" in p.stderr
    assert res["ranges_resumed"] == nr and res["cassandra_rows"] == 0   # no Cassandra summary read again
    if token_field:   # the settled ranges are not aggregated again
        assert 0 < res["es_docs_aggregated"] < n
    assert res["ranges_differing"] <= nr - len(saved["done"])
    assert res["fix_failed"] == 0
    assert {d["id"] for d in res["differences"]} <= set(want)
    assert not progress.exists()
    res, _ = verify(ce_bin, cfg, 0)
    assert res["differences"] == []
    c, e = side_versions(cassandra_session, keyspace, os_search, index)
    assert c == e


def test_writes_during_verify_are_in_flight(cassandra_session, keyspace, os_search, ce_bin, tmp_path,
                                            testbed_env, unique_name):
    n = 20000
    cfg, index = loaded(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env, unique_name, n,
                        direction="to_es", scan_ranges=1000)
    ins = cassandra_session.prepare("INSERT INTO %s.items (id, version, text) VALUES (?, ?, ?)" % keyspace)
    stop = threading.Event()
    written = []

    def writer():
        i = 0
        while not stop.is_set():
            rid = (i * 37) % n if i % 2 else n + i      # updates of synced rows and new rows
            cassandra_session.execute(ins, (rid, now_ms(), "meanwhile"))
            written.append(rid)
            i += 1
            time.sleep(0.002)

    th = threading.Thread(target=writer)
    th.start()
    try:
        time.sleep(0.3)
        res, p = verify(ce_bin, cfg, 0)
    finally:
        stop.set()
        th.join()
    assert written
    assert all(d["in_flight"] for d in res["differences"])
    assert sum(res["counts"].values()) == 0


def test_run_verifies_on_schedule_and_status_reports_it(cassandra_session, keyspace, os_search, ce_bin, tmp_path,
                                                         testbed_env, unique_name):
    cfg, index = loaded(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env, unique_name, 2000,
                        direction="to_es")
    c = json.loads(Path(cfg).read_text())
    c["verify_every"] = "3s"
    Path(cfg).write_text(json.dumps(c))
    outcome = Path(cfg).parent / "casselastic.verify.json"
    proc = subprocess.Popen([str(Path(ce_bin) / "casselastic"), "run", "-c", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not outcome.exists() and proc.poll() is None:
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert outcome.exists(), err[-3000:]
    assert "scheduled verify" in err and "result=equal" in err
    st = json.loads(run_ce(ce_bin, cfg, cmd="status", extra=("--json",)).stdout)
    assert st["syncs"][0]["verify"]["result"] == "equal"
    assert "last verify:" in run_ce(ce_bin, cfg, cmd="status").stdout


def test_exit_codes_bad_config_and_unreachable(cassandra_session, keyspace, os_search, ce_bin, tmp_path,
                                               testbed_env, unique_name):
    cassandra_session.execute("CREATE TABLE %s.kv (a int, b int, version bigint, PRIMARY KEY ((a, b)))" % keyspace)
    index = unique_name("ix")
    os_search.track(index)
    # the _id (id_col a) does not hold the whole partition key: cannot be placed on the ring
    cfg = write_config(tmp_path, testbed_env, os_search.url, [sync_def("s", keyspace, "kv", index, id_col="a")])
    p = run_ce(ce_bin, cfg, cmd="verify", expect=2)
    assert "partition key" in p.stdout + p.stderr
    cfg = write_config(tmp_path, testbed_env, "http://127.0.0.1:1", [sync_def("s", keyspace, "kv", index)])
    run_ce(ce_bin, cfg, cmd="verify", expect=3)
    help_text = run_ce(ce_bin, cfg, cmd="verify", extra=("--help",)).stdout
    assert "Exit 0 when the sides are equal" in help_text and "3 when a server" in help_text


@pytest.mark.parametrize("token_field", [None, "_ce_token"])
def test_records_marked_deleted_count_as_absent(cassandra_session, keyspace, os_search, ce_bin, tmp_path,
                                                testbed_env, unique_name, token_field):
    """deleted_col: a marked record is absent on its side (docs/verify.md); --repair deletes the
    live copy a mark as new or newer stands against."""
    from test_sync_deletes import since
    s, ks, n = cassandra_session, keyspace, 2000
    t0 = now_ms()
    load_rows(s, ks, "items", n, t0 - 86400000 * 5, t0 - 3600000)
    s.execute("ALTER TABLE %s.items ADD deleted boolean" % ks, timeout=60)
    index = unique_name("ix")
    os_search.track(index)
    kw = {"token_field": token_field} if token_field else {}
    cfg = write_config(tmp_path, testbed_env, os_search.url,
                       [sync_def("s", ks, "items", index, read_mode="full_scan", direction="to_es",
                                 deleted_col="deleted", **kw)])
    run_ce(ce_bin, cfg, timeout=120)
    assert os_search.count(index) == n
    t = now_ms() - 600000
    mark = s.prepare("UPDATE %s.items SET deleted = ?, version = ?, source = 'cassandra' WHERE id = ?" % ks)
    # marked in Cassandra, the mark carried over by a pass: the documents are deleted, the rows stay
    for rid in range(0, 10):
        s.execute(mark, (True, t, rid))
    run_ce(ce_bin, cfg, timeout=120, extra=("--since", since(t - 60000)))
    os_search.refresh(index)
    assert os_search.count(index) == n - 10
    # live marks (false) on both sides, same version: equal
    for rid in range(30, 35):
        s.execute(mark, (False, t, rid))
        os_search.c.update(index=index, id=str(rid), body={"doc": {"deleted": False, "version": t}})
    # marked in Elasticsearch (boolean true, with the token field when there is one), no row: absent on both
    for rid in range(40, 45):
        os_search.c.update(index=index, id=str(rid), body={"doc": {"deleted": True, "version": t}})
        s.execute("DELETE FROM %s.items WHERE id = %d" % (ks, rid))
    os_search.refresh(index)
    res, _ = verify(ce_bin, cfg, 0)
    assert res["equal"] and res["differences"] == [], res
    assert res["cassandra_rows"] == n - 10 - 5
    # not counted in the summaries: no range differs (with token_field: the aggregations' live filter)
    assert res["ranges_differing"] == 0
    assert res["es_docs_aggregated" if token_field else "es_docs"] == n - 10 - 5
    # marked in Cassandra while their documents are still in Elasticsearch (planted: indexed again
    # with the driver after the pass, source cassandra, the mark's version)
    planted = range(10, 20)
    for rid in planted:
        s.execute(mark, (True, t, rid))
    os_search.bulk_index(index, {rid: es_doc(rid, t, "cassandra") for rid in planted})
    os_search.refresh(index)
    res, p = verify(ce_bin, cfg, 1)
    got = {d["id"]: (d["kind"], d["fix"]) for d in res["differences"]}
    assert got == {str(rid): ("only_es", "delete_es") for rid in planted}, p.stdout
    assert all(d["marked"] and d["mark_version"] == t for d in res["differences"])
    res, p = verify(ce_bin, cfg, 0, "--repair")
    assert res["fixed"] == 10 and res["fix_failed"] == 0, p.stdout + p.stderr[-3000:]
    res, _ = verify(ce_bin, cfg, 0)
    assert res["differences"] == []
    os_search.refresh(index)
    for rid in planted:
        assert not os_search.c.exists(index=index, id=str(rid))
    rows = {r.id: r.deleted for r in s.execute("SELECT id, deleted FROM %s.items" % ks, timeout=60)}
    assert all(rows[rid] is True for rid in range(0, 20))      # marked rows are never removed
    assert all(os_search.c.exists(index=index, id=str(rid)) for rid in range(40, 45))  # nor marked docs


def test_repair_over_a_fresh_es_delete_is_not_claimed(cassandra_session, keyspace, os_search, ce_bin, tmp_path,
                                                      testbed_env, unique_name):
    """A document removed by a plain DELETE (which raises its version) within index.gc_deletes:
    the copy of its row is refused with a conflict. The repair must not count that as fixed
    (exit 0 would say "equal" while the document is still missing)."""
    n = 50
    cfg, index = loaded(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env, unique_name, n,
                        direction="to_es")
    os_search.c.delete(index=index, id="7", refresh=True)
    res, p = verify(ce_bin, cfg, 1, "--repair")
    assert [(d["id"], d["kind"], d["fix"], d["fixed"]) for d in res["differences"]] == \
        [("7", "only_cassandra", "copy_to_es", False)]
    assert res["fixed"] == 0 and res["fix_failed"] == 1 and not res["equal"]
    assert "index.gc_deletes" in p.stderr
    _, e = side_versions(cassandra_session, keyspace, os_search, index)
    assert "7" not in e and len(e) == n - 1


def test_token_field_that_is_a_column_is_refused(cassandra_session, keyspace, os_search, ce_bin, tmp_path,
                                                 testbed_env, unique_name):
    """token_field naming a column of the table would give each document the field twice:
    `check` (connected), `once` (before its pass) and `verify` refuse it, naming the key."""
    load_rows(cassandra_session, keyspace, "items", 3, now_ms() - 3600000, now_ms() - 60000)
    index = unique_name("ix")
    os_search.track(index)
    cfg = write_config(tmp_path, testbed_env, os_search.url,
                       [sync_def("s", keyspace, "items", index, direction="to_es", token_field="text")])
    p = run_ce(ce_bin, cfg, cmd="check", expect=2)
    assert 'error: syncs[0] (sync s): token_field "text" is a column of the table' in p.stderr, p.stderr
    assert "1 error against the table: configuration refused" in p.stderr, p.stderr
    assert ": refused, 1 sync" in p.stdout and "valid" not in p.stdout, p.stdout  # never "valid" then refused
    p = run_ce(ce_bin, cfg, expect=2)  # once refuses it as check does, before its pass
    assert 'error: syncs[0] (sync s): token_field "text" is a column of the table' in p.stderr, \
        p.stdout + p.stderr[-2000:]
    assert not os_search.exists(index)
    p = run_ce(ce_bin, cfg, cmd="verify", expect=2)  # verify refuses it as a pass does: a bad config
    assert 'token_field "text" is a column of the table' in p.stdout + p.stderr, p.stdout + p.stderr[-2000:]
